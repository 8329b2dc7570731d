// The records that cross the ABI, as C++ values: chat messages, a reply's
// result and usage, conversations and stored messages, with their
// conversions to and from the C structs (fields an older peer's struct lacks
// read as their defaults).
#pragma once

#include <omnichat/basics.hpp>

#include <optional>
#include <string>

namespace omnichat {

struct Message {
    omnichat_role_t role;
    std::string content;
};

struct Usage {
    int64_t promptTokens = -1;
    int64_t completionTokens = -1;
    int64_t cachedTokens = -1;
    int64_t reasoningTokens = -1;
    std::optional<double> cost;
};

struct ChatResult {
    std::string finishReason = "stop";
    std::string model;
    Usage usage;
};

struct Conversation {
    std::string id, projectId, userId;
    std::optional<std::string> title;
    int64_t createdAtMs = 0, updatedAtMs = 0;
    std::string provider, model, systemPrompt;  // empty: the service's defaults
    int64_t messageCount = 0, promptTokens = 0, completionTokens = 0;
    double cost = 0;
};

struct StoredMessage {
    std::string id, conversationId;
    omnichat_role_t role = OMNICHAT_ROLE_USER;
    std::string content;
    int64_t createdAtMs = 0;
    std::string provider, model, finishReason;
    int64_t promptTokens = -1, completionTokens = -1, latencyMs = -1;
    int64_t cachedTokens = -1, reasoningTokens = -1;
    std::optional<double> cost;
};

inline Conversation fromC(const omnichat_conversation_t& c) {
    Conversation out;
    out.id = std::string(view(c.id));
    out.projectId = std::string(view(c.project_id));
    out.userId = std::string(view(c.user_id));
    out.createdAtMs = c.created_at_ms;
    out.updatedAtMs = c.updated_at_ms;
    if (c.has_title) out.title = std::string(view(c.title));
    if (OMNICHAT_HOLDS(c, cost)) {
        out.provider = std::string(view(c.provider));
        out.model = std::string(view(c.model));
        out.systemPrompt = std::string(view(c.system_prompt));
        out.messageCount = c.message_count;
        out.promptTokens = c.prompt_tokens;
        out.completionTokens = c.completion_tokens;
        out.cost = c.cost;
    }
    return out;
}

inline omnichat_conversation_t toC(const Conversation& c) {
    omnichat_conversation_t out{};
    out.struct_size = sizeof out;
    out.id = toC(c.id);
    out.project_id = toC(c.projectId);
    out.user_id = toC(c.userId);
    out.has_title = c.title.has_value();
    if (c.title) out.title = toC(*c.title);
    out.created_at_ms = c.createdAtMs;
    out.updated_at_ms = c.updatedAtMs;
    out.provider = toC(c.provider);
    out.model = toC(c.model);
    out.system_prompt = toC(c.systemPrompt);
    out.message_count = c.messageCount;
    out.prompt_tokens = c.promptTokens;
    out.completion_tokens = c.completionTokens;
    out.cost = c.cost;
    return out;
}

inline StoredMessage fromC(const omnichat_stored_message_t& m) {
    StoredMessage out;
    out.id = std::string(view(m.id));
    out.conversationId = std::string(view(m.conversation_id));
    out.role = m.role;
    out.content = std::string(view(m.content));
    out.createdAtMs = m.created_at_ms;
    out.provider = std::string(view(m.provider));
    out.model = std::string(view(m.model));
    out.finishReason = std::string(view(m.finish_reason));
    out.promptTokens = m.prompt_tokens;
    out.completionTokens = m.completion_tokens;
    out.latencyMs = m.latency_ms;
    if (OMNICHAT_HOLDS(m, cost)) {
        out.cachedTokens = m.cached_tokens;
        out.reasoningTokens = m.reasoning_tokens;
        if (m.has_cost) out.cost = m.cost;
    }
    return out;
}

inline omnichat_stored_message_t toC(const StoredMessage& m) {
    omnichat_stored_message_t out{};
    out.struct_size = sizeof out;
    out.id = toC(m.id);
    out.conversation_id = toC(m.conversationId);
    out.role = m.role;
    out.content = toC(m.content);
    out.created_at_ms = m.createdAtMs;
    out.provider = toC(m.provider);
    out.model = toC(m.model);
    out.finish_reason = toC(m.finishReason);
    out.prompt_tokens = m.promptTokens;
    out.completion_tokens = m.completionTokens;
    out.latency_ms = m.latencyMs;
    out.cached_tokens = m.cachedTokens;
    out.reasoning_tokens = m.reasoningTokens;
    out.has_cost = m.cost.has_value();
    out.cost = m.cost.value_or(0.0);
    return out;
}

}  // namespace omnichat
