#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "chat/conversation_store.hpp"
#include "chat/model_policy.hpp"
#include "config/config.hpp"
#include "domain/records.hpp"

namespace omnichat {

class Exchange;
class Metrics;
class ProviderPort;
class Scheduler;
class StoragePort;
class StreamSink;
class WorkerPool;

// The chat domain as the API sees it: conversations, their histories and
// the send flow. Every method returns at once; `reply` runs exactly once,
// usually later on a worker or I/O thread (a send that fails to start
// answers on the calling thread before it returns). A method returns false
// (and never calls `reply`) when the work cannot be admitted: the queue is
// full or too many calls are in flight.
//
// A send starts one of three ways, by what this host holds of the
// conversation (each keeps a comment naming what it buys):
//   - read first: read the conversation, then start the exchange;
//   - early start: start the exchange from the held history while storage
//     is read, then confirm or withdraw it;
//   - checked at the append: without a stream, start from the held history
//     and let the append check it; nothing is read.
// An exchange that finds its history changed at the append starts again,
// read first.
class ChatService {
public:
    ChatService(const Config& config, StoragePort& storage, ProviderPort& providers, WorkerPool& pool, Scheduler& timer,
                Metrics& metrics);
    ~ChatService();

    // Why these choices are not allowed (unknown provider, model the
    // operator did not allow), or nullopt.
    std::optional<std::string> checkSettings(const domain::ConversationSettings& settings) const;
    bool createConversation(std::string userId, std::string projectId, domain::ConversationSettings settings,
                            domain::Reply<domain::Conversation> reply);
    bool getConversation(std::string userId, std::string id, domain::Reply<domain::Conversation> reply);
    bool listConversations(std::string userId, std::string projectId,
                           domain::Reply<std::vector<domain::Conversation>> reply);
    bool deleteConversation(std::string userId, std::string id, domain::Reply<domain::Done> reply);
    // NOT_FOUND also when `afterId` is not a message of the conversation.
    bool listMessages(std::string userId, std::string id, std::string afterId, int64_t limit,
                      domain::Reply<HistoryCache::History> reply);
    // Sends history + `content` to the provider (retries, fallbacks and
    // timeouts included), then stores both messages in one transaction.
    // Replies with the stored assistant message. With a `sink`, deltas are
    // delivered to it as they arrive.
    // `clientGone` says whether the client stopped waiting (cancelSends).
    bool sendMessage(std::string userId, std::string conversationId, std::string content,
                     std::shared_ptr<StreamSink> sink, domain::Reply<domain::StoredMessage> reply,
                     std::function<bool()> clientGone = {});
    // A stateless exchange: the provider is called as a send's is (limits,
    // retries, fallbacks, timeouts, metrics, cancel) and nothing is read or
    // stored. Replies with the reply as a message of no conversation.
    bool complete(std::string userId, domain::Completion completion, std::shared_ptr<StreamSink> sink,
                  domain::Reply<domain::StoredMessage> reply, std::function<bool()> clientGone = {});
    // Every model a completion may name (ModelPolicy::allowed).
    std::vector<domain::Route> models() const { return policy_.allowed(); }
    std::vector<std::pair<std::string, domain::Route>> modelAliases() const { return policy_.aliases(); }
    // The route of a model as a completion names it, or nullopt.
    std::optional<domain::Route> resolveModel(const std::string& name) const { return policy_.resolve(name); }
    // Sends admitted and not yet answered.
    size_t sendsInFlight() const { return inFlight_.load(); }
    // Cancels the provider calls of sends in flight (a draining server):
    // those whose client is gone, or all. They end at once, stored nothing,
    // whether or not the provider ever completes its call. Returns how many.
    enum class Cancel { ClientGone, All };
    size_t cancelSends(Cancel which);
    // Configured provider instances that are optional and did not start.
    std::vector<std::string> missingProviders() const;
    // Whether storage answers, for /readyz.
    bool ping(domain::Reply<domain::Done> reply);

    // Histories held in memory, for the metrics.
    HistoryCache& histories() { return store_.histories(); }

private:
    struct Send;
    // Admits a send and registers it for cancelSends; nullptr when too many
    // are in flight. Its reply ends both, then runs `release` (if any).
    std::shared_ptr<Send> admit(std::string userId, std::string conversationId, std::string content,
                                std::shared_ptr<StreamSink> sink, domain::Reply<domain::StoredMessage> reply,
                                std::function<bool()> clientGone, std::function<void()> release);
    // Ends an admitted send's admission and registration.
    void retire(const Send* send);
    template <class T, class F>
    bool runStorage(domain::Reply<T> reply, F body);
    // Why a send may not go ahead: its provider or model is no longer
    // allowed, or the conversation is full. nullopt: it may.
    std::optional<domain::Failure> refusal(const domain::Conversation& conversation,
                                           const HistoryCache::Messages& history,
                                           const domain::StoredMessage& user) const;
    std::shared_ptr<Exchange> exchange(
        const std::shared_ptr<Send>& send, const domain::Conversation& conversation, HistoryCache::History history,
        bool confirmed,
        std::function<StoragePort::Appended(const domain::StoredMessage&, const domain::StoredMessage&)> append);
    // On a worker: reads the conversation and starts its exchange, or
    // confirms (or withdraws) one started from `held` meanwhile.
    void sendFromStorage(const std::shared_ptr<Send>& send, std::optional<HistoryCache::Held> held);
    // Counts the sends of a conversation in flight here. Only the only one
    // may start early: another's exchange would change the history under
    // it, and the early call would be withdrawn.
    struct Begun {
        bool alone;
        uint64_t serial;  // its number among the sends of the conversation begun here
    };
    Begun beginSend(const std::string& conversationId);
    // Whether another send of the conversation began after the one `since`
    // counted.
    bool othersBegan(const std::string& conversationId, uint64_t since);
    void endSend(const std::string& conversationId);

    const Config& config_;
    ProviderPort& providers_;
    WorkerPool& pool_;
    Scheduler& timer_;
    Metrics& metrics_;
    ModelPolicy policy_;
    ConversationStore store_;
    std::atomic<size_t> inFlight_{0};
    struct Sending {
        unsigned inFlight = 0;
        uint64_t begun = 0;
    };
    std::mutex sendingMutex_;
    std::unordered_map<std::string, Sending> sending_;
    // Every send in flight, for cancelSends.
    std::mutex liveMutex_;
    std::unordered_map<const Send*, std::weak_ptr<Send>> live_;
};

}  // namespace omnichat
