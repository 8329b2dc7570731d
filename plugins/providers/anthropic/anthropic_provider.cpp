// Anthropic's Messages API (POST {base_url}/v1/messages). Built as a third
// party builds a plugin, against the installed SDK alone: its helpers do the
// HTTP exchange, the event stream, the JSON, the errors and cancellation.
#include <omnichat/json_reader.hpp>
#include <omnichat/json_text.hpp>
#include <omnichat/plugin.hpp>

#include <algorithm>

namespace {

const omnichat_option_t kOptions[] = {
    omnichat::option("api_key", OMNICHAT_OPTION_SECRET, nullptr, true, "API key.", "ANTHROPIC_API_KEY"),
    omnichat::option("base_url", OMNICHAT_OPTION_STRING, "https://api.anthropic.com", false, "Base URL of the API.",
                     "ANTHROPIC_BASE_URL"),
    omnichat::option("model", OMNICHAT_OPTION_STRING, "claude-3-5-haiku-latest", false,
                     "Model used when the chat configuration names none."),
    omnichat::option("max_tokens", OMNICHAT_OPTION_INT, "1024", false,
                     "Longest reply when the request sets none (the API requires a limit)."),
    omnichat::option("connect_timeout_ms", OMNICHAT_OPTION_INT, "10000", false, "Connection timeout."),
    omnichat::option("timeout_ms", OMNICHAT_OPTION_INT, "120000", false, "Timeout of a whole request."),
};

// The category of an error body's or error event's `error.type`; types it
// does not know go by the HTTP status (`status` 0: none, as in a stream).
omnichat_status_t categoryOf(std::string_view type, int32_t status) {
    if (type == "rate_limit_error") return OMNICHAT_ERR_RATE_LIMITED;
    if (type == "authentication_error" || type == "permission_error") return OMNICHAT_ERR_AUTH;
    if (type == "invalid_request_error" || type == "not_found_error" || type == "request_too_large")
        return OMNICHAT_ERR_BAD_REQUEST;
    return status ? omnichat::categoryForHttpStatus(status) : OMNICHAT_ERR_UPSTREAM;
}

// Anthropic's stop reasons in the names clients know from OpenAI.
std::string finishReason(std::string_view reason) {
    if (reason == "end_turn" || reason == "stop_sequence" || reason.empty()) return "stop";
    if (reason == "max_tokens") return "length";
    return std::string(reason);
}

void readUsage(const omnichat::JsonValue& usage, omnichat::Usage& out) {
    if (auto n = usage["input_tokens"].integer()) out.promptTokens = *n;
    if (auto n = usage["cache_read_input_tokens"].integer()) out.cachedTokens = *n;
    if (auto n = usage["output_tokens"].integer()) out.completionTokens = *n;
}

void onEvent(omnichat::UpstreamCall& c, const omnichat::SseEvent& e) {
    auto event = omnichat::JsonValue::parse(e.data);
    if (!event) return c.fail(OMNICHAT_ERR_BAD_RESPONSE, "an event is not JSON");
    const auto type = (*event)["type"].text(e.event);
    if (type == "message_start") {
        c.result().model = std::string((*event)["message"]["model"].text(c.result().model));
        readUsage((*event)["message"]["usage"], c.result().usage);
    } else if (type == "content_block_delta" && (*event)["delta"]["type"].text() == "text_delta") {
        c.emit((*event)["delta"]["text"].text());
    } else if (type == "message_delta") {
        c.result().finishReason = finishReason((*event)["delta"]["stop_reason"].text());
        readUsage((*event)["usage"], c.result().usage);
    } else if (type == "message_stop") {
        c.complete();
    } else if (type == "error") {
        const auto kind = (*event)["error"]["type"].text();
        const int32_t status = kind == "overloaded_error" ? 529 : kind == "api_error" ? 500 : 0;
        c.fail(categoryOf(kind, status), "stream error " + std::string(kind), status);
    }
}

// A whole message, from a server that answered without streaming.
void onBody(omnichat::UpstreamCall& c, std::string_view body) {
    auto message = omnichat::JsonValue::parse(body);
    if (!message || (*message)["type"].text() != "message") return;
    std::string text;
    for (const auto& block : (*message)["content"].items())
        if (block["type"].text() == "text") text += block["text"].text();
    c.result().model = std::string((*message)["model"].text(c.result().model));
    c.result().finishReason = finishReason((*message)["stop_reason"].text());
    readUsage((*message)["usage"], c.result().usage);
    if (c.emit(text)) c.complete();
}

void onError(omnichat::UpstreamCall& c, int32_t status, std::string_view body) {
    auto error = omnichat::JsonValue::parse(body);
    const auto type = error ? (*error)["error"]["type"].text() : std::string_view();
    c.fail(categoryOf(type, status), "HTTP " + std::to_string(status) + " " + std::string(type), status,
           c.retryAfter());
}

class AnthropicProvider : public omnichat::Provider {
public:
    explicit AnthropicProvider(const omnichat::Host& host)
        : Provider(host),
          apiKey_(host.option("api_key", "")),
          baseUrl_(host.option("base_url", "")),
          model_(host.option("model", "")),
          maxTokens_(host.intOption("max_tokens", 1024)),
          connectTimeoutMs_(host.intOption("connect_timeout_ms", 10000)),
          timeoutMs_(host.intOption("timeout_ms", 120000)) {
        while (!baseUrl_.empty() && baseUrl_.back() == '/') baseUrl_.pop_back();
    }

