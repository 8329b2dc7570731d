#pragma once
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "chat/chat_service.hpp"
#include "chat/provider_call.hpp"
#include "chat/storage_client.hpp"
#include "chat/stream_sink.hpp"
#include "runtime/timer.hpp"

namespace omnichat {

class Metrics;
class WorkerPool;

// One send, from the first provider attempt to the stored exchange: tries
// the routes in order (the default provider, then the fallbacks), retries
// each as the retry policy allows (never once a delta reached the client),
// enforces the connect, first-token, idle and total timeouts, streams deltas
// to the sink, and stores the user message with the reply in one
// transaction. Replies exactly once.
//
// It may start before storage has confirmed the conversation and history it
// was given (held ones): until confirm(), nothing reaches the client or
// storage; withdraw() abandons it and hands back the reply. Or, without a
// stream (nothing reaches the client before the append), storage confirms
// the history in the append itself (startCheckedAtAppend).
class SendExchange : public std::enable_shared_from_this<SendExchange> {
public:
    struct Services {
        const Config& config;
        StorageClient& storage;
        HistoryCache& histories;
        std::map<std::string, std::unique_ptr<PluginInstance>>& providers;
        WorkerPool& pool;
        Timer& timer;
        Metrics& metrics;
    };

    // `routes`: the provider and model of each route, in order (see
    // ModelPolicy::routes).
    SendExchange(Services services, Conversation conversation, HistoryCache::History history, std::vector<Route> routes,
                 StoredMessage user, std::shared_ptr<StreamSink> sink, Reply<StoredMessage> reply);
    // What a send started from a held history, and not confirmed by a read,
    // needs at its append.
    struct AppendCheck {
        // Whether other sends of the conversation began here since this one:
        // their exchanges may be stored before this one's.
        std::function<bool()> othersBegan;
        // Storage holds another history: the send starts again from it.
        std::function<void(StoredMessage user, Reply<StoredMessage> reply)> restart;
    };

    void start();
    void startUnconfirmed();
    void startCheckedAtAppend(AppendCheck check);
    void confirm();
    Reply<StoredMessage> withdraw();

private:
    enum class Timeout { FirstToken, Idle, Total };
    // What to do after a failed attempt, decided under the lock and done
    // after it is released (starting or cancelling a call may re-enter).
    struct Next {
        enum { Retry, Fallback, Fail } action = Fail;
        int64_t delayMs = 0;
        Failure failure{Failure::Source::Service, OMNICHAT_ERR_INTERNAL};
    };

    void openStream();
    void launch();
    void startAttempt();
    bool onDelta(uint64_t attempt, std::string_view text);
    void onOutcome(uint64_t attempt, ProviderOutcome&& outcome);
    void onTimeout(uint64_t attempt, Timeout kind);
    void abort();
    Next decide(Failure failure, bool retryable, int64_t retryAfterMs);
    void apply(Next next);
    void stopTimers();
    // Called with the lock held: the current attempt ended this way.
    void observeAttempt(const std::string& outcome);
    void store(ProviderOutcome outcome, Route route);
    // Appends as the AppendCheck says; on Changed the send has started
    // again from storage's history.
    StorageClient::Appended appendChecked(const StoredMessage& assistant);
    void submitStore(ProviderOutcome outcome, Route route);
    void finish(Outcome<StoredMessage> outcome);
    size_t contextStart() const;

    Services s_;
    Conversation conversation_;
    HistoryCache::History history_;  // shared with the cache: read only
    StoredMessage user_;
    std::shared_ptr<StreamSink> sink_;
    Reply<StoredMessage> reply_;
    std::vector<Route> routes_;
    std::optional<AppendCheck> check_;

    std::mutex mutex_;
    size_t route_ = 0;
    unsigned tries_ = 0;     // on the current route
    uint64_t attempt_ = 0;   // outcomes of older attempts are ignored
    bool finished_ = false;  // replied, or about to
    bool deltaSent_ = false;
    bool sawDelta_ = false;  // in the current attempt
    // Until confirmed: the current attempt's text, and what would have been
    // stored or replied.
    bool confirmed_ = true;
    std::string heldText_;
    std::optional<std::pair<ProviderOutcome, Route>> heldStore_;
    std::optional<Outcome<StoredMessage>> heldReply_;
    std::shared_ptr<CallControl> control_;
    Timer::Id firstTokenTimer_ = 0, idleTimer_ = 0, totalTimer_ = 0;
    int64_t startedMs_ = 0;
    std::chrono::steady_clock::time_point attemptStarted_;
    std::minstd_rand jitter_;
};

}  // namespace omnichat
