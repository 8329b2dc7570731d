#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "chat/history_cache.hpp"
#include "chat/stream_sink.hpp"
#include "config/config.hpp"
#include "domain/records.hpp"
#include "ports/provider_port.hpp"
#include "ports/storage_port.hpp"
#include "runtime/scheduler.hpp"

namespace omnichat {

class Metrics;

// One send, from its first provider attempt to its stored exchange, as a
// state machine. It tries its routes in order (the conversation's provider,
// then the fallbacks), retries each as the retry policy allows (never once
// a delta reached the client), enforces the connect, first-token, idle and
// total timeouts, streams deltas to the sink, and has its owner append the
// question with the reply. It ends exactly once.
//
// It may start from a history storage has not confirmed yet (an early
// start: `confirmed` false). Until confirm(), nothing reaches the client or
// storage: deltas are held back, and a reply or a failure waits in
// Confirming; withdraw() abandons it.
//
//   state       event                                   next         what it does
//   Idle        start                                   Calling      total timer; stream opened (once confirmed);
//   attempt 1 Calling     delta                                   Calling      first: first-token timer off; idle timer
//   re-armed;
//                                                                    text to the sink, or held back until confirmed
//   Calling     reply                                   Storing      timers off; the append runs on a worker
//                                                       Confirming   (not confirmed yet)
//   Calling     failure or first-token/idle timeout:
//                 retryable, no delta sent, tries left  BackingOff   the call cancelled; the retry's delay armed
//                 retryable, no delta sent, a fallback  Calling      the next route's attempt 1
//                 otherwise                             Done Failed  (Confirming, not confirmed yet)
//   BackingOff  delay over                              Calling      the next attempt
//   Calling,
//   BackingOff  total timeout                           Done Failed  the call cancelled (provider_timeout)
//               cancel (client gone, server stopping)   Done Cancelled the call cancelled; its reply is not awaited
//   Confirming  confirm                                 Storing      held deltas out; the append runs
//                                                       Done Failed  held deltas out; the failure answered
//   Calling,
//   BackingOff  confirm                                 (same)       held deltas out, the stream opened
//   not Storing withdraw                                Done         Withdrawn: the call cancelled, all dropped,
//                                                                    ended() not called
//   Storing     appended                                Done Committed
//               the history changed (checked append)    Done HistoryChanged: the owner starts the send again
//               the conversation is gone                Done Gone
//               storage failed                          Done Failed
//   Storing     timeout, client gone                    (ignored: the append decides)
//
// Every callback of the provider, the timer and the worker carries the
// attempt it belongs to: one from an abandoned attempt changes nothing.
class Exchange : public std::enable_shared_from_this<Exchange> {
public:
    enum class State { Idle, Calling, BackingOff, Confirming, Storing, Done };
    enum class Ending { Committed, Failed, Cancelled, HistoryChanged, Gone, Withdrawn };

    struct Ports {
        ProviderPort& providers;
        Scheduler& timer;
        Executor& workers;  // appends block
        Metrics* metrics;   // null: none recorded
    };
    // What the owner gives: where the exchange is stored, and who hears how
    // it ended.
    struct Owner {
        // On a worker thread: appends the exchange (Yes, Gone, or Changed
        // when the append checks the history); may throw StorageError.
        std::function<StoragePort::Appended(const domain::StoredMessage& user, const domain::StoredMessage& reply)>
            append;
        // Once, in Done, except after withdraw(): the stored reply when
        // Committed, else the failure; and the question, to start again
        // with after HistoryChanged.
        std::function<void(Ending, domain::Outcome<domain::StoredMessage>, domain::StoredMessage user)> ended;
    };

    // `routes`: the provider and model of each route, in order (see
    // ModelPolicy::routes).
    Exchange(const Config& config, Ports ports, domain::Conversation conversation, HistoryCache::History history,
             std::vector<domain::Route> routes, domain::StoredMessage user, std::shared_ptr<StreamSink> sink,
             Owner owner, bool confirmed = true, domain::Sampling sampling = {});
    ~Exchange();

    void start();
    // Storage holds the history this exchange started from.
    void confirm();
    // It does not: the call is cancelled and what it produced dropped.
    void withdraw();
    // No one waits for the reply any more (the client left), or the server
    // is stopping: while the provider is called, the call is cancelled and
    // the exchange ends Cancelled at once. Returns whether it did.
    enum class Why { ClientGone, Stopping };
    bool cancel(Why why = Why::ClientGone);

    State state() const;

private:
    enum class Timeout { FirstToken, Idle, Total };
    // What to do once the lock is released (starting or cancelling a call,
    // and ending, may re-enter).
    struct After {
        std::shared_ptr<ProviderPort::Call> cancel;
        bool launch = false;
        bool store = false;
        // Set by finish(), under the lock; called once it is released.
        std::function<void(Ending, domain::Outcome<domain::StoredMessage>, domain::StoredMessage user)> ended;
        std::optional<std::pair<Ending, domain::Outcome<domain::StoredMessage>>> end;
        domain::StoredMessage user;
        void run(Exchange& self);
    };

    void openStream();  // with the lock held
    void launch();
    void onDelta(uint64_t attempt, std::string_view text, bool& keepGoing);
    void onReply(uint64_t attempt, domain::ProviderReply&& reply);
    void onTimeout(uint64_t attempt, Timeout kind);
    void onBackoffOver(uint64_t attempt);
    // With the lock held: after a failed attempt, retry, fall back or fail.
    void decide(domain::Failure failure, bool retryable, int64_t retryAfterMs, After& after);
    // With the lock held: ends (or, unconfirmed, waits in Confirming).
    void fail(domain::Failure failure, After& after);
    void finish(Ending ending, domain::Outcome<domain::StoredMessage> outcome, After& after);
    void stopTimers();
    void observeAttempt(const char* outcome);
    void store();
    ProviderRequest request(const std::string& model) const;

    const Config& config_;
    Ports ports_;
    const domain::Conversation conversation_;
    const HistoryCache::History history_;  // shared with the cache: read only
    const std::vector<domain::Route> routes_;
    domain::StoredMessage user_;
    const std::shared_ptr<StreamSink> sink_;
    Owner owner_;
    const domain::Sampling sampling_;

    mutable std::mutex mutex_;
    State state_ = State::Idle;
    bool confirmed_;
    bool streamOpened_ = false;
    size_t route_ = 0;
    unsigned tries_ = 0;    // on the current route
    uint64_t attempt_ = 0;  // callbacks of other attempts are ignored
    bool deltaSent_ = false;
    bool sawDelta_ = false;                       // in the current attempt
    std::string heldText_;                        // not confirmed yet: the current attempt's text
    std::optional<domain::ProviderReply> reply_;  // whole, to store
    std::optional<domain::Failure> failure_;      // Confirming: to answer once confirmed
    std::shared_ptr<ProviderPort::Call> call_;
    Scheduler::Id firstTokenTimer_ = 0, idleTimer_ = 0, totalTimer_ = 0, backoffTimer_ = 0;
    int64_t startedMs_ = 0;
    std::chrono::steady_clock::time_point attemptStarted_;
    std::minstd_rand jitter_;
};

}  // namespace omnichat
