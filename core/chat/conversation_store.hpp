#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "chat/history_cache.hpp"
#include "domain/records.hpp"
#include "ports/storage_port.hpp"

namespace omnichat {

class Metrics;

// The conversations this host serves, as a send and a read see them: the
// histories it holds (HistoryCache), storage read only for what is new, the
// checks that what it holds is still storage's, and how an exchange is
// appended. Every call that reaches storage blocks: run it on a worker.
class ConversationStore {
public:
    ConversationStore(StoragePort& storage, size_t cacheBytes, Metrics* metrics);

    struct Loaded {
        domain::Conversation conversation;
        HistoryCache::History history;
    };
    // The conversation and its whole history: the held history plus what
    // storage appended since. nullopt: not the user's.
    std::optional<Loaded> load(const std::string& id, const std::string& userId);
    // A page of the history (after `afterId`, at most `limit`; -1: all);
    // nullopt when the conversation is not the user's or `afterId` is not
    // one of its messages. A whole history is read as a send reads it, and
    // then held.
    std::optional<HistoryCache::History> messages(const std::string& id, const std::string& userId,
                                                  const std::string& afterId, int64_t limit);

    // What a send may start its provider call from before storage confirms
    // it: the conversation held for this user, with the history it most
    // likely has now. None when nothing is held, or for another user.
    std::optional<HistoryCache::Held> held(const std::string& id, const std::string& userId);
    // Whether an exchange started from a held history can have its append
    // check it (ABI 1.5), so such a send reads nothing first.
    bool checksAtAppend() const { return storage_.appendsIfUnchanged(); }
    // Whether storage confirms what `held` offered: the same messages and
    // settings. When not, the conversation is read before each send from
    // now on (another host writes it).
    bool confirms(const HistoryCache::Held& held, const Loaded& loaded);

    // Appends an exchange whose call was sent `sent`, read from storage.
    StoragePort::Appended append(const domain::StoredMessage& user, const domain::StoredMessage& reply,
                                 const HistoryCache::Messages& sent);
    // Appends an exchange whose call was sent the held history `sent`,
    // unread: the append checks that storage still holds it. When
    // `othersBegan` (other sends of the conversation began here since, and
    // append after their own reads), storage is read first and must begin
    // with `sent`. Changed: the send must start again from storage.
    StoragePort::Appended appendChecked(const domain::Conversation& conversation, const domain::StoredMessage& user,
                                        const domain::StoredMessage& reply, const HistoryCache::Messages& sent,
                                        bool othersBegan);

    void forget(const std::string& id) { histories_.forget(id); }
    HistoryCache& histories() { return histories_; }
    StoragePort& storage() { return storage_; }

private:
    void appended(const domain::StoredMessage& user, const domain::StoredMessage& reply,
                  const HistoryCache::Messages& sent);

    StoragePort& storage_;
    Metrics* metrics_;
    HistoryCache histories_;
};

}  // namespace omnichat
