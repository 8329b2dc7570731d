#include "json_mapping.hpp"

#include "common/ids.hpp"

namespace omnichat {

nlohmann::json toJson(const Conversation& c) {
    nlohmann::json j = {{"id", c.id},
                        {"project_id", c.projectId},
                        {"user_id", c.userId},
                        {"title", c.title ? nlohmann::json(*c.title) : nlohmann::json(nullptr)},
                        {"created_at", formatIsoMillis(c.createdAtMs)},
                        {"updated_at", formatIsoMillis(c.updatedAtMs)}};
    auto orNull = [](const std::string& v) { return v.empty() ? nlohmann::json(nullptr) : nlohmann::json(v); };
    j["provider"] = orNull(c.provider);
    j["model"] = orNull(c.model);
    j["system_prompt"] = orNull(c.systemPrompt);
    j["totals"] = {{"messages", c.messageCount},
                   {"prompt_tokens", c.promptTokens},
                   {"completion_tokens", c.completionTokens},
                   {"cost", c.cost}};
    return j;
}

nlohmann::json toJson(const StoredMessage& m) {
    nlohmann::json j = {{"id", m.id},
                        {"role", m.role == OMNICHAT_ROLE_ASSISTANT ? "assistant" : "user"},
                        {"content", m.content},
                        {"created_at", formatIsoMillis(m.createdAtMs)}};
    if (m.role == OMNICHAT_ROLE_ASSISTANT) {
        j["provider"] = m.provider;
        j["model"] = m.model;
        j["finish_reason"] = m.finishReason.empty() ? nlohmann::json(nullptr) : nlohmann::json(m.finishReason);
        auto tokens = [](int64_t v) { return v < 0 ? nlohmann::json(nullptr) : nlohmann::json(v); };
        j["usage"] = {{"prompt_tokens", tokens(m.promptTokens)},
                      {"completion_tokens", tokens(m.completionTokens)},
                      {"cached_tokens", tokens(m.cachedTokens)},
                      {"reasoning_tokens", tokens(m.reasoningTokens)}};
        j["cost"] = m.cost ? nlohmann::json(*m.cost) : nlohmann::json(nullptr);
        j["latency_ms"] = tokens(m.latencyMs);
    }
    return j;
}

}  // namespace omnichat
