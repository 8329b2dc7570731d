#include "chat/storage_client.hpp"

#include <chrono>
#include <cstring>

#include "observability/metrics.hpp"

namespace omnichat {
namespace {

struct ErrorBox {
    omnichat_error_t e{};
    ErrorBox() { e.struct_size = sizeof e; }
};

// OK -> true, NOT_FOUND -> false, anything else throws.
bool check(omnichat_status_t status, const ErrorBox& box, const char* what) {
    if (status == OMNICHAT_OK) return true;
    if (status == OMNICHAT_ERR_NOT_FOUND) return false;
    throw StorageError(
        status, std::string(what) + ": " + std::string(box.e.message, strnlen(box.e.message, sizeof box.e.message)));
}

omnichat_str_t str(const std::string& s) { return {s.data(), s.size()}; }

void collectConversation(void* ud, const omnichat_conversation_t* c) {
    static_cast<std::vector<Conversation>*>(ud)->push_back(fromC(*c));
}
void collectMessage(void* ud, const omnichat_stored_message_t* m) {
    static_cast<std::vector<StoredMessage>*>(ud)->push_back(fromC(*m));
}

}  // namespace

// Observes one call's duration when it leaves scope, returned or thrown.
class StorageClient::Timed {
public:
    Timed(const StorageClient& client, const char* operation)
        : metrics_(client.metrics_), operation_(operation), start_(std::chrono::steady_clock::now()) {}
    ~Timed() {
        if (metrics_)
            metrics_->observeStorageCall(
                operation_, std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    }
    Timed(const Timed&) = delete;
    Timed& operator=(const Timed&) = delete;

private:
    Metrics* metrics_;
    const char* operation_;
    std::chrono::steady_clock::time_point start_;
};

StorageClient::StorageClient(std::unique_ptr<PluginInstance> instance, Metrics* metrics)
    : instance_(std::move(instance)), metrics_(metrics), vt_(instance_->library().storage()) {}

void StorageClient::migrate() {
    ErrorBox b;
    if (!check(vt_.migrate(instance_->handle(), &b.e), b, "migrate"))
        throw StorageError(OMNICHAT_ERR_INTERNAL, "migrate: not found");
}

void StorageClient::ping() {
    Timed timed(*this, "ping");
    ErrorBox b;
    if (!check(vt_.ping(instance_->handle(), &b.e), b, "ping"))
        throw StorageError(OMNICHAT_ERR_INTERNAL, "ping: not found");
}

void StorageClient::createConversation(const Conversation& c) {
    Timed timed(*this, "create_conversation");
    ErrorBox b;
    auto raw = toC(c);
    if (!check(vt_.conversation_create(instance_->handle(), &raw, &b.e), b, "create conversation"))
        throw StorageError(OMNICHAT_ERR_INTERNAL, "create conversation: not found");
}

std::optional<Conversation> StorageClient::getConversation(const std::string& id, const std::string& userId) {
    Timed timed(*this, "get_conversation");
    ErrorBox b;
    std::vector<Conversation> out;
    if (!check(vt_.conversation_get(instance_->handle(), str(id), str(userId), &collectConversation, &out, &b.e), b,
               "get conversation") ||
        out.empty())
        return std::nullopt;
    return std::move(out.front());
}

std::vector<Conversation> StorageClient::listConversations(const std::string& userId, const std::string& projectId) {
    Timed timed(*this, "list_conversations");
    ErrorBox b;
    std::vector<Conversation> out;
    check(vt_.conversation_list(instance_->handle(), str(userId), str(projectId), &collectConversation, &out, &b.e), b,
          "list conversations");
    return out;
}

bool StorageClient::deleteConversation(const std::string& id, const std::string& userId) {
    Timed timed(*this, "delete_conversation");
    ErrorBox b;
    return check(vt_.conversation_delete(instance_->handle(), str(id), str(userId), &b.e), b, "delete conversation");
}

std::optional<std::vector<StoredMessage>> StorageClient::listMessages(const std::string& conversationId,
                                                                      const std::string& userId,
                                                                      const std::string& afterId, int64_t limit) {
    Timed timed(*this, "list_messages");
    ErrorBox b;
    std::vector<StoredMessage> out;
    if (!check(vt_.messages_list(instance_->handle(), str(conversationId), str(userId), str(afterId), limit,
                                 &collectMessage, &out, &b.e),
               b, "list messages"))
        return std::nullopt;
    return out;
}

std::optional<StorageClient::LoadedConversation> StorageClient::loadConversation(const std::string& id,
                                                                                 const std::string& userId,
                                                                                 int64_t knownCount) {
    if (knownCount > 0 && !loadsSince()) throw StorageError(OMNICHAT_ERR_INTERNAL, "storage cannot load since");
    // The loader zero-fills what an older plugin's table lacks.
    if (!vt_.conversation_load && !loadsSince()) {
        auto conversation = getConversation(id, userId);
        if (!conversation) return std::nullopt;
        auto history = listMessages(id, userId, "", -1);
        if (!history) return std::nullopt;
        return LoadedConversation{std::move(*conversation), std::move(*history)};
    }
    Timed timed(*this, "load_conversation");
    ErrorBox b;
    struct Collected {
        std::vector<Conversation> conversations;
        std::vector<StoredMessage> messages;
    } out;
    auto onConversation = [](void* ud, const omnichat_conversation_t* c) {
        static_cast<Collected*>(ud)->conversations.push_back(fromC(*c));
    };
    auto onMessage = [](void* ud, const omnichat_stored_message_t* m) {
        static_cast<Collected*>(ud)->messages.push_back(fromC(*m));
    };
    auto status = loadsSince() ? vt_.conversation_load_since(instance_->handle(), str(id), str(userId), knownCount,
                                                             onConversation, onMessage, &out, &b.e)
                               : vt_.conversation_load(instance_->handle(), str(id), str(userId), onConversation,
                                                       onMessage, &out, &b.e);
    if (!check(status, b, "load conversation") || out.conversations.empty()) return std::nullopt;
    return LoadedConversation{std::move(out.conversations.front()), std::move(out.messages)};
}

bool StorageClient::appendExchange(const StoredMessage& user, const StoredMessage& assistant) {
    Timed timed(*this, "append_exchange");
    ErrorBox b;
    auto u = toC(user), a = toC(assistant);
    return check(vt_.exchange_append(instance_->handle(), &u, &a, &b.e), b, "append exchange");
}

StorageClient::Appended StorageClient::appendExchangeIfUnchanged(const StoredMessage& user,
                                                                 const StoredMessage& assistant, int64_t expectedCount,
                                                                 std::string_view expectedLastId) {
    Timed timed(*this, "append_exchange_if_unchanged");
    ErrorBox b;
    auto u = toC(user), a = toC(assistant);
    auto status = vt_.exchange_append_if_unchanged(instance_->handle(), &u, &a, expectedCount,
                                                   {expectedLastId.data(), expectedLastId.size()}, &b.e);
    if (status == OMNICHAT_ERR_CONFLICT) return Appended::Changed;
    return check(status, b, "append exchange") ? Appended::Yes : Appended::Gone;
}

std::optional<int64_t> StorageClient::countConversations(const std::string& userId) {
    if (!vt_.conversation_count) return std::nullopt;
    Timed timed(*this, "count_conversations");
    ErrorBox b;
    int64_t count = 0;
    if (!check(vt_.conversation_count(instance_->handle(), str(userId), &count, &b.e), b, "count conversations"))
        return 0;
    return count;
}

omnichat_storage_stats_t StorageClient::stats() const {
    omnichat_storage_stats_t s{sizeof(s), -1, -1, -1};
    if (vt_.stats) vt_.stats(instance_->handle(), &s);
    return s;
}

}  // namespace omnichat
