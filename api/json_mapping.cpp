#include "json_mapping.hpp"

#include <omnichat/json_text.hpp>

#include <charconv>
#include <cstdint>

#include "common/ids.hpp"

namespace omnichat {

nlohmann::json toJson(const domain::Conversation& c) {
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

// A message's keys after its content (written first: keys are in the order
// nlohmann::json, a sorted map, wrote them), and its closing brace.
void appendMessageRest(std::string& out, const domain::StoredMessage& m) {
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
    if (assistant) {
        out += ",\"cost\":"sv;
        out += m.usage.cost ? nlohmann::json(*m.usage.cost).dump() : "null";
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
        count(",\"usage\":{\"cached_tokens\":", m.usage.cachedTokens);
        count(",\"completion_tokens\":", m.usage.completionTokens);
        count(",\"prompt_tokens\":", m.usage.promptTokens);
        count(",\"reasoning_tokens\":", m.usage.reasoningTokens);
        out += '}';
    }
    out += '}';
}

}  // namespace

JsonPieces jsonArrayPieces(size_t count, std::function<void(std::string&, size_t)> append, size_t pieceBytes) {
    return [count, append = std::move(append), pieceBytes, next = size_t{0}](std::string& out) mutable {
        if (next == 0) out += '[';
        while (next < count && out.size() < pieceBytes) {
            if (next) out += ',';
            append(out, next++);
        }
        if (next < count) return true;
        out += ']';
        return false;
    };
}

JsonPieces historyJsonPieces(HistoryCache::History history, size_t pieceBytes) {
    // Where the writing stands: a message, and within its content (a long
    // one is cut across pieces).
    struct At {
        size_t message = 0, offset = 0;
        bool opened = false, inContent = false;
    };
    return [history = std::move(history), pieceBytes, at = At{}](std::string& out) mutable {
        const auto& all = *history;
        if (!at.opened) {
            out += '[';
            at.opened = true;
        }
        while (at.message < all.size() && out.size() < pieceBytes) {
            const auto& m = *all[at.message];
            if (!at.inContent) {
                if (at.message) out += ',';
                out += "{\"content\":\""sv;
                at.inContent = true;
                at.offset = 0;
            }
            size_t take = std::min(m.content.size() - at.offset, pieceBytes - std::min(pieceBytes, out.size()));
            appendJsonStringContents(out, std::string_view(m.content).substr(at.offset, take));
            at.offset += take;
            if (at.offset < m.content.size()) continue;
            out += '"';
            appendMessageRest(out, m);
            at.inContent = false;
            ++at.message;
        }
        if (at.message < all.size()) return true;
        out += ']';
        return false;
    };
}

std::string historyJson(const HistoryCache::Messages& messages) {
    std::string out;
    auto pieces = historyJsonPieces(std::make_shared<const HistoryCache::Messages>(messages), SIZE_MAX);
    while (pieces(out)) {
    }
    return out;
}

std::string replyJson(const domain::StoredMessage& reply) {
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
