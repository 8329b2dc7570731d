#pragma once
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "domain/records.hpp"

namespace omnichat {

// Histories of recently used conversations, with the conversation they
// belong to, held so that a send (or a read of a whole history) asks storage
// only for the messages appended since (the storage hook
// conversation_load_since). An entry is never served on its own: every use
// still asks storage, so a deleted, foreign or elsewhere-extended
// conversation is noticed. A read of the history, or a streamed send, reads
// the conversation (which checks the owner and reports the message count);
// a send may start its provider call from an entry meanwhile. A send without
// a stream asks only at its append, which storage refuses when the history
// is no longer the entry's (see ChatService::sendMessage). Bounded by bytes;
// the least recently used entries go first, except those a send or a read
// still holds: dropping one frees nothing while they run, and makes the
// conversation's next send read its whole history and hold a copy of its
// own. Measured (scripts/bench/run.sh --moonshot, 10,000 in flight over
// more histories than the bound): peak RSS 484 MB with this pass against
// 649 MB without. While every entry is held so, the cache exceeds its bound
// by histories in memory anyway.
// Thread-safe.
class HistoryCache {
public:
    // Messages are shared, not copied, between the held history, the
    // longer one it becomes and the sends reading either.
    using Message = std::shared_ptr<const domain::StoredMessage>;
    using Messages = std::vector<Message>;
    using History = std::shared_ptr<const Messages>;
    static History historyOf(std::vector<domain::StoredMessage> messages);

    explicit HistoryCache(size_t maxBytes);  // 0: holds nothing

    // `held` (may be null) followed by `added`, the messages storage read
    // after it; null when they do not fit together: storage counts
    // `storedCount` messages, and that is not `held` plus `added`.
    static History extend(const History& held, int64_t storedCount, std::vector<domain::StoredMessage> added);

    struct Held {
        std::shared_ptr<const domain::Conversation> conversation;
        History history;
        // Storage held another history than this host did, lately: its sends
        // read storage before they append (another host may write it).
        bool shared;
    };

    // The held history (null when none), now the most recently used.
    History find(const std::string& conversationId);
    // The conversation as storage last reported it, with the history it most
    // likely has now: the held one, and the exchanges this host appended to
    // it since (unconfirmed: for a send to start from while storage
    // confirms). None when this host's sends appended in an unknown order.
    std::optional<Held> held(const std::string& conversationId);
    // Holds `history` of `conversation`, unless a longer one is held already
    // (histories only grow, so the longer is the newer) or it alone exceeds
    // the bound.
    void keep(std::shared_ptr<const domain::Conversation> conversation, History history);
    // Storage did not hold the history held() offered: the conversation is
    // shared from now on, and held() offers none until keep().
    void changed(const std::string& conversationId);
    // This host appended `user` and `reply` to the conversation after reading
    // `base`: when that is the history held, what held() offers grows by them;
    // otherwise held() offers none until keep() holds a history read anew.
    void appended(const std::string& conversationId, const Messages& base, Message user, Message reply);
    void forget(const std::string& conversationId);
    // Storage found no conversation `conversationId` of `userId`: forgets it
    // unless it is held for another user. A stranger's request says nothing
    // of the owner's conversation, and must not cost the owner a whole read.
    void forgetIfOwnedBy(const std::string& conversationId, const std::string& userId);

    size_t bytes();
    size_t entries();

    // Whether two histories hold the same messages (by id).
    static bool sameMessages(const Messages& a, const Messages& b);
    // Whether `history` begins with the messages of `start` (by id).
    static bool startsWith(const Messages& history, const Messages& start);

private:
    struct Entry;
    // The map's element: its address stays while it is held (rehashing
    // moves no element), so the recency list points at it.
    using Node = std::pair<const std::string, Entry>;
    struct Entry {
        Held held;
        History likely;      // held.history and this host's appends since
        size_t likelyBytes;  // what `likely` adds to `bytes`
        bool unsure;         // this host's appends since are not known in order
        size_t bytes;
        std::list<Node*>::iterator used;
    };
    Entry* use(const std::string& conversationId);  // null when none; with the lock held
    static bool inUse(const Entry& entry);
    void evictFor(size_t bytes);
    void forgetLikely(Entry& entry);                                 // with the lock held
    void drop(std::unordered_map<std::string, Entry>::iterator it);  // with the lock held

    const size_t maxBytes_;
    std::mutex mutex_;
    std::unordered_map<std::string, Entry> entries_;
    std::list<Node*> used_;  // most recently used first
    size_t bytes_ = 0;
};

}  // namespace omnichat
