#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>

#include "chat/chat_service.hpp"
#include "responder.hpp"

namespace omnichat {

// The JSON bodies clients send, read and validated apart from HTTP so the
// same code is what the routes run, the unit tests check and the fuzzer
// feeds. A body is either what the route needs or the error to answer.
template <class T>
using BodyOutcome = std::variant<T, ApiError>;

// The body as a JSON object. `contentType` is the header's value (empty
// when absent); an empty body is an empty object unless `required`.
BodyOutcome<nlohmann::json> parseJsonObject(const std::string& body, std::string_view contentType, bool required);

// POST /conversations/{id}/messages
struct SendMessageBody {
    std::string content;  // UTF-8 without NUL, not only whitespace
    bool stream = false;
};
BodyOutcome<SendMessageBody> parseSendMessageBody(const nlohmann::json& body);

// POST /conversations: title, provider, model and system_prompt, each
// optional text with a size limit. Whether the provider and model are
// allowed is the chat service's to say.
BodyOutcome<domain::ConversationSettings> parseConversationBody(const nlohmann::json& body);

}  // namespace omnichat