    void startChatInPlace(const omnichat::ChatRequestView& request, std::shared_ptr<omnichat::Call> call) override {
        omnichat::HttpRequest http;
        http.url = baseUrl_ + "/v1/messages";
        http.headers = {{"x-api-key", apiKey_},
                        {"anthropic-version", "2023-06-01"},
                        {"content-type", "application/json"},
                        {"accept", "text/event-stream"}};
        http.body = body(request);
        http.connectTimeoutMs = request.connectTimeoutMs() > 0 ? request.connectTimeoutMs() : connectTimeoutMs_;
        http.totalTimeoutMs = timeoutMs_;
        if (request.deadlineUnixMs() > 0)
            http.totalTimeoutMs = std::clamp<int64_t>(request.deadlineUnixMs() - host().nowUnixMs(), 1, timeoutMs_);
        callUpstream(std::move(call), http, {onEvent, onBody, nullptr, onError});
    }

private:
    // System prompts go on their own; the rest keep their order.
    std::string body(const omnichat::ChatRequestView& request) const {
        std::string system, messages;
        for (size_t i = 0; i < request.messageCount(); ++i) {
            if (request.role(i) == OMNICHAT_ROLE_SYSTEM) {
                system += (system.empty() ? "" : "\n\n") + std::string(request.content(i));
                continue;
            }
            messages += messages.empty() ? "{\"role\":" : ",{\"role\":";
            messages += request.role(i) == OMNICHAT_ROLE_ASSISTANT ? "\"assistant\"" : "\"user\"";
            messages += ",\"content\":";
            omnichat::appendJsonString(messages, request.content(i));
            messages += '}';
        }
        std::string out = "{\"model\":";
        omnichat::appendJsonString(out, request.model().empty() ? std::string_view(model_) : request.model());
        out += ",\"max_tokens\":" + std::to_string(request.maxTokens().value_or(maxTokens_));
        if (!system.empty()) {
            out += ",\"system\":";
            omnichat::appendJsonString(out, system);
        }
        if (auto t = request.temperature()) {
            out += ",\"temperature\":";
            omnichat::appendJsonNumber(out, *t);
        }
        if (auto p = request.topP()) {
            out += ",\"top_p\":";
            omnichat::appendJsonNumber(out, *p);
        }
        for (size_t i = 0; i < request.stopCount(); ++i) {
            out += i ? "," : ",\"stop_sequences\":[";
            omnichat::appendJsonString(out, request.stop(i));
            if (i + 1 == request.stopCount()) out += ']';
        }
        return out + ",\"stream\":true,\"messages\":[" + messages + "]}";
    }

    std::string apiKey_, baseUrl_, model_;
    int64_t maxTokens_, connectTimeoutMs_, timeoutMs_;
};

}  // namespace

OMNICHAT_PROVIDER_PLUGIN(AnthropicProvider, "anthropic", "1.0.0", kOptions)
