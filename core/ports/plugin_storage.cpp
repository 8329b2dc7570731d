#include "ports/plugin_storage.hpp"

#include <omnichat/basics.hpp>

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

std::string text(omnichat_str_t s) { return std::string(view(s)); }

// The ABI's records and the domain's. A plugin's struct may be older and
// smaller (struct_size): what it lacks keeps the domain's default.
domain::Conversation toDomain(const omnichat_conversation_t& c) {
    domain::Conversation out;
    out.id = text(c.id);
    out.projectId = text(c.project_id);
    out.userId = text(c.user_id);
    out.createdAtMs = c.created_at_ms;
    out.updatedAtMs = c.updated_at_ms;
    if (c.has_title) out.title = text(c.title);
    if (OMNICHAT_HOLDS(c, cost)) {
        out.provider = text(c.provider);
        out.model = text(c.model);
        out.systemPrompt = text(c.system_prompt);
        out.messageCount = c.message_count;
        out.promptTokens = c.prompt_tokens;
        out.completionTokens = c.completion_tokens;
        out.cost = c.cost;
    }
    return out;
}

omnichat_conversation_t toAbi(const domain::Conversation& c) {
    omnichat_conversation_t out{};
    out.struct_size = sizeof out;
    out.id = omnichat::toC(c.id);
    out.project_id = omnichat::toC(c.projectId);
    out.user_id = omnichat::toC(c.userId);
    out.has_title = c.title.has_value();
    if (c.title) out.title = omnichat::toC(*c.title);
    out.created_at_ms = c.createdAtMs;
    out.updated_at_ms = c.updatedAtMs;
    out.provider = omnichat::toC(c.provider);
    out.model = omnichat::toC(c.model);
    out.system_prompt = omnichat::toC(c.systemPrompt);
    out.message_count = c.messageCount;
    out.prompt_tokens = c.promptTokens;
    out.completion_tokens = c.completionTokens;
    out.cost = c.cost;
    return out;
}

domain::StoredMessage toDomain(const omnichat_stored_message_t& m) {
    domain::StoredMessage out;
    out.id = text(m.id);
    out.conversationId = text(m.conversation_id);
    out.role = m.role;
    out.content = text(m.content);
    out.createdAtMs = m.created_at_ms;
    out.provider = text(m.provider);
    out.model = text(m.model);
    out.finishReason = text(m.finish_reason);
    out.usage.promptTokens = m.prompt_tokens;
    out.usage.completionTokens = m.completion_tokens;
    out.latencyMs = m.latency_ms;
    if (OMNICHAT_HOLDS(m, cost)) {
        out.usage.cachedTokens = m.cached_tokens;
        out.usage.reasoningTokens = m.reasoning_tokens;
        if (m.has_cost) out.usage.cost = m.cost;
    }
    return out;
}

omnichat_stored_message_t toAbi(const domain::StoredMessage& m) {
    omnichat_stored_message_t out{};
    out.struct_size = sizeof out;
    out.id = omnichat::toC(m.id);
    out.conversation_id = omnichat::toC(m.conversationId);
    out.role = m.role;
    out.content = omnichat::toC(m.content);
    out.created_at_ms = m.createdAtMs;
    out.provider = omnichat::toC(m.provider);
    out.model = omnichat::toC(m.model);
    out.finish_reason = omnichat::toC(m.finishReason);
    out.prompt_tokens = m.usage.promptTokens;
    out.completion_tokens = m.usage.completionTokens;
    out.latency_ms = m.latencyMs;
    out.cached_tokens = m.usage.cachedTokens;
    out.reasoning_tokens = m.usage.reasoningTokens;
    out.has_cost = m.usage.cost.has_value();
    out.cost = m.usage.cost.value_or(0.0);
    return out;
}

void collectConversation(void* ud, const omnichat_conversation_t* c) {
    static_cast<std::vector<domain::Conversation>*>(ud)->push_back(toDomain(*c));
}
void collectMessage(void* ud, const omnichat_stored_message_t* m) {
    static_cast<std::vector<domain::StoredMessage>*>(ud)->push_back(toDomain(*m));
}

}  // namespace

