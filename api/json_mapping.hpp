#pragma once
#include <omnichat/plugin.hpp>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chat/history_cache.hpp"

namespace omnichat {

nlohmann::json toJson(const Conversation& c);
// A history as a JSON array, written as text directly: it is the most read
// answer, and building it as an nlohmann document (a std::map per message,
// escaping a character at a time) was about half of its CPU.
std::string historyJson(const HistoryCache::Messages& messages);
// The answer to a send that did not stream, written as text for the same
// reason: {"created_at", "message_id", "response"}.
std::string replyJson(const StoredMessage& reply);

}  // namespace omnichat
