#pragma once
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chat/history_cache.hpp"
#include "domain/records.hpp"

namespace omnichat {

// A piece of a long JSON answer: large enough that a piece costs one
// write, small enough that slow readers hold little.
constexpr size_t kJsonPieceBytes = 64 * 1024;

nlohmann::json toJson(const domain::Conversation& c);
// A JSON body made a piece at a time (see Responder::jsonPieces): appends
// the next piece, returns false after the last.
using JsonPieces = std::function<bool(std::string&)>;
// A JSON array of `count` items, `append` writing item i; each piece but
// the last holds at least `pieceBytes`.
JsonPieces jsonArrayPieces(size_t count, std::function<void(std::string&, size_t)> append,
                           size_t pieceBytes = kJsonPieceBytes);
// A history as a JSON array, written as text directly: it is the most read
// answer, and building it as an nlohmann document (a std::map per message,
// escaping a character at a time) was about half of its CPU. In pieces, so a
// client reading a long history slowly holds one piece, not a copy of all
// of it.
JsonPieces historyJsonPieces(HistoryCache::History history, size_t pieceBytes = kJsonPieceBytes);
std::string historyJson(const HistoryCache::Messages& messages);  // whole
// The answer to a send that did not stream, written as text for the same
// reason: {"created_at", "message_id", "response"}.
std::string replyJson(const domain::StoredMessage& reply);

}  // namespace omnichat