// Observes one call's duration when it leaves scope, returned or thrown.
class PluginStorage::Timed {
public:
    Timed(const PluginStorage& storage, const char* operation)
        : metrics_(storage.metrics_), operation_(operation), start_(std::chrono::steady_clock::now()) {}
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

PluginStorage::PluginStorage(std::unique_ptr<PluginInstance> instance, Metrics* metrics)
    : instance_(std::move(instance)), metrics_(metrics), vt_(instance_->library().storage()) {}

void PluginStorage::migrate() {
    ErrorBox b;
    if (!check(vt_.migrate(instance_->handle(), &b.e), b, "migrate"))
        throw StorageError(OMNICHAT_ERR_INTERNAL, "migrate: not found");
}

void PluginStorage::ping() {
    Timed timed(*this, "ping");
    ErrorBox b;
    if (!check(vt_.ping(instance_->handle(), &b.e), b, "ping"))
        throw StorageError(OMNICHAT_ERR_INTERNAL, "ping: not found");
}

void PluginStorage::createConversation(const domain::Conversation& c) {
    Timed timed(*this, "create_conversation");
    ErrorBox b;
    auto raw = toAbi(c);
    if (!check(vt_.conversation_create(instance_->handle(), &raw, &b.e), b, "create conversation"))
        throw StorageError(OMNICHAT_ERR_INTERNAL, "create conversation: not found");
}

std::optional<domain::Conversation> PluginStorage::getConversation(const std::string& id, const std::string& userId) {
    Timed timed(*this, "get_conversation");
    ErrorBox b;
    std::vector<domain::Conversation> out;
    if (!check(vt_.conversation_get(instance_->handle(), omnichat::toC(id), omnichat::toC(userId), &collectConversation,
                                    &out, &b.e),
               b, "get conversation") ||
        out.empty())
        return std::nullopt;
    return std::move(out.front());
}

std::vector<domain::Conversation> PluginStorage::listConversations(const std::string& userId,
                                                                   const std::string& projectId) {
    Timed timed(*this, "list_conversations");
    ErrorBox b;
    std::vector<domain::Conversation> out;
    check(vt_.conversation_list(instance_->handle(), omnichat::toC(userId), omnichat::toC(projectId),
                                &collectConversation, &out, &b.e),
          b, "list conversations");
    return out;
}

bool PluginStorage::deleteConversation(const std::string& id, const std::string& userId) {
    Timed timed(*this, "delete_conversation");
    ErrorBox b;
    return check(vt_.conversation_delete(instance_->handle(), omnichat::toC(id), omnichat::toC(userId), &b.e), b,
                 "delete conversation");
}

std::optional<std::vector<domain::StoredMessage>> PluginStorage::listMessages(const std::string& conversationId,
                                                                              const std::string& userId,
                                                                              const std::string& afterId,
                                                                              int64_t limit) {
    Timed timed(*this, "list_messages");
    ErrorBox b;
    std::vector<domain::StoredMessage> out;
    if (!check(vt_.messages_list(instance_->handle(), omnichat::toC(conversationId), omnichat::toC(userId),
                                 omnichat::toC(afterId), limit, &collectMessage, &out, &b.e),
               b, "list messages"))
        return std::nullopt;
    return out;
}

std::optional<StoragePort::Loaded> PluginStorage::loadConversation(const std::string& id, const std::string& userId,
                                                                   int64_t knownCount) {
    if (knownCount > 0 && !loadsSince()) throw StorageError(OMNICHAT_ERR_INTERNAL, "storage cannot load since");
    // The loader zero-fills what an older plugin's table lacks.
    if (!vt_.conversation_load && !loadsSince()) {
        auto conversation = getConversation(id, userId);
        if (!conversation) return std::nullopt;
        auto history = listMessages(id, userId, "", -1);
        if (!history) return std::nullopt;
        return Loaded{std::move(*conversation), std::move(*history)};
    }
    Timed timed(*this, "load_conversation");
    ErrorBox b;
    struct Collected {
        std::vector<domain::Conversation> conversations;
        std::vector<domain::StoredMessage> messages;
    } out;
    auto onConversation = [](void* ud, const omnichat_conversation_t* c) {
        static_cast<Collected*>(ud)->conversations.push_back(toDomain(*c));
    };
    auto onMessage = [](void* ud, const omnichat_stored_message_t* m) {
        static_cast<Collected*>(ud)->messages.push_back(toDomain(*m));
    };
    auto status = loadsSince()
                      ? vt_.conversation_load_since(instance_->handle(), omnichat::toC(id), omnichat::toC(userId),
                                                    knownCount, onConversation, onMessage, &out, &b.e)
                      : vt_.conversation_load(instance_->handle(), omnichat::toC(id), omnichat::toC(userId),
                                              onConversation, onMessage, &out, &b.e);
    if (!check(status, b, "load conversation") || out.conversations.empty()) return std::nullopt;
    return Loaded{std::move(out.conversations.front()), std::move(out.messages)};
}

bool PluginStorage::appendExchange(const domain::StoredMessage& user, const domain::StoredMessage& assistant) {
    Timed timed(*this, "append_exchange");
    ErrorBox b;
    auto u = toAbi(user), a = toAbi(assistant);
    return check(vt_.exchange_append(instance_->handle(), &u, &a, &b.e), b, "append exchange");
}

StoragePort::Appended PluginStorage::appendExchangeIfUnchanged(const domain::StoredMessage& user,
                                                               const domain::StoredMessage& assistant,
                                                               int64_t expectedCount, std::string_view expectedLastId) {
    Timed timed(*this, "append_exchange_if_unchanged");
    ErrorBox b;
    auto u = toAbi(user), a = toAbi(assistant);
    auto status = vt_.exchange_append_if_unchanged(instance_->handle(), &u, &a, expectedCount,
                                                   omnichat::toC(expectedLastId), &b.e);
    if (status == OMNICHAT_ERR_CONFLICT) return Appended::Changed;
    return check(status, b, "append exchange") ? Appended::Yes : Appended::Gone;
}

std::optional<int64_t> PluginStorage::countConversations(const std::string& userId) {
    if (!vt_.conversation_count) return std::nullopt;
    Timed timed(*this, "count_conversations");
    ErrorBox b;
    int64_t count = 0;
    if (!check(vt_.conversation_count(instance_->handle(), omnichat::toC(userId), &count, &b.e), b,
               "count conversations"))
        return 0;
    return count;
}

StoragePort::Stats PluginStorage::stats() const {
    omnichat_storage_stats_t s{sizeof(s), -1, -1, -1};
    if (vt_.stats) vt_.stats(instance_->handle(), &s);
    return {s.connections_open, s.connections_in_use, s.connection_waits};
}

}  // namespace omnichat
