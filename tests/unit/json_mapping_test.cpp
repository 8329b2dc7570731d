// The history's and a reply's JSON text, written by hand for speed, against what
// nlohmann::json writes for the same document.
#include "api/json_mapping.hpp"

#include <gtest/gtest.h>

#include "common/ids.hpp"

namespace omnichat {
namespace {

nlohmann::json documented(const domain::StoredMessage& m) {
    nlohmann::json j = {{"id", m.id},
                        {"role", m.role == OMNICHAT_ROLE_ASSISTANT ? "assistant" : "user"},
                        {"content", m.content},
                        {"created_at", formatIsoMillis(m.createdAtMs)}};
    if (m.role != OMNICHAT_ROLE_ASSISTANT) return j;
    auto count = [](int64_t v) { return v < 0 ? nlohmann::json(nullptr) : nlohmann::json(v); };
    j["provider"] = m.provider;
    j["model"] = m.model;
    j["finish_reason"] = m.finishReason.empty() ? nlohmann::json(nullptr) : nlohmann::json(m.finishReason);
    j["usage"] = {{"prompt_tokens", count(m.usage.promptTokens)},
                  {"completion_tokens", count(m.usage.completionTokens)},
                  {"cached_tokens", count(m.usage.cachedTokens)},
                  {"reasoning_tokens", count(m.usage.reasoningTokens)}};
    j["cost"] = m.usage.cost ? nlohmann::json(*m.usage.cost) : nlohmann::json(nullptr);
    j["latency_ms"] = count(m.latencyMs);
    return j;
}

TEST(HistoryJson, MatchesTheDocumentByteForByte) {
    std::string every;
    for (int c = 0; c < 128; ++c) every += static_cast<char>(c);
    every += "h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9D\x84\x9E \"quoted\" back\\slash";
    domain::StoredMessage user;
    user.id = newUuid();
    user.content = every;
    user.createdAtMs = 1795724326064;
    domain::StoredMessage reply = user;
    reply.id = newUuid();
    reply.role = OMNICHAT_ROLE_ASSISTANT;
    reply.content = "plain";
    reply.provider = "openrouter";
    reply.model = "openai/gpt-4o-mini";
    reply.finishReason = "stop";
    reply.usage.promptTokens = 20;
    reply.usage.completionTokens = 6;
    reply.latencyMs = 0;
    reply.usage.cost = 0.000123;
    domain::StoredMessage unreported = reply;  // nothing but the text
    unreported.finishReason.clear();
    unreported.usage.promptTokens = unreported.usage.completionTokens = unreported.latencyMs = -1;
    unreported.usage.cost.reset();

    EXPECT_EQ(historyJson({}), "[]");
    auto expected = nlohmann::json::array({documented(user), documented(reply), documented(unreported)});
    EXPECT_EQ(historyJson(*HistoryCache::historyOf({user, reply, unreported})), expected.dump());
}

TEST(ReplyJson, MatchesTheDocumentByteForByte) {
    domain::StoredMessage reply;
    reply.id = newUuid();
    reply.role = OMNICHAT_ROLE_ASSISTANT;
    for (int c = 0; c < 128; ++c) reply.content += static_cast<char>(c);
    reply.content += "h\xC3\xA9llo \xF0\x9D\x84\x9E";
    reply.createdAtMs = 1795724326064;
    nlohmann::json expected = {
        {"message_id", reply.id}, {"response", reply.content}, {"created_at", formatIsoMillis(reply.createdAtMs)}};
    EXPECT_EQ(replyJson(reply), expected.dump());
}

}  // namespace
}  // namespace omnichat
