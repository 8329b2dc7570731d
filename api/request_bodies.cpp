#include "request_bodies.hpp"

#include <algorithm>
#include <cctype>

#include "common/ids.hpp"

namespace omnichat {
namespace {

constexpr size_t kMaxTitleBytes = 1024;
constexpr size_t kMaxNameBytes = 256;
constexpr size_t kMaxSystemPromptBytes = 64 * 1024;

ApiError badRequest(std::string code, std::string message) { return {400, std::move(code), std::move(message)}; }

}  // namespace

BodyOutcome<nlohmann::json> parseJsonObject(const std::string& body, std::string_view contentType, bool required) {
    if (body.empty() && !required) return nlohmann::json::object();
    std::string mime(contentType);
    std::transform(mime.begin(), mime.end(), mime.begin(), [](unsigned char c) { return std::tolower(c); });
    if (mime.rfind("application/json", 0) != 0)
        return ApiError{415, "unsupported_media_type", "the body must be application/json"};
    auto parsed = nlohmann::json::parse(body, nullptr, false);
    if (parsed.is_discarded()) return badRequest("malformed_json", "the body is not valid JSON (UTF-8)");
    if (!parsed.is_object()) return badRequest("invalid_body", "the body must be a JSON object");
    return parsed;
}

BodyOutcome<SendMessageBody> parseSendMessageBody(const nlohmann::json& body) {
    SendMessageBody out;
    auto it = body.find("content");
    if (it == body.end() || it->is_null()) return badRequest("missing_content", "content is required");
    if (!it->is_string()) return badRequest("invalid_content", "content must be a string");
    out.content = it->get<std::string>();
    if (out.content.find_first_not_of(" \t\r\n") == std::string::npos)
        return badRequest("empty_content", "content must not be empty");
    if (!isStorableText(out.content))
        return badRequest("invalid_content", "content must be UTF-8 text without NUL characters");
    if (auto s = body.find("stream"); s != body.end() && !s->is_null()) {
        if (!s->is_boolean()) return badRequest("invalid_stream", "stream must be true or false");
        out.stream = s->get<bool>();
    }
    return out;
}

BodyOutcome<domain::ConversationSettings> parseConversationBody(const nlohmann::json& body) {
    domain::ConversationSettings settings;
    // Each optional text field: absent or null leaves the default.
    struct Field {
        const char* name;
        size_t maxBytes;
        std::string* into;
    };
    std::string title;
    for (auto f : {Field{"title", kMaxTitleBytes, &title}, Field{"provider", kMaxNameBytes, &settings.provider},
                   Field{"model", kMaxNameBytes, &settings.model},
                   Field{"system_prompt", kMaxSystemPromptBytes, &settings.systemPrompt}}) {
        auto it = body.find(f.name);
        if (it == body.end() || it->is_null()) continue;
        const auto* text = it->get_ptr<const std::string*>();
        if (!text || text->size() > f.maxBytes || !isStorableText(*text))
            return badRequest(std::string("invalid_") + f.name, std::string(f.name) + " must be text of at most " +
                                                                    std::to_string(f.maxBytes) + " bytes");
        *f.into = *text;
    }
    if (auto it = body.find("title"); it != body.end() && !it->is_null()) settings.title = title;
    return settings;
}

}  // namespace omnichat
