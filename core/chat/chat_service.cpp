#include "chat/chat_service.hpp"

#include <spdlog/spdlog.h>

#include "chat/provider_call.hpp"
#include "chat/storage_client.hpp"
#include "common/ids.hpp"
#include "runtime/worker_pool.hpp"

namespace omnichat {
namespace {

Failure notFound() { return {Failure::Source::Storage, OMNICHAT_ERR_NOT_FOUND, -1, "not found"}; }

}  // namespace

ChatService::ChatService(const Config& config, StorageClient& storage,
                         std::map<std::string, std::unique_ptr<PluginInstance>>& providers, WorkerPool& pool)
    : config_(config), storage_(storage), providers_(providers), pool_(pool) {}

// Runs `body` on the pool; `body` returns Outcome<T>. Storage exceptions
// become failures, so every reply is sent exactly once.
template <class T, class F>
bool ChatService::runStorage(Reply<T> reply, F body) {
    return pool_.trySubmit([reply = std::move(reply), body = std::move(body)]() mutable {
        Outcome<T> out = Failure{Failure::Source::Service, OMNICHAT_ERR_INTERNAL, -1, "unset"};
        try {
            out = body();
        } catch (const StorageError& e) {
            out = Failure{Failure::Source::Storage, e.status(), -1, e.what()};
        } catch (const std::exception& e) {
            out = Failure{Failure::Source::Service, OMNICHAT_ERR_INTERNAL, -1, e.what()};
        }
        reply(std::move(out));
    });
}

bool ChatService::createConversation(std::string userId, std::string projectId, std::optional<std::string> title,
                                     Reply<Conversation> reply) {
    return runStorage<Conversation>(std::move(reply), [this, userId, projectId, title]() -> Outcome<Conversation> {
        Conversation c;
        c.id = newUuid();
        c.projectId = projectId;
        c.userId = userId;
        c.title = title;
        c.createdAtMs = c.updatedAtMs = nowUnixMs();
        storage_.createConversation(c);
        return c;
    });
}

bool ChatService::getConversation(std::string userId, std::string id, Reply<Conversation> reply) {
    return runStorage<Conversation>(std::move(reply), [this, userId, id]() -> Outcome<Conversation> {
        auto c = storage_.getConversation(id, userId);
        if (!c) return notFound();
        return std::move(*c);
    });
}

bool ChatService::listConversations(std::string userId, std::string projectId, Reply<std::vector<Conversation>> reply) {
    return runStorage<std::vector<Conversation>>(std::move(reply),
                                                 [this, userId, projectId]() -> Outcome<std::vector<Conversation>> {
                                                     return storage_.listConversations(userId, projectId);
                                                 });
}

bool ChatService::deleteConversation(std::string userId, std::string id, Reply<Done> reply) {
    return runStorage<Done>(std::move(reply), [this, userId, id]() -> Outcome<Done> {
        if (!storage_.deleteConversation(id, userId)) return notFound();
        return Done{};
    });
}

bool ChatService::listMessages(std::string userId, std::string id, std::string afterId, int64_t limit,
                               Reply<std::vector<StoredMessage>> reply) {
    return runStorage<std::vector<StoredMessage>>(
        std::move(reply), [this, userId, id, afterId, limit]() -> Outcome<std::vector<StoredMessage>> {
            auto messages = storage_.listMessages(id, userId, afterId, limit);
            if (!messages) return notFound();
            return std::move(*messages);
        });
}

bool ChatService::sendMessage(std::string userId, std::string conversationId, std::string content,
                              Reply<StoredMessage> reply) {
    // Admission: a bound on provider calls in flight keeps memory bounded
    // however slow the provider is.
    if (inFlight_.fetch_add(1) >= config_.maxInFlight) {
        inFlight_.fetch_sub(1);
        return false;
    }
    auto admitted = [this, reply = std::move(reply)](Outcome<StoredMessage> out) {
        inFlight_.fetch_sub(1);
        reply(std::move(out));
    };
    bool queued = pool_.trySubmit([this, userId, conversationId, content, admitted]() mutable {
        try {
            auto conversation = storage_.getConversation(conversationId, userId);
            if (!conversation) return admitted(notFound());
            auto history = storage_.listMessages(conversationId, userId, "", -1);
            if (!history) return admitted(notFound());
            StoredMessage user;
            user.id = newUuid();
            user.conversationId = conversationId;
            user.role = OMNICHAT_ROLE_USER;
            user.content = std::move(content);
            callProvider(*conversation, std::move(*history), std::move(user), admitted);
        } catch (const StorageError& e) {
            admitted(Failure{Failure::Source::Storage, e.status(), -1, e.what()});
        }
    });
    if (!queued) inFlight_.fetch_sub(1);
    return queued;
}

void ChatService::callProvider(const Conversation& conversation, std::vector<StoredMessage> history,
                               StoredMessage userMessage, Reply<StoredMessage> reply) {
    // Shared, not moved: the request below points into its content, and the
    // completion (which may run before start_chat returns) needs it too.
    auto user = std::make_shared<StoredMessage>(std::move(userMessage));
    const std::string& providerName = config_.defaultProvider;
    auto& provider = *providers_.at(providerName);
    const std::string& model = config_.defaultModel;

    std::vector<omnichat_message_t> messages;
    messages.reserve(history.size() + 2);
    auto add = [&](omnichat_role_t role, const std::string& text) {
        messages.push_back({sizeof(omnichat_message_t), role, {text.data(), text.size()}});
    };
    if (!config_.systemPrompt.empty()) add(OMNICHAT_ROLE_SYSTEM, config_.systemPrompt);
    for (const auto& m : history) add(m.role, m.content);
    add(OMNICHAT_ROLE_USER, user->content);
    std::vector<const omnichat_message_t*> pointers;
    pointers.reserve(messages.size());
    for (const auto& m : messages) pointers.push_back(&m);

    omnichat_chat_request_t request{};
    request.struct_size = sizeof request;
    request.model = {model.data(), model.size()};
    request.messages = pointers.data();
    request.message_count = pointers.size();
    int64_t started = nowUnixMs();
    request.deadline_unix_ms = started + config_.providerTimeoutMs;

    auto* call = new omnichat_call();
    call->done = [this, conversationId = conversation.id, providerName, model, started, user,
                  reply = std::move(reply)](ProviderOutcome&& outcome) mutable {
        if (outcome.status != OMNICHAT_OK) {
            return reply(Failure{Failure::Source::Provider, outcome.status, outcome.retryAfterMs,
                                 providerName + ": " + outcome.message});
        }
        // Storing blocks, and this may run on the HTTP client's I/O thread.
        pool_.submitContinuation([this, conversationId, providerName, model, started, user,
                                  outcome = std::move(outcome), reply = std::move(reply)]() mutable {
            int64_t finished = nowUnixMs();
            user->createdAtMs = finished;
            StoredMessage assistant;
            assistant.id = newUuid();
            assistant.conversationId = conversationId;
            assistant.role = OMNICHAT_ROLE_ASSISTANT;
            assistant.content = std::move(outcome.text);
            // One millisecond later, so timestamps order the pair as the
            // history does.
            assistant.createdAtMs = finished + 1;
            assistant.provider = providerName;
            assistant.model = outcome.model.empty() ? model : outcome.model;
            assistant.finishReason = outcome.finishReason;
            assistant.promptTokens = outcome.promptTokens;
            assistant.completionTokens = outcome.completionTokens;
            assistant.latencyMs = finished - started;
            if (!isStorableText(assistant.content))
                return reply(Failure{Failure::Source::Provider, OMNICHAT_ERR_BAD_RESPONSE, -1,
                                     providerName + ": reply is not valid UTF-8 text"});
            try {
                if (!storage_.appendExchange(*user, assistant)) return reply(notFound());
                reply(std::move(assistant));
            } catch (const StorageError& e) {
                reply(Failure{Failure::Source::Storage, e.status(), -1, e.what()});
            }
        });
    };
    provider.library().provider().start_chat(provider.handle(), &request, call);
}

}  // namespace omnichat
