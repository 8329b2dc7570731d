#include "json_mapping.hpp"

#include <omnichat/json_text.hpp>

#include <charconv>

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

namespace {

using namespace std::literals;

void appendCount(std::string& out, int64_t value) {  // negative: not reported
    if (value < 0) {
        out += "null"sv;
        return;
    }
    char digits[24];
    out.append(digits, static_cast<size_t>(std::to_chars(digits, digits + sizeof digits, value).ptr - digits));
}

void appendMessage(std::string& out, const StoredMessage& m) {
    // Keys in the order nlohmann::json (a sorted map) wrote them.
    bool assistant = m.role == OMNICHAT_ROLE_ASSISTANT;
    // `key` is written with its leading comma and quotes: ,"name":
    auto text = [&out](std::string_view key, std::string_view value) {
        out += key;
        appendJsonString(out, value);
    };
    auto count = [&out](std::string_view key, int64_t value) {
        out += key;
        appendCount(out, value);
    };
    out += '{';
    text("\"content\":", m.content);
    if (assistant) {
        out += ",\"cost\":"sv;
        out += m.cost ? nlohmann::json(*m.cost).dump() : "null";
    }
    out += ",\"created_at\":\""sv;
    appendIsoMillis(out, m.createdAtMs);
    out += '"';
    if (assistant) {
        if (m.finishReason.empty())
            out += ",\"finish_reason\":null"sv;
        else
            text(",\"finish_reason\":", m.finishReason);
    }
    text(",\"id\":", m.id);
    if (assistant) {
        count(",\"latency_ms\":", m.latencyMs);
        text(",\"model\":", m.model);
        text(",\"provider\":", m.provider);
    }
    out += assistant ? ",\"role\":\"assistant\""sv : ",\"role\":\"user\""sv;
    if (assistant) {
        count(",\"usage\":{\"cached_tokens\":", m.cachedTokens);
        count(",\"completion_tokens\":", m.completionTokens);
        count(",\"prompt_tokens\":", m.promptTokens);
        count(",\"reasoning_tokens\":", m.reasoningTokens);
        out += '}';
    }
    out += '}';
}

}  // namespace

std::string historyJson(const HistoryCache::Messages& messages) {
    size_t size = 2;
    for (const auto& m : messages) size += m->content.size() + 320;
    std::string out;
    out.reserve(size);
    out += '[';
    for (size_t i = 0; i < messages.size(); ++i) {
        if (i) out += ',';
        appendMessage(out, *messages[i]);
    }
    out += ']';
    return out;
}

std::string replyJson(const StoredMessage& reply) {
    std::string out;
    out.reserve(reply.content.size() + 128);
    out += "{\"created_at\":\""sv;
    appendIsoMillis(out, reply.createdAtMs);
    out += "\",\"message_id\":"sv;
    appendJsonString(out, reply.id);
    out += ",\"response\":"sv;
    appendJsonString(out, reply.content);
    out += '}';
    return out;
}

}  // namespace omnichat
