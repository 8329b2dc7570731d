#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "domain/records.hpp"

namespace omnichat {

// A storage call failed for a reason other than "not found".
class StorageError : public std::runtime_error {
public:
    StorageError(omnichat_status_t status, const std::string& message) : std::runtime_error(message), status_(status) {}
    omnichat_status_t status() const { return status_; }

private:
    omnichat_status_t status_;
};

// What the chat domain asks of storage, in its own records. Every call
// blocks: run them on the worker pool, never on a reactor thread. "Not
// found" (also: not the user's) is nullopt or false; anything else throws
// StorageError. Implemented over a storage plugin by PluginStorage, and by
// fakes in tests.
class StoragePort {
public:
    virtual ~StoragePort() = default;

    // What the plugin offers beyond ABI 1.0.
    virtual bool loadsSince() const = 0;          // loadConversation skips known messages (1.4)
    virtual bool appendsIfUnchanged() const = 0;  // appendExchangeIfUnchanged (1.5)

    virtual void migrate() = 0;
    virtual void ping() = 0;
    virtual void createConversation(const domain::Conversation& c) = 0;
    virtual std::optional<domain::Conversation> getConversation(const std::string& id, const std::string& userId) = 0;
    virtual std::vector<domain::Conversation> listConversations(const std::string& userId,
                                                                const std::string& projectId) = 0;
    virtual bool deleteConversation(const std::string& id, const std::string& userId) = 0;
    // nullopt: the conversation is not the user's, or `afterId` is not in it.
    virtual std::optional<std::vector<domain::StoredMessage>> listMessages(const std::string& conversationId,
                                                                           const std::string& userId,
                                                                           const std::string& afterId,
                                                                           int64_t limit) = 0;
    struct Loaded {
        domain::Conversation conversation;
        std::vector<domain::StoredMessage> history;  // after the first `knownCount`
    };
    // The conversation and its messages after the first `knownCount` (only
    // above 0 when loadsSince()); nullopt: not the user's.
    virtual std::optional<Loaded> loadConversation(const std::string& id, const std::string& userId,
                                                   int64_t knownCount = 0) = 0;
    // false: the conversation is gone.
    virtual bool appendExchange(const domain::StoredMessage& user, const domain::StoredMessage& assistant) = 0;
    enum class Appended { Yes, Gone, Changed };
    // Appends only while the history still has `expectedCount` messages, the
    // last with id `expectedLastId` (Changed otherwise, appending nothing).
    virtual Appended appendExchangeIfUnchanged(const domain::StoredMessage& user,
                                               const domain::StoredMessage& assistant, int64_t expectedCount,
                                               std::string_view expectedLastId) = 0;
    // How many conversations the user owns; nullopt when storage cannot say.
    virtual std::optional<int64_t> countConversations(const std::string& userId) = 0;
    // Connection counts; -1 for what is not kept. Does not block.
    struct Stats {
        int64_t connectionsOpen = -1, connectionsInUse = -1, connectionWaits = -1;
    };
    virtual Stats stats() const = 0;
};

}  // namespace omnichat
