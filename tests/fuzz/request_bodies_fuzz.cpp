// Fuzzes the JSON bodies clients send: parsing, then every route's checks.
// A body the checks accept must be one the service can store and answer
// with (valid UTF-8, so the JSON it is echoed in can be written).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "api/openai_requests.hpp"
#include "api/request_bodies.hpp"
#include "common/ids.hpp"

namespace {

void require(bool condition) {
    if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace omnichat;
    std::string body(reinterpret_cast<const char*>(data), size);
    auto parsed = parseJsonObject(body, "application/json; charset=utf-8", true);
    if (auto* error = std::get_if<ApiError>(&parsed)) {
        require(error->status == 400 && !error->code.empty());
        return 0;
    }
    const auto& object = std::get<nlohmann::json>(parsed);
    require(object.is_object());

    auto message = parseSendMessageBody(object);
    if (auto* m = std::get_if<SendMessageBody>(&message)) {
        require(isStorableText(m->content));
        nlohmann::json echo = {{"response", m->content}};
        (void)echo.dump();  // throws on invalid UTF-8
    } else {
        require(std::get<ApiError>(message).status == 400);
    }

    auto settings = parseConversationBody(object);
    if (auto* s = std::get_if<domain::ConversationSettings>(&settings)) {
        for (const auto* text : {&s->provider, &s->model, &s->systemPrompt}) require(isStorableText(*text));
        if (s->title) require(isStorableText(*s->title));
    } else {
        require(std::get<ApiError>(settings).status == 400);
    }

    // An accepted completion has a question, text the providers can take,
    // and sampling within OpenAI's ranges.
    auto completion = parseChatCompletionBody(object);
    if (auto* c = std::get_if<ChatCompletionBody>(&completion)) {
        require(!c->model.empty());
        require(isStorableText(c->completion.question) && isStorableText(c->completion.systemPrompt));
        for (const auto& m : c->completion.history) require(isStorableText(m.content));
        if (auto t = c->completion.sampling.temperature) require(*t >= 0 && *t <= 2);
        if (auto n = c->completion.sampling.maxTokens) require(*n >= 1);
    } else {
        require(std::get<ApiError>(completion).status == 400);
    }
    return 0;
}
