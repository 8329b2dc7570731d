#pragma once
#include <omnichat/plugin.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "chat/history_cache.hpp"
#include "chat/model_policy.hpp"
#include "config/config.hpp"
#include "plugins/plugin_loader.hpp"

namespace omnichat {

class Metrics;
class SendExchange;
class StorageClient;
class StreamSink;
class Timer;
class WorkerPool;

// Why an operation failed, in domain terms; the API layer picks the HTTP
// status. `detail` is for the operator's log, never for the client.
struct Failure {
    // Refused: the request breaks a rule of the service (a cap, a model the
    // operator did not allow); `code` and `message` are for the client, and
    // `status` says which kind (BAD_REQUEST or CONFLICT).
    enum class Source { Storage, Provider, Service, Refused };
    Failure(Source source, omnichat_status_t status, int64_t retryAfterMs = -1, std::string detail = "",
            std::string code = "")
        : source(source),
          status(status),
          retryAfterMs(retryAfterMs),
          detail(std::move(detail)),
          code(std::move(code)) {}
    Source source;
    omnichat_status_t status;
    int64_t retryAfterMs = -1;
    std::string detail;
    std::string code;     // a more precise API error code, when there is one
    std::string message;  // Refused: the client's explanation
    static Failure refused(omnichat_status_t status, std::string code, std::string message) {
        Failure f{Source::Refused, status, -1, message, std::move(code)};
        f.message = std::move(message);
        return f;
    }
};

template <class T>
using Outcome = std::variant<T, Failure>;

// What a client may choose for one conversation; empty: the service's.
struct ConversationSettings {
    std::optional<std::string> title;
    std::string provider, model, systemPrompt;
};
template <class T>
using Reply = std::function<void(Outcome<T>)>;
struct Done {};

// The chat domain: conversations, history and the send flow. Every method
// returns at once; `reply` runs exactly once, usually later on a worker or
// I/O thread (a send that fails to start answers on the calling thread
// before it returns). A method returns false (and never calls `reply`) when
// the work cannot be admitted: the queue is full or too many calls are in
// flight.
class ChatService {
public:
    ChatService(const Config& config, StorageClient& storage,
                std::map<std::string, std::unique_ptr<PluginInstance>>& providers, WorkerPool& pool, Timer& timer,
                Metrics& metrics);

    // Why these choices are not allowed (unknown provider, model the
    // operator did not allow), or nullopt.
    std::optional<std::string> checkSettings(const ConversationSettings& settings) const;
    bool createConversation(std::string userId, std::string projectId, ConversationSettings settings,
                            Reply<Conversation> reply);
    bool getConversation(std::string userId, std::string id, Reply<Conversation> reply);
    bool listConversations(std::string userId, std::string projectId, Reply<std::vector<Conversation>> reply);
    bool deleteConversation(std::string userId, std::string id, Reply<Done> reply);
    // NOT_FOUND also when `afterId` is not a message of the conversation.
    bool listMessages(std::string userId, std::string id, std::string afterId, int64_t limit,
                      Reply<HistoryCache::History> reply);
    // Sends history + `content` to the provider (retries, fallbacks and
    // timeouts included), then stores both messages in one transaction.
    // Replies with the stored assistant message. With a `sink`, deltas are
    // delivered to it as they arrive.
    bool sendMessage(std::string userId, std::string conversationId, std::string content,
                     std::shared_ptr<StreamSink> sink, Reply<StoredMessage> reply);
    // Sends admitted and not yet answered.
    size_t sendsInFlight() const { return inFlight_.load(); }
    // Whether storage answers, for /readyz.
    bool ping(Reply<Done> reply);

    // Histories held in memory, for the metrics.
    HistoryCache& histories() { return histories_; }

private:
    template <class T, class F>
    bool runStorage(Reply<T> reply, F body);
    struct Loaded {
        Conversation conversation;
        HistoryCache::History history;
    };
    // The conversation and its whole history: the held history plus what
    // storage has appended since. Blocks. nullopt: not the user's.
    std::optional<Loaded> load(const std::string& id, const std::string& userId);
    // Why a send of `user` to this conversation may not go ahead: its
    // provider or model is no longer allowed, or it is full. nullopt: it may.
    std::optional<Failure> refusal(const Conversation& conversation, const HistoryCache::Messages& history,
                                   const StoredMessage& user) const;
    // An exchange for a send refusal() let through.
    std::shared_ptr<SendExchange> newExchange(Conversation conversation, HistoryCache::History history,
                                              StoredMessage user, std::shared_ptr<StreamSink> sink,
                                              Reply<StoredMessage> reply);
    // On a worker: reads the conversation and starts its exchange, or
    // confirms (or withdraws) one started from `held` meanwhile.
    void sendFromStorage(const std::string& userId, StoredMessage user, std::shared_ptr<StreamSink> sink,
                         Reply<StoredMessage> reply, std::optional<HistoryCache::Held> held);
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
    StorageClient& storage_;
    std::map<std::string, std::unique_ptr<PluginInstance>>& providers_;
    WorkerPool& pool_;
    Timer& timer_;
    Metrics& metrics_;
    ModelPolicy policy_;
    HistoryCache histories_;
    std::atomic<size_t> inFlight_{0};
    struct Sending {
        unsigned inFlight = 0;
        uint64_t begun = 0;
    };
    std::mutex sendingMutex_;
    std::unordered_map<std::string, Sending> sending_;
};

}  // namespace omnichat
