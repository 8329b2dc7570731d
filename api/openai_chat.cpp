// Routes of OpenAI's chat completions API, stateless: POST
// /v1/chat/completions and GET /v1/models. The OpenAI client libraries work
// against them by changing their base URL; their API key is the JWT.
#include <omnichat/json_text.hpp>

#include "chat/chat_service.hpp"
#include "common/ids.hpp"
#include "openai_requests.hpp"
#include "routes.hpp"
#include "sse_response.hpp"

namespace omnichat {
namespace {

nlohmann::json usageJson(const domain::Usage& usage) {
    const int64_t prompt = std::max<int64_t>(0, usage.promptTokens);
    const int64_t completion = std::max<int64_t>(0, usage.completionTokens);
    return {{"prompt_tokens", prompt}, {"completion_tokens", completion}, {"total_tokens", prompt + completion}};
}

std::string finishReason(const domain::StoredMessage& reply) {
    return reply.finishReason.empty() ? "stop" : reply.finishReason;
}

// What a completion answers as its model: the name the client asked for,
// unless a fallback answered.
struct Naming {
    std::string requested;
    std::string provider;  // the requested name's instance
    std::string of(const domain::StoredMessage& reply) const {
        return reply.provider == provider ? requested : reply.provider + "/" + reply.model;
    }
};

// OpenAI's chat.completion.chunk events, ending with `data: [DONE]`.
class CompletionChunks : public SseEvents {
public:
    CompletionChunks(std::string id, int64_t created, Naming naming, bool includeUsage)
        : id_(std::move(id)), created_(created), naming_(std::move(naming)), includeUsage_(includeUsage) {}

    std::string delta(std::string_view text) override {
        std::string delta = first_ ? "{\"role\":\"assistant\",\"content\":" : "{\"content\":";
        first_ = false;
        appendJsonString(delta, text);
        delta += '}';
        return event(naming_.requested, "[{\"index\":0,\"delta\":" + delta + ",\"finish_reason\":null}]", "null");
    }
    std::string done(const domain::StoredMessage& reply) override {
        const std::string model = naming_.of(reply);
        std::string end = event(
            model, "[{\"index\":0,\"delta\":{},\"finish_reason\":" + nlohmann::json(finishReason(reply)).dump() + "}]",
            "null");
        if (includeUsage_) end += event(model, "[]", usageJson(reply.usage).dump());
        return end + "data: [DONE]\n\n";
    }
    std::string error(const std::string& body) override { return "data: " + body + "\n\n"; }

private:
    std::string event(const std::string& model, const std::string& choices, const std::string& usage) const {
        std::string out = "data: {\"id\":\"" + id_ +
                          "\",\"object\":\"chat.completion.chunk\",\"created\":" + std::to_string(created_) +
                          ",\"model\":";
        appendJsonString(out, model);
        out += ",\"choices\":" + choices;
        if (includeUsage_) out += ",\"usage\":" + usage;
        return out + "}\n\n";
    }

    const std::string id_;
    const int64_t created_;
    const Naming naming_;
    const bool includeUsage_;
    bool first_ = true;
};

std::string completionJson(const std::string& id, int64_t created, const Naming& naming,
                           const domain::StoredMessage& reply) {
    return nlohmann::json{{"id", id},
                          {"object", "chat.completion"},
                          {"created", created},
                          {"model", naming.of(reply)},
                          {"choices",
                           {{{"index", 0},
                             {"message", {{"role", "assistant"}, {"content", reply.content}, {"refusal", nullptr}}},
                             {"logprobs", nullptr},
                             {"finish_reason", finishReason(reply)}}}},
                          {"usage", usageJson(reply.usage)}}
        .dump();
}

}  // namespace

void chatCompletions(RouteContext& ctx) {
    auto body = readJsonObject(ctx, true);
    if (!body) return;
    auto parsed = parseChatCompletionBody(*body);
    if (auto* e = std::get_if<ApiError>(&parsed)) return ctx.respond->error(e->status, e->code, e->message);
    auto& request = std::get<ChatCompletionBody>(parsed);
    auto route = ctx.chat.resolveModel(request.model);
    if (!route)
        return ctx.respond->error(404, "model_not_found",
                                  "the model '" + request.model + "' does not exist or you do not have access to it");
    request.completion.route = *route;

    const std::string id = "chatcmpl-" + newUuid();
    const int64_t created = nowUnixMs() / 1000;
    Naming naming{request.model, route->provider};
    auto respond = ctx.respond;
    std::shared_ptr<SseResponse> sse;
    std::shared_ptr<void> streamSlot;
    if (request.stream) {
        streamSlot = ctx.server.limiter.openStream(ctx.userId);
        if (!streamSlot) return ctx.respond->error(429, "too_many_streams", "too many streams open at once", 1);
        sse = std::make_shared<SseResponse>(
            respond, ctx.timer, ctx.config.heartbeatMs,
            std::make_unique<CompletionChunks>(id, created, naming, request.includeUsage));
    }
    auto reply = [respond, sse, streamSlot, id, created, naming](domain::Outcome<domain::StoredMessage> out) mutable {
        streamSlot.reset();
        if (sse) return sse->complete(out);
        if (auto* f = std::get_if<domain::Failure>(&out)) return respond->failure(*f);
        respond->json(200, completionJson(id, created, naming, std::get<domain::StoredMessage>(out)));
    };
    if (!ctx.chat.complete(ctx.userId, std::move(request.completion), sse, std::move(reply), respond->goneCheck()))
        overloaded(ctx);
}

// The default instance's models by their bare names, the others' as
// `instance/model`, then the aliases: every listed id is one a completion
// accepts.
void listModels(RouteContext& ctx) {
    nlohmann::json data = nlohmann::json::array();
    for (const auto& route : ctx.chat.models()) {
        const bool bare = route.provider == ctx.config.defaultProvider;
        data.push_back({{"id", bare ? route.model : route.provider + "/" + route.model},
                        {"object", "model"},
                        {"created", 0},
                        {"owned_by", route.provider}});
    }
    for (const auto& [alias, route] : ctx.chat.modelAliases())
        data.push_back({{"id", alias}, {"object", "model"}, {"created", 0}, {"owned_by", route.provider}});
    ctx.respond->json(200, nlohmann::json{{"object", "list"}, {"data", data}}.dump());
}

}  // namespace omnichat
