#include "chat/chat_service.hpp"

#include "chat/exchange.hpp"
#include "common/ids.hpp"
#include "observability/metrics.hpp"
#include "ports/provider_port.hpp"
#include "runtime/worker_pool.hpp"

namespace omnichat {
namespace {

using domain::Failure;
template <class T>
using Outcome = domain::Outcome<T>;
template <class T>
using Reply = domain::Reply<T>;

Failure notFound() { return {Failure::Source::Storage, OMNICHAT_ERR_NOT_FOUND, -1, "not found"}; }

}  // namespace

// One send and its client, whichever exchange (a first, an early one, one
// started again) answers it.
struct ChatService::Send {
    std::string userId;
    domain::StoredMessage user;
    std::shared_ptr<StreamSink> sink;
    Reply<domain::StoredMessage> reply;  // ends the admission too
    std::function<bool()> clientGone;    // empty: the client is always there
    domain::Sampling sampling;
    std::mutex mutex;                  // exchange
    std::weak_ptr<Exchange> exchange;  // the latest one started
};

ChatService::ChatService(const Config& config, StoragePort& storage, ProviderPort& providers, WorkerPool& pool,
                         Scheduler& timer, Metrics& metrics)
    : config_(config),
      providers_(providers),
      pool_(pool),
      timer_(timer),
      metrics_(metrics),
      policy_(config, providers),
      store_(storage, config.historyCacheBytes, &metrics) {}

ChatService::~ChatService() = default;

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

bool ChatService::ping(Reply<domain::Done> reply) {
    return runStorage<domain::Done>(std::move(reply), [this]() -> Outcome<domain::Done> {
        store_.storage().ping();
        return domain::Done{};
    });
}

std::optional<std::string> ChatService::checkSettings(const domain::ConversationSettings& settings) const {
    return policy_.check(settings.provider, settings.model);
}

std::optional<Failure> ChatService::refusal(const domain::Conversation& conversation,
                                            const HistoryCache::Messages& history,
                                            const domain::StoredMessage& user) const {
    if (auto problem = policy_.check(conversation.provider, conversation.model))
        return Failure::refused(OMNICHAT_ERR_BAD_REQUEST, "invalid_settings",
                                "the conversation's provider or model is no longer allowed: " + *problem);
    const auto& limits = config_.limits;
    if (limits.maxMessagesPerConversation && history.size() + 2 > limits.maxMessagesPerConversation)
        return Failure::refused(
            OMNICHAT_ERR_CONFLICT, "conversation_full",
            "the conversation holds its maximum of " + std::to_string(limits.maxMessagesPerConversation) + " messages");
    if (limits.maxConversationBytes) {
        size_t bytes = user.content.size();
        for (const auto& m : history) bytes += m->content.size();
        if (bytes > limits.maxConversationBytes)
            return Failure::refused(OMNICHAT_ERR_CONFLICT, "conversation_full",
                                    "the conversation's text would exceed its maximum of " +
                                        std::to_string(limits.maxConversationBytes) + " bytes");
    }
    return std::nullopt;
}

bool ChatService::createConversation(std::string userId, std::string projectId, domain::ConversationSettings settings,
                                     Reply<domain::Conversation> reply) {
    return runStorage<domain::Conversation>(
        std::move(reply), [this, userId, projectId, settings]() -> Outcome<domain::Conversation> {
            auto& storage = store_.storage();
            // A cap, not a quota to the unit: creations at the same moment
            // may each see room for one more.
            if (const auto cap = config_.limits.maxConversationsPerUser) {
                auto owned = storage.countConversations(userId);
                if (owned && *owned >= static_cast<int64_t>(cap))
                    return Failure::refused(OMNICHAT_ERR_CONFLICT, "too_many_conversations",
                                            "a user may keep at most " + std::to_string(cap) + " conversations");
            }
            domain::Conversation c;
            c.id = newUuid();
            c.projectId = projectId;
            c.userId = userId;
            c.title = settings.title;
            c.provider = settings.provider;
            c.model = settings.model;
            c.systemPrompt = settings.systemPrompt;
            c.createdAtMs = c.updatedAtMs = nowUnixMs();
            storage.createConversation(c);
            return c;
        });
}

bool ChatService::getConversation(std::string userId, std::string id, Reply<domain::Conversation> reply) {
    return runStorage<domain::Conversation>(std::move(reply), [this, userId, id]() -> Outcome<domain::Conversation> {
        auto c = store_.storage().getConversation(id, userId);
        if (!c) return notFound();
        return std::move(*c);
    });
}

bool ChatService::listConversations(std::string userId, std::string projectId,
                                    Reply<std::vector<domain::Conversation>> reply) {
    return runStorage<std::vector<domain::Conversation>>(
        std::move(reply), [this, userId, projectId]() -> Outcome<std::vector<domain::Conversation>> {
            return store_.storage().listConversations(userId, projectId);
        });
}

bool ChatService::deleteConversation(std::string userId, std::string id, Reply<domain::Done> reply) {
    return runStorage<domain::Done>(std::move(reply), [this, userId, id]() -> Outcome<domain::Done> {
        if (!store_.storage().deleteConversation(id, userId)) return notFound();
        store_.forget(id);
        return domain::Done{};
    });
}

bool ChatService::listMessages(std::string userId, std::string id, std::string afterId, int64_t limit,
                               Reply<HistoryCache::History> reply) {
    return runStorage<HistoryCache::History>(std::move(reply),
                                             [this, userId, id, afterId, limit]() -> Outcome<HistoryCache::History> {
                                                 auto page = store_.messages(id, userId, afterId, limit);
                                                 if (!page) return notFound();
                                                 return std::move(*page);
                                             });
}

std::shared_ptr<ChatService::Send> ChatService::admit(std::string userId, std::string conversationId,
                                                      std::string content, std::shared_ptr<StreamSink> sink,
                                                      Reply<domain::StoredMessage> reply,
                                                      std::function<bool()> clientGone, std::function<void()> release) {
    // A bound on provider calls in flight keeps memory bounded however slow
    // the provider is.
    if (inFlight_.fetch_add(1) >= config_.maxInFlight) {
        inFlight_.fetch_sub(1);
        return nullptr;
    }
    auto send = std::make_shared<Send>();
    send->userId = std::move(userId);
    send->user.id = newUuid();
    send->user.conversationId = std::move(conversationId);
    send->user.role = OMNICHAT_ROLE_USER;
    send->user.content = std::move(content);
    send->sink = std::move(sink);
    send->clientGone = std::move(clientGone);
    {
        std::lock_guard lock(liveMutex_);
        live_[send.get()] = send;
    }
    send->reply = [this, key = send.get(), reply = std::move(reply),
                   release = std::move(release)](Outcome<domain::StoredMessage> out) {
        retire(key);
        if (release) release();
        reply(std::move(out));
    };
    return send;
}

void ChatService::retire(const Send* send) {
    {
        std::lock_guard lock(liveMutex_);
        live_.erase(send);
    }
    inFlight_.fetch_sub(1);
}

bool ChatService::sendMessage(std::string userId, std::string conversationId, std::string content,
                              std::shared_ptr<StreamSink> sink, Reply<domain::StoredMessage> reply,
                              std::function<bool()> clientGone) {
    auto send = admit(std::move(userId), conversationId, std::move(content), std::move(sink), std::move(reply),
                      std::move(clientGone), [this, conversationId] { endSend(conversationId); });
    if (!send) return false;
    const auto begun = beginSend(conversationId);
    // Held here, of this user, and no other send of it in flight here: the
    // call may start from the held history before storage confirms it.
    auto held = begun.alone ? store_.held(conversationId, send->userId) : std::nullopt;
    // Checked at the append: without a stream nothing reaches the client
    // before the append, so a storage that checks the history there
    // confirms it there. The send reads nothing and starts here, without a
    // worker. Measured (scripts/bench/run.sh --only throughput, this path
    // off against on, in one session): send-64conn 1.52 times its storage
    // floor against 1.97-2.38. A conversation another host wrote lately
    // reads first: its call would more likely be lost at the append than
    // withdrawn early by a read.
    if (held && !send->sink && !held->shared && store_.checksAtAppend()) {
        if (auto refused = refusal(*held->conversation, *held->history, send->user)) {
            send->reply(std::move(*refused));
            return true;
        }
        const auto conversation = *held->conversation;
        auto sent = held->history;
        exchange(send, conversation, sent, true,
                 [this, conversation, sent, conversationId, since = begun.serial](const domain::StoredMessage& user,
                                                                                  const domain::StoredMessage& reply) {
                     return store_.appendChecked(conversation, user, reply, *sent, othersBegan(conversationId, since));
                 })
            ->start();
        return true;
    }
    bool queued = pool_.trySubmit([this, send, held]() mutable { sendFromStorage(send, std::move(held)); });
    if (!queued) {
        retire(send.get());
        endSend(conversationId);
    }
    return queued;
}

bool ChatService::complete(std::string userId, domain::Completion completion, std::shared_ptr<StreamSink> sink,
                           Reply<domain::StoredMessage> reply, std::function<bool()> clientGone) {
    auto send =
        admit(userId, "", std::move(completion.question), std::move(sink), std::move(reply), std::move(clientGone), {});
    if (!send) return false;
    send->sampling = completion.sampling;
    domain::Conversation conversation;
    conversation.userId = std::move(userId);
    conversation.provider = completion.route.provider;
    conversation.model = completion.route.model;
    conversation.systemPrompt = std::move(completion.systemPrompt);
    exchange(send, conversation, HistoryCache::historyOf(std::move(completion.history)), true,
             [](const domain::StoredMessage&, const domain::StoredMessage&) { return StoragePort::Appended::Yes; })
        ->start();
    return true;
}

size_t ChatService::cancelSends(Cancel which) {
    std::vector<std::pair<std::shared_ptr<Exchange>, Exchange::Why>> cancel;
    {
        std::lock_guard lock(liveMutex_);
        for (const auto& [key, weak] : live_) {
            auto send = weak.lock();
            if (!send) continue;
            const bool gone = send->clientGone && send->clientGone();
            if (which == Cancel::ClientGone && !gone) continue;
            std::lock_guard sendLock(send->mutex);
            if (auto exchange = send->exchange.lock())
                cancel.emplace_back(std::move(exchange), gone ? Exchange::Why::ClientGone : Exchange::Why::Stopping);
        }
    }
    // Outside the lock: an exchange that ends replies, which takes it.
    size_t cancelled = 0;
    for (const auto& [exchange, why] : cancel) cancelled += exchange->cancel(why) ? 1 : 0;
    return cancelled;
}

std::vector<std::string> ChatService::missingProviders() const { return providers_.missing(); }

std::shared_ptr<Exchange> ChatService::exchange(
    const std::shared_ptr<Send>& send, const domain::Conversation& conversation, HistoryCache::History history,
    bool confirmed,
    std::function<StoragePort::Appended(const domain::StoredMessage&, const domain::StoredMessage&)> append) {
    auto routes = std::get<std::vector<domain::Route>>(policy_.routes(conversation.provider, conversation.model));
    Exchange::Owner owner{std::move(append), [this, send](Exchange::Ending ending, Outcome<domain::StoredMessage> out,
                                                          domain::StoredMessage user) {
                              if (ending != Exchange::Ending::HistoryChanged) return send->reply(std::move(out));
                              // Storage holds another history than the call
                              // was sent: the send starts again from it.
                              send->user = std::move(user);
                              pool_.submit([this, send] { sendFromStorage(send, std::nullopt); });
                          }};
    auto made = std::make_shared<Exchange>(config_, Exchange::Ports{providers_, timer_, pool_, &metrics_}, conversation,
                                           std::move(history), std::move(routes), send->user, send->sink,
                                           std::move(owner), confirmed, send->sampling);
    std::lock_guard lock(send->mutex);
    send->exchange = made;
    return made;
}

void ChatService::sendFromStorage(const std::shared_ptr<Send>& send, std::optional<HistoryCache::Held> held) {
    const std::string& conversationId = send->user.conversationId;
    // Early start: the call starts from the held history while storage is
    // read; what it produces is held back until storage confirms the same
    // messages. Measured (run.sh --only throughput, off against on, one
    // session): ttfb-omnichat-next-turn p50 0.517 ms against 0.302-0.411.
    std::shared_ptr<Exchange> early;
    if (held && !refusal(*held->conversation, *held->history, send->user)) {
        auto sent = held->history;
        early = exchange(send, *held->conversation, sent, false,
                         [this, sent](const domain::StoredMessage& user, const domain::StoredMessage& reply) {
                             return store_.append(user, reply, *sent);
                         });
        early->start();
    }
    std::optional<ConversationStore::Loaded> loaded;
    std::optional<Failure> failed;
    try {
        loaded = store_.load(conversationId, send->userId);
    } catch (const StorageError& e) {
        failed = Failure{Failure::Source::Storage, e.status(), -1, e.what()};
    } catch (const std::exception& e) {
        failed = Failure{Failure::Source::Service, OMNICHAT_ERR_INTERNAL, -1, e.what()};
    }
    if (early) {
        if (!failed && loaded) {
            if (store_.confirms(*held, *loaded)) return early->confirm();
        } else {
            metrics_.countEarlyStart(false);
        }
        early->withdraw();
    }
    if (failed) return send->reply(std::move(*failed));
    if (!loaded) return send->reply(notFound());
    if (auto refused = refusal(loaded->conversation, *loaded->history, send->user))
        return send->reply(std::move(*refused));
    auto sent = loaded->history;
    exchange(send, loaded->conversation, sent, true,
             [this, sent](const domain::StoredMessage& user, const domain::StoredMessage& reply) {
                 return store_.append(user, reply, *sent);
             })
        ->start();
}

ChatService::Begun ChatService::beginSend(const std::string& conversationId) {
    std::lock_guard lock(sendingMutex_);
    auto& sending = sending_[conversationId];
    return {sending.inFlight++ == 0, ++sending.begun};
}

bool ChatService::othersBegan(const std::string& conversationId, uint64_t since) {
    std::lock_guard lock(sendingMutex_);
    auto it = sending_.find(conversationId);
    return it != sending_.end() && it->second.begun != since;
}

void ChatService::endSend(const std::string& conversationId) {
    std::lock_guard lock(sendingMutex_);
    if (auto it = sending_.find(conversationId); it != sending_.end() && --it->second.inFlight == 0) sending_.erase(it);
}

}  // namespace omnichat
