// Writing a storage: derive from omnichat::Storage.
#pragma once

#include <omnichat/host.hpp>
#include <omnichat/records.hpp>

#include <functional>
#include <string_view>

namespace omnichat {

using ConversationSink = std::function<void(const Conversation&)>;
using MessageSink = std::function<void(const StoredMessage&)>;

// Hooks throw omnichat::Error(OMNICHAT_ERR_NOT_FOUND, ...) and friends.
class Storage {
public:
    explicit Storage(const Host& host) : host_(host) {}
    virtual ~Storage() = default;
    virtual void migrate() = 0;
    virtual void ping() = 0;
    virtual void createConversation(const Conversation& c) = 0;
    virtual void getConversation(std::string_view id, std::string_view userId, const ConversationSink& sink) = 0;
    virtual void listConversations(std::string_view userId, std::string_view projectId,
                                   const ConversationSink& sink) = 0;
    virtual void deleteConversation(std::string_view id, std::string_view userId) = 0;
    virtual void listMessages(std::string_view conversationId, std::string_view userId, std::string_view afterId,
                              int64_t limit, const MessageSink& sink) = 0;
    virtual void appendExchange(const StoredMessage& user, const StoredMessage& assistant) = 0;
    // The conversation, then its whole history: what a send reads before it
    // calls the provider. Override it to answer in one round trip.
    virtual void loadConversation(std::string_view id, std::string_view userId, const ConversationSink& conversation,
                                  const MessageSink& messages) {
        getConversation(id, userId, conversation);
        listMessages(id, userId, {}, -1, messages);
    }
    // The same, but only the messages after the first `knownCount`, for a
    // host that keeps histories in memory (ABI 1.4). The conversation's
    // messageCount must be read in the same snapshot as the messages. This
    // default reads the whole history and skips; override it to skip in the
    // query.
    virtual void loadConversationSince(std::string_view id, std::string_view userId, int64_t knownCount,
                                       const ConversationSink& conversation, const MessageSink& messages) {
        int64_t position = 0;
        loadConversation(id, userId, conversation, [&](const StoredMessage& m) {
            if (position++ >= knownCount) messages(m);
        });
    }
    // Optional (ABI 1.5): appendExchange, only when the conversation still
    // has `expectedCount` messages, the last with id `expectedLastId`,
    // checked in the append's transaction; otherwise appends nothing and
    // throws Error(OMNICHAT_ERR_CONFLICT). The host then sends a history it
    // holds without reading the conversation first. Offered to the host only
    // when a plugin overrides it: there is no correct default.
    virtual void appendExchangeIfUnchanged(const StoredMessage& /*user*/, const StoredMessage& /*assistant*/,
                                           int64_t /*expectedCount*/, std::string_view /*expectedLastId*/) {
        throw Error(OMNICHAT_ERR_UNSUPPORTED, "appendExchangeIfUnchanged is not implemented");
    }
    // Optional (ABI 1.6): how many conversations the user owns, in all
    // projects, for the host's per-user cap. Offered to the host only when
    // a plugin overrides it.
    virtual int64_t countConversations(std::string_view /*userId*/) {
        throw Error(OMNICHAT_ERR_UNSUPPORTED, "countConversations is not implemented");
    }
    // Connection counts for the host's metrics; -1: not kept. Must not
    // block.
    struct Stats {
        int64_t connectionsOpen = -1;
        int64_t connectionsInUse = -1;
        int64_t connectionWaits = -1;
    };
    virtual Stats stats() const { return {}; }

protected:
    const Host& host() const { return host_; }

private:
    Host host_;
};

}  // namespace omnichat
