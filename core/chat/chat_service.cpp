#include "chat/chat_service.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "chat/send_exchange.hpp"
#include "chat/storage_client.hpp"
#include "common/ids.hpp"
#include "observability/metrics.hpp"
#include "runtime/worker_pool.hpp"

namespace omnichat {
namespace {

Failure notFound() { return {Failure::Source::Storage, OMNICHAT_ERR_NOT_FOUND, -1, "not found"}; }

// What a send takes from its conversation.
bool sameSettings(const Conversation& a, const Conversation& b) {
    return a.provider == b.provider && a.model == b.model && a.systemPrompt == b.systemPrompt;
}

}  // namespace

ChatService::ChatService(const Config& config, StorageClient& storage,
                         std::map<std::string, std::unique_ptr<PluginInstance>>& providers, WorkerPool& pool,
                         Timer& timer, Metrics& metrics)
    : config_(config),
      storage_(storage),
      providers_(providers),
      pool_(pool),
      timer_(timer),
      metrics_(metrics),
      policy_(config, providers),
      // A storage that cannot skip known messages would gain nothing from it.
      histories_(storage.loadsSince() ? config.historyCacheBytes : 0) {}

std::optional<ChatService::Loaded> ChatService::load(const std::string& id, const std::string& userId) {
    auto held = histories_.find(id);
    const auto known = held ? static_cast<int64_t>(held->size()) : 0;
    auto fresh = storage_.loadConversation(id, userId, known);
    if (!fresh) {
        histories_.forgetIfOwnedBy(id, userId);
        return std::nullopt;
    }
    const auto total = fresh->conversation.messageCount;
    auto history = HistoryCache::extend(held, total, std::move(fresh->history));
    if (!history) {
        // Storage no longer holds what we hold at the start (restored from
        // a backup, say): read it whole.
        histories_.forget(id);
        return load(id, userId);
    }
    // Nothing new: the held entry stands (find marked it used). A storage
    // whose count does not match its messages cannot be read from a held
    // start.
    if (history != held && total == static_cast<int64_t>(history->size()))
        histories_.keep(std::make_shared<const Conversation>(fresh->conversation), history);
    return Loaded{std::move(fresh->conversation), std::move(history)};
}

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

bool ChatService::ping(Reply<Done> reply) {
    return runStorage<Done>(std::move(reply), [this]() -> Outcome<Done> {
        storage_.ping();
        return Done{};
    });
}

std::optional<std::string> ChatService::checkSettings(const ConversationSettings& settings) const {
    return policy_.check(settings.provider, settings.model);
}

std::optional<Failure> ChatService::refusal(const Conversation& conversation, const HistoryCache::Messages& history,
                                            const StoredMessage& user) const {
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

bool ChatService::createConversation(std::string userId, std::string projectId, ConversationSettings settings,
                                     Reply<Conversation> reply) {
    return runStorage<Conversation>(std::move(reply), [this, userId, projectId, settings]() -> Outcome<Conversation> {
        // A cap, not a quota to the unit: creations at the same moment may
        // each see room for one more.
        if (const auto cap = config_.limits.maxConversationsPerUser) {
            auto owned = storage_.countConversations(userId);
            if (owned && *owned >= static_cast<int64_t>(cap))
                return Failure::refused(OMNICHAT_ERR_CONFLICT, "too_many_conversations",
                                        "a user may keep at most " + std::to_string(cap) + " conversations");
        }
        Conversation c;
        c.id = newUuid();
        c.projectId = projectId;
        c.userId = userId;
        c.title = settings.title;
        c.provider = settings.provider;
        c.model = settings.model;
        c.systemPrompt = settings.systemPrompt;
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
        histories_.forget(id);
        return Done{};
    });
}

bool ChatService::listMessages(std::string userId, std::string id, std::string afterId, int64_t limit,
                               Reply<HistoryCache::History> reply) {
    return runStorage<HistoryCache::History>(
        std::move(reply), [this, userId, id, afterId, limit]() -> Outcome<HistoryCache::History> {
            // A page of a history nobody here holds is read as a page; a
            // whole history is read as a send reads it, and then held.
            if ((!afterId.empty() || limit >= 0) && !histories_.find(id)) {
                auto page = storage_.listMessages(id, userId, afterId, limit);
                if (!page) return notFound();
                return HistoryCache::historyOf(std::move(*page));
            }
            auto loaded = load(id, userId);
            if (!loaded) return notFound();
            const auto& all = *loaded->history;
            auto begin = all.begin();
            if (!afterId.empty()) {
                begin = std::find_if(all.begin(), all.end(), [&](const auto& m) { return m->id == afterId; });
                if (begin == all.end()) return notFound();
                ++begin;
            }
            auto end = limit < 0 || all.end() - begin <= limit ? all.end() : begin + limit;
            if (begin == all.begin() && end == all.end()) return std::move(loaded->history);
            return std::make_shared<const HistoryCache::Messages>(begin, end);
        });
}

bool ChatService::sendMessage(std::string userId, std::string conversationId, std::string content,
                              std::shared_ptr<StreamSink> sink, Reply<StoredMessage> reply) {
    // Admission: a bound on provider calls in flight keeps memory bounded
    // however slow the provider is.
    if (inFlight_.fetch_add(1) >= config_.maxInFlight) {
        inFlight_.fetch_sub(1);
        return false;
    }
    const auto begun = beginSend(conversationId);  // ended by `admitted`
    Reply<StoredMessage> admitted = [this, conversationId, reply = std::move(reply)](Outcome<StoredMessage> out) {
        endSend(conversationId);
        inFlight_.fetch_sub(1);
        reply(std::move(out));
    };
    StoredMessage user;
    user.id = newUuid();
    user.conversationId = conversationId;
    user.role = OMNICHAT_ROLE_USER;
    user.content = std::move(content);
    // A conversation held here, of this user, starts its provider call
    // before storage confirms it (one round trip less before the first
    // token); what storage says decides whether the call counts.
    auto held = begun.alone ? histories_.held(conversationId) : std::nullopt;
    if (held && held->conversation->userId != userId) held.reset();
    // Without a stream nothing reaches the client before the append, so a
    // storage that checks the history in the append confirms it there: the
    // send never reads the conversation, and starts here without a worker.
    // A conversation another host wrote lately reads first: its call would
    // more likely be lost at the append than withdrawn early by a read.
    if (held && !sink && !held->shared && storage_.appendsIfUnchanged()) {
        if (auto refused = refusal(*held->conversation, *held->history, user)) {
            admitted(std::move(*refused));
            return true;
        }
        SendExchange::AppendCheck check{
            [this, conversationId, since = begun.serial] { return othersBegan(conversationId, since); },
            [this, userId](StoredMessage user, Reply<StoredMessage> reply) {
                sendFromStorage(userId, std::move(user), nullptr, std::move(reply), std::nullopt);
            }};
        newExchange(*held->conversation, held->history, std::move(user), nullptr, std::move(admitted))
            ->startCheckedAtAppend(std::move(check));
        return true;
    }
    bool queued = pool_.trySubmit([this, userId, user, sink, admitted, held]() mutable {
        sendFromStorage(userId, std::move(user), std::move(sink), std::move(admitted), std::move(held));
    });
    if (!queued) {
        endSend(conversationId);
        inFlight_.fetch_sub(1);
    }
    return queued;
}

std::shared_ptr<SendExchange> ChatService::newExchange(Conversation conversation, HistoryCache::History history,
                                                       StoredMessage user, std::shared_ptr<StreamSink> sink,
                                                       Reply<StoredMessage> reply) {
    auto routes = std::get<std::vector<Route>>(policy_.routes(conversation.provider, conversation.model));
    return std::make_shared<SendExchange>(
        SendExchange::Services{config_, storage_, histories_, providers_, pool_, timer_, metrics_},
        std::move(conversation), std::move(history), std::move(routes), std::move(user), std::move(sink),
        std::move(reply));
}

void ChatService::sendFromStorage(const std::string& userId, StoredMessage user, std::shared_ptr<StreamSink> sink,
                                  Reply<StoredMessage> reply, std::optional<HistoryCache::Held> held) {
    const std::string conversationId = user.conversationId;
    std::shared_ptr<SendExchange> early;
    if (held && refusal(*held->conversation, *held->history, user)) held.reset();  // decided on what storage says
    if (held) {
        early = newExchange(*held->conversation, held->history, user, sink, std::move(reply));
        early->startUnconfirmed();
    }
    std::optional<Loaded> loaded;
    std::optional<Failure> failed;
    try {
        loaded = load(conversationId, userId);
    } catch (const StorageError& e) {
        failed = Failure{Failure::Source::Storage, e.status(), -1, e.what()};
    } catch (const std::exception& e) {
        failed = Failure{Failure::Source::Service, OMNICHAT_ERR_INTERNAL, -1, e.what()};
    }
    if (early) {
        bool confirmed = !failed && loaded && HistoryCache::sameMessages(*loaded->history, *held->history) &&
                         sameSettings(loaded->conversation, *held->conversation);
        metrics_.countEarlyStart(confirmed);
        if (confirmed) return early->confirm();
        if (loaded) histories_.changed(conversationId);
        reply = early->withdraw();
    }
    if (failed) return reply(std::move(*failed));
    if (!loaded) return reply(notFound());
    if (auto refused = refusal(loaded->conversation, *loaded->history, user)) return reply(std::move(*refused));
    newExchange(std::move(loaded->conversation), std::move(loaded->history), std::move(user), std::move(sink),
                std::move(reply))
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
