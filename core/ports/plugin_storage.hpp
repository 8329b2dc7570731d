#pragma once
#include <memory>

#include "plugins/plugin_loader.hpp"
#include "ports/storage_port.hpp"

namespace omnichat {

class Metrics;

// The StoragePort over a storage plugin's function table: the only code of
// the host that calls those hooks, and converts between the ABI's structs
// and the domain's records.
class PluginStorage : public StoragePort {
public:
    // `metrics`, when given, receives each call's duration.
    explicit PluginStorage(std::unique_ptr<PluginInstance> instance, Metrics* metrics = nullptr);

    bool loadsSince() const override { return vt_.conversation_load_since != nullptr; }
    bool appendsIfUnchanged() const override { return vt_.exchange_append_if_unchanged != nullptr; }
    void migrate() override;
    void ping() override;
    void createConversation(const domain::Conversation& c) override;
    std::optional<domain::Conversation> getConversation(const std::string& id, const std::string& userId) override;
    std::vector<domain::Conversation> listConversations(const std::string& userId,
                                                        const std::string& projectId) override;
    bool deleteConversation(const std::string& id, const std::string& userId) override;
    std::optional<std::vector<domain::StoredMessage>> listMessages(const std::string& conversationId,
                                                                   const std::string& userId,
                                                                   const std::string& afterId, int64_t limit) override;
    std::optional<Loaded> loadConversation(const std::string& id, const std::string& userId,
                                           int64_t knownCount = 0) override;
    bool appendExchange(const domain::StoredMessage& user, const domain::StoredMessage& assistant) override;
    Appended appendExchangeIfUnchanged(const domain::StoredMessage& user, const domain::StoredMessage& assistant,
                                       int64_t expectedCount, std::string_view expectedLastId) override;
    std::optional<int64_t> countConversations(const std::string& userId) override;
    Stats stats() const override;

private:
    class Timed;
    std::unique_ptr<PluginInstance> instance_;
    Metrics* metrics_;
    const omnichat_storage_vtable_t& vt_;
};

}  // namespace omnichat
