#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "domain/records.hpp"
#include "request_bodies.hpp"

namespace omnichat {

// POST /v1/chat/completions, OpenAI's wire format. The messages become a
// completion: leading system (or developer) messages its system prompt, the
// last message (a user's) its question, the rest its history. The model is
// left for the chat service to resolve.
struct ChatCompletionBody {
    std::string model;
    domain::Completion completion;
    bool stream = false;
    bool includeUsage = false;  // stream_options.include_usage
};
// A parameter omnichat cannot honour yet is refused (400
// `unsupported_parameter`) rather than ignored, unless it asks for the
// default; an unknown one is refused as OpenAI refuses it.
BodyOutcome<ChatCompletionBody> parseChatCompletionBody(const nlohmann::json& body);

}  // namespace omnichat
