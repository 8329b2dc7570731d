#pragma once
#include <omnichat/plugin.hpp>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "plugins/plugin_loader.hpp"

namespace omnichat {

class Metrics;

// A storage hook failed for a reason other than "not found".
class StorageError : public std::runtime_error {
public:
    StorageError(omnichat_status_t status, const std::string& message) : std::runtime_error(message), status_(status) {}
    omnichat_status_t status() const { return status_; }

private:
    omnichat_status_t status_;
};

// Core's typed view of the storage plugin instance. Every call blocks: run
// them on the worker pool, never on a reactor thread.
class StorageClient {
public:
    // `metrics`, when given, receives each call's duration.
    explicit StorageClient(std::unique_ptr<PluginInstance> instance, Metrics* metrics = nullptr);

    void migrate();
    void ping();

    void createConversation(const Conversation& c);
    std::optional<Conversation> getConversation(const std::string& id, const std::string& userId);
    std::vector<Conversation> listConversations(const std::string& userId, const std::string& projectId);
    bool deleteConversation(const std::string& id, const std::string& userId);
    // nullopt: the conversation is not the user's, or `afterId` is not in it.
    std::optional<std::vector<StoredMessage>> listMessages(const std::string& conversationId, const std::string& userId,
                                                           const std::string& afterId, int64_t limit);
    struct LoadedConversation {
        Conversation conversation;
        std::vector<StoredMessage> history;
    };
    // The conversation and its history after the first `knownCount`
    // messages, in one storage call when the plugin offers it (ABI 1.2, and
    // 1.4 for a `knownCount` above 0); nullopt: not the user's.
    std::optional<LoadedConversation> loadConversation(const std::string& id, const std::string& userId,
                                                       int64_t knownCount = 0);
    // Whether loadConversation can skip known messages in storage (ABI 1.4).
    bool loadsSince() const { return vt_.conversation_load_since != nullptr; }
    // false: the conversation is gone.
    bool appendExchange(const StoredMessage& user, const StoredMessage& assistant);
    // Whether appendExchangeIfUnchanged is offered (ABI 1.5).
    bool appendsIfUnchanged() const { return vt_.exchange_append_if_unchanged != nullptr; }
    enum class Appended { Yes, Gone, Changed };
    // Appends only while the history still has `expectedCount` messages, the
    // last with id `expectedLastId` (Changed otherwise, appending nothing).
    Appended appendExchangeIfUnchanged(const StoredMessage& user, const StoredMessage& assistant, int64_t expectedCount,
                                       std::string_view expectedLastId);
    // How many conversations the user owns (ABI 1.6); nullopt when the
    // plugin cannot say.
    std::optional<int64_t> countConversations(const std::string& userId);
    // Connection counts (ABI 1.3): -1 for what the plugin does not keep,
    // all -1 from older plugins. Does not block.
    omnichat_storage_stats_t stats() const;

private:
    class Timed;
    std::unique_ptr<PluginInstance> instance_;
    Metrics* metrics_;
    const omnichat_storage_vtable_t& vt_;
};

}  // namespace omnichat
