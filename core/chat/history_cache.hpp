#pragma once
#include <omnichat/plugin.hpp>

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace omnichat {

// Histories of recently used conversations, held so that a send (or a read
// of a whole history) asks storage only for the messages appended since
// (the storage hook conversation_load_since). An entry is never served on
// its own: every use still reads the conversation from storage, which checks
// the owner and reports the message count, so a deleted, foreign or
// elsewhere-extended conversation is noticed. Bounded by bytes; the least
// recently used entries go first. Thread-safe.
class HistoryCache {
public:
    // Messages are shared, not copied, between the held history, the
    // longer one it becomes and the sends reading either.
    using Message = std::shared_ptr<const StoredMessage>;
    using Messages = std::vector<Message>;
    using History = std::shared_ptr<const Messages>;
    static History historyOf(std::vector<StoredMessage> messages);

    explicit HistoryCache(size_t maxBytes);  // 0: holds nothing

    // `held` (may be null) followed by `added`, the messages storage read
    // after it; null when they do not fit together: storage counts
    // `storedCount` messages, and that is not `held` plus `added`.
    static History extend(const History& held, int64_t storedCount, std::vector<StoredMessage> added);

    // The held history (null when none), now the most recently used.
    History find(const std::string& conversationId);
    // Holds `history`, unless a longer one is held already (histories only
    // grow, so the longer is the newer) or it alone exceeds the bound.
    void keep(const std::string& conversationId, History history);
    void forget(const std::string& conversationId);

    size_t bytes();
    size_t entries();

private:
    struct Entry {
        History history;
        size_t bytes;
        std::list<std::string>::iterator used;
    };
    void evictFor(size_t bytes);
    void drop(std::unordered_map<std::string, Entry>::iterator it);  // with the lock held

    const size_t maxBytes_;
    std::mutex mutex_;
    std::unordered_map<std::string, Entry> entries_;
    std::list<std::string> used_;  // most recently used first
    size_t bytes_ = 0;
};

}  // namespace omnichat
