// Fuzzes the JSON bodies clients send: parsing, then both routes' checks.
// A body the checks accept must be one the service can store and answer
// with (valid UTF-8, so the JSON it is echoed in can be written).
#include <cstdint>
#include <cstdlib>
#include <string>

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
    return 0;
}
