#include "chat/exchange.hpp"

#include <spdlog/spdlog.h>

#include "chat/retry_policy.hpp"
#include "common/ids.hpp"
#include "observability/metrics.hpp"

namespace omnichat {
namespace {

using domain::Failure;
using std::chrono::milliseconds;

// The outcome label of a provider attempt in the metrics.
const char* outcomeName(omnichat_status_t status) {
    switch (status) {
        case OMNICHAT_OK: return "ok";
        case OMNICHAT_ERR_CANCELLED: return "cancelled";
        case OMNICHAT_ERR_TIMEOUT: return "timeout";
        case OMNICHAT_ERR_CONNECT_TIMEOUT: return "timeout_connect";
        case OMNICHAT_ERR_RATE_LIMITED: return "rate_limited";
        case OMNICHAT_ERR_AUTH: return "auth";
        case OMNICHAT_ERR_BAD_REQUEST: return "bad_request";
        case OMNICHAT_ERR_CONTENT_FILTERED: return "content_filtered";
        case OMNICHAT_ERR_UPSTREAM: return "upstream_error";
        case OMNICHAT_ERR_UNAVAILABLE: return "unavailable";
        case OMNICHAT_ERR_BAD_RESPONSE: return "bad_response";
        default: return "error";
    }
}

// Durations for the metrics: the wall clock counts whole milliseconds (most
// calls to a near upstream take less) and may jump.
double secondsSince(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Failure timeoutFailure(const std::string& code, const std::string& detail) {
    return {Failure::Source::Provider, OMNICHAT_ERR_TIMEOUT, -1, detail, code};
}

// The oldest history message sent upstream: as many of the newest as the
// context budget allows next to the new message, starting with a question
// so the model never sees a reply without its question.
size_t contextStart(const HistoryCache::Messages& history, size_t newChars, size_t maxMessages, size_t maxChars) {
    size_t start = history.size(), chars = newChars;
    while (start > 0) {
        size_t next = chars + history[start - 1]->content.size();
        if ((maxMessages && history.size() - start + 1 > maxMessages) || (maxChars && next > maxChars)) break;
        chars = next;
        --start;
    }
    while (start < history.size() && history[start]->role != OMNICHAT_ROLE_USER) ++start;
    return start;
}

}  // namespace

Exchange::Exchange(const Config& config, Ports ports, domain::Conversation conversation, HistoryCache::History history,
                   std::vector<domain::Route> routes, domain::StoredMessage user, std::shared_ptr<StreamSink> sink,
                   Owner owner, bool confirmed, domain::Sampling sampling)
    : config_(config),
      ports_(ports),
      conversation_(std::move(conversation)),
      history_(std::move(history)),
      routes_(std::move(routes)),
      user_(std::move(user)),
      sink_(std::move(sink)),
      owner_(std::move(owner)),
      sampling_(sampling),
      confirmed_(confirmed),
      jitter_(static_cast<std::minstd_rand::result_type>(randomBits())) {}

Exchange::~Exchange() = default;

Exchange::State Exchange::state() const {
    std::lock_guard lock(mutex_);
    return state_;
}

void Exchange::After::run(Exchange& self) {
    if (cancel) cancel->cancel();
    if (store) {
        self.ports_.workers.submit([owner = self.shared_from_this()] { owner->store(); });
    }
    if (launch) self.launch();
    if (end && ended) ended(end->first, std::move(end->second), std::move(user));
}

void Exchange::start() {
    std::weak_ptr<Exchange> weak = shared_from_this();
    {
        std::lock_guard lock(mutex_);
        if (state_ != State::Idle) return;
        startedMs_ = nowUnixMs();
        totalTimer_ = ports_.timer.after(milliseconds(config_.totalTimeoutMs), [weak] {
            if (auto self = weak.lock()) self->onTimeout(0, Timeout::Total);
        });
        if (confirmed_) openStream();
        state_ = State::Calling;
    }
    launch();
}

// With the lock held, so no delta can overtake the stream's opening.
void Exchange::openStream() {
    if (!sink_ || streamOpened_) return;
    streamOpened_ = true;
    std::weak_ptr<Exchange> weak = shared_from_this();
    sink_->started([weak] {
        if (auto self = weak.lock()) self->cancel();
    });
}

void Exchange::confirm() {
    After after;
    {
        std::lock_guard lock(mutex_);
        if (confirmed_ || state_ == State::Done) return;
        confirmed_ = true;
        openStream();
        if (sink_ && !heldText_.empty()) {
            deltaSent_ = true;
            sink_->delta(heldText_);  // a client gone is found by the next delta or the heartbeat
        }
        heldText_.clear();
        if (state_ == State::Confirming) {
            if (reply_) {
                state_ = State::Storing;
                after.store = true;
            } else if (failure_) {
                auto failure = std::move(*failure_);
                failure_.reset();
                finish(Ending::Failed, std::move(failure), after);
            }
        }
    }
    after.run(*this);
}

void Exchange::withdraw() {
    std::shared_ptr<ProviderPort::Call> abandoned;
    {
        std::lock_guard lock(mutex_);
        if (state_ == State::Done || state_ == State::Storing) return;
        if (state_ == State::Calling) observeAttempt("cancelled");
        abandoned = std::move(call_);
        ++attempt_;
        stopTimers();
        state_ = State::Done;
        heldText_.clear();
        reply_.reset();
        failure_.reset();
        owner_.ended = nullptr;
    }
    if (abandoned) abandoned->cancel();
}

// Starting a call must never leave the client waiting: anything thrown
// ends the exchange with an internal error.
void Exchange::launch() {
    uint64_t id;
    domain::Route route;
    {
        std::lock_guard lock(mutex_);
        if (state_ != State::Calling) return;
        id = ++attempt_;
        ++tries_;
        sawDelta_ = false;
        heldText_.clear();
        route = routes_[route_];
        attemptStarted_ = std::chrono::steady_clock::now();
        std::weak_ptr<Exchange> weak = shared_from_this();
        firstTokenTimer_ = ports_.timer.after(milliseconds(config_.firstTokenTimeoutMs), [weak, id] {
            if (auto self = weak.lock()) self->onTimeout(id, Timeout::FirstToken);
        });
    }
    spdlog::debug("attempt {} of conversation {}: {} (model '{}')", id, conversation_.id, route.provider, route.model);
    std::weak_ptr<Exchange> weak = shared_from_this();
    ProviderPort::Events events{
        [weak, id](std::string_view text) {
            bool keepGoing = false;
            if (auto self = weak.lock()) self->onDelta(id, text, keepGoing);
            return keepGoing;
        },
        [self = shared_from_this(), id](domain::ProviderReply&& reply) { self->onReply(id, std::move(reply)); }};
    std::shared_ptr<ProviderPort::Call> call;
    try {
        call = ports_.providers.start(route.provider, request(route.model), std::move(events));
    } catch (const std::exception& e) {
        After after;
        {
            std::lock_guard lock(mutex_);
            if (state_ != State::Calling || attempt_ != id) return;
            ++attempt_;
            fail({Failure::Source::Service, OMNICHAT_ERR_INTERNAL, -1, std::string("cannot start: ") + e.what()},
                 after);
        }
        return after.run(*this);
    }
    {
        std::lock_guard lock(mutex_);
        // Still this attempt's (its reply may have come already): keep it
        // for cancelling. Otherwise it was abandoned while starting.
        if (state_ == State::Calling && attempt_ == id) {
            call_ = call;
            return;
        }
    }
    call->cancel();
}

ProviderRequest Exchange::request(const std::string& model) const {
    ProviderRequest request;
    request.model = model;
    const auto& history = *history_;
    const auto& systemPrompt = conversation_.systemPrompt.empty() ? config_.systemPrompt : conversation_.systemPrompt;
    const size_t start =
        contextStart(history, user_.content.size(), config_.contextMaxMessages, config_.contextMaxChars);
    request.messages.reserve(history.size() - start + 2);
    if (!systemPrompt.empty()) request.messages.push_back({OMNICHAT_ROLE_SYSTEM, systemPrompt});
    for (size_t i = start; i < history.size(); ++i) request.messages.push_back({history[i]->role, history[i]->content});
    request.messages.push_back({OMNICHAT_ROLE_USER, user_.content});
    request.deadlineUnixMs = startedMs_ + config_.totalTimeoutMs;
    request.stream = sink_ != nullptr;
    request.connectTimeoutMs = config_.connectTimeoutMs;
    request.sampling = sampling_;
    return request;
}

void Exchange::onDelta(uint64_t attempt, std::string_view text, bool& keepGoing) {
    std::lock_guard lock(mutex_);
    if (state_ != State::Calling || attempt != attempt_) return;
    if (!sawDelta_) {
        sawDelta_ = true;
        ports_.timer.cancel(firstTokenTimer_);
        if (ports_.metrics) ports_.metrics->observeFirstToken(routes_[route_].provider, secondsSince(attemptStarted_));
    }
    ports_.timer.cancel(idleTimer_);
    std::weak_ptr<Exchange> weak = shared_from_this();
    idleTimer_ = ports_.timer.after(milliseconds(config_.idleTimeoutMs), [weak, attempt] {
        if (auto self = weak.lock()) self->onTimeout(attempt, Timeout::Idle);
    });
    keepGoing = true;
    if (!sink_) return;
    if (!confirmed_) {
        heldText_.append(text);
        return;
    }
    deltaSent_ = true;
    keepGoing = sink_->delta(text);
}

void Exchange::onReply(uint64_t attempt, domain::ProviderReply&& reply) {
    After after;
    {
        std::lock_guard lock(mutex_);
        if (state_ != State::Calling || attempt != attempt_) return;  // an abandoned attempt's
        ports_.timer.cancel(firstTokenTimer_);
        ports_.timer.cancel(idleTimer_);
        call_.reset();
        const auto& route = routes_[route_];
        observeAttempt(outcomeName(reply.status));
        if (reply.status == OMNICHAT_OK) {
            if (ports_.metrics)
                ports_.metrics->countTokens(route.provider, reply.usage.promptTokens, reply.usage.completionTokens);
            ports_.timer.cancel(totalTimer_);
            reply_ = std::move(reply);
            state_ = confirmed_ ? State::Storing : State::Confirming;
            after.store = confirmed_;
        } else {
            Failure failure{Failure::Source::Provider, reply.status, reply.retryAfterMs,
                            route.provider + ": " + reply.message,
                            reply.status == OMNICHAT_ERR_CONNECT_TIMEOUT ? "provider_timeout_connect" : ""};
            decide(std::move(failure), isRetryable(reply.status, reply.httpStatus), reply.retryAfterMs, after);
        }
    }
    after.run(*this);
}

void Exchange::onTimeout(uint64_t attempt, Timeout kind) {
    After after;
    {
        std::lock_guard lock(mutex_);
        if (kind == Timeout::Total) {
            if (state_ != State::Calling && state_ != State::BackingOff) return;
        } else if (state_ != State::Calling || attempt != attempt_) {
            return;
        }
        after.cancel = std::move(call_);
        if (state_ == State::Calling)
            observeAttempt(kind == Timeout::FirstToken ? "timeout_first_token"
                           : kind == Timeout::Idle     ? "timeout_idle"
                                                       : "timeout_total");
        ++attempt_;  // whatever the abandoned call reports is ignored
        if (kind == Timeout::Total) {
            fail(timeoutFailure("provider_timeout", "the exchange exceeded its total timeout"), after);
        } else {
            ports_.timer.cancel(firstTokenTimer_);
            ports_.timer.cancel(idleTimer_);
            const bool first = kind == Timeout::FirstToken;
            decide(timeoutFailure(
                       first ? "provider_timeout_first_token" : "provider_timeout_idle",
                       routes_[route_].provider + (first ? ": no first token in time" : ": stream went silent")),
                   true, -1, after);
        }
    }
    after.run(*this);
}

void Exchange::onBackoffOver(uint64_t attempt) {
    {
        std::lock_guard lock(mutex_);
        if (state_ != State::BackingOff || attempt != attempt_) return;
        state_ = State::Calling;
    }
    launch();
}

bool Exchange::cancel(Why why) {
    After after;
    {
        std::lock_guard lock(mutex_);
        if (state_ != State::Calling && state_ != State::BackingOff) return false;
        after.cancel = std::move(call_);
        if (state_ == State::Calling) observeAttempt("cancelled");
        ++attempt_;
        // A client still there is told its call was cancelled (503, try
        // again); one that left is logged as gone (499).
        finish(Ending::Cancelled,
               why == Why::ClientGone
                   ? Failure{Failure::Source::Service, OMNICHAT_ERR_CANCELLED, -1, "no one waits for the reply"}
                   : Failure{Failure::Source::Provider, OMNICHAT_ERR_CANCELLED, -1, "the server is stopping"},
               after);
    }
    spdlog::info("send in conversation {} cancelled (its client left, or the server is stopping); nothing stored",
                 conversation_.id);
    after.run(*this);
    return true;
}

void Exchange::decide(Failure failure, bool retryable, int64_t retryAfterMs, After& after) {
    if (retryable && !deltaSent_) {
        const int64_t remaining = startedMs_ + config_.totalTimeoutMs - nowUnixMs();
        const auto& provider = routes_[route_].provider;
        if (tries_ < config_.retry.maxAttempts) {
            double jitter = std::uniform_real_distribution<double>(0.0, 1.0)(jitter_);
            int64_t delay = retryDelayMs(config_.retry, tries_, retryAfterMs, jitter);
            if (delay < remaining) {
                spdlog::warn("retrying {} in {} ms (attempt {}): {}", provider, delay, tries_ + 1, failure.detail);
                if (ports_.metrics) ports_.metrics->countRetry(provider);
                state_ = State::BackingOff;
                const uint64_t id = ++attempt_;
                // Holds the exchange: between attempts nothing else does.
                backoffTimer_ = ports_.timer.after(milliseconds(delay),
                                                   [self = shared_from_this(), id] { self->onBackoffOver(id); });
                return;
            }
        }
        if (route_ + 1 < routes_.size() && remaining > 0) {
            spdlog::warn("falling back from {} to {}: {}", provider, routes_[route_ + 1].provider, failure.detail);
            if (ports_.metrics) ports_.metrics->countFallback(provider);
            ++route_;
            tries_ = 0;
            after.launch = true;
            return;
        }
    }
    fail(std::move(failure), after);
}

void Exchange::fail(Failure failure, After& after) {
    stopTimers();
    if (!confirmed_) {
        // The history it was sent may not be storage's: answered only
        // once confirmed (a withdrawn send starts again instead).
        failure_ = std::move(failure);
        state_ = State::Confirming;
        return;
    }
    finish(Ending::Failed, std::move(failure), after);
}

void Exchange::finish(Ending ending, domain::Outcome<domain::StoredMessage> outcome, After& after) {
    stopTimers();
    state_ = State::Done;
    after.end.emplace(ending, std::move(outcome));
    after.ended = std::move(owner_.ended);
    owner_.ended = nullptr;
    after.user = std::move(user_);
}

void Exchange::observeAttempt(const char* outcome) {
    if (!ports_.metrics) return;
    const auto& route = routes_[route_];
    ports_.metrics->observeProviderCall(route.provider, route.model, outcome, secondsSince(attemptStarted_));
}

void Exchange::stopTimers() {
    ports_.timer.cancel(firstTokenTimer_);
    ports_.timer.cancel(idleTimer_);
    ports_.timer.cancel(totalTimer_);
    ports_.timer.cancel(backoffTimer_);
}

// On a worker: storing blocks.
void Exchange::store() {
    domain::ProviderReply reply;
    domain::Route route;
    {
        std::lock_guard lock(mutex_);
        if (state_ != State::Storing || !reply_) return;
        reply = std::move(*reply_);
        reply_.reset();
        route = routes_[route_];
    }
    const int64_t finished = nowUnixMs();
    user_.createdAtMs = finished;
    domain::StoredMessage assistant;
    assistant.id = newUuid();
    assistant.conversationId = conversation_.id;
    assistant.role = OMNICHAT_ROLE_ASSISTANT;
    assistant.content = std::move(reply.text);
    // One millisecond later, so timestamps order the pair as the history does.
    assistant.createdAtMs = finished + 1;
    assistant.provider = route.provider;
    assistant.model = reply.model.empty() ? route.model : reply.model;
    assistant.finishReason = reply.finishReason;
    assistant.latencyMs = finished - startedMs_;
    assistant.usage = reply.usage;

    Ending ending = Ending::Committed;
    domain::Outcome<domain::StoredMessage> outcome = Failure{Failure::Source::Service, OMNICHAT_ERR_INTERNAL};
    if (!isStorableText(assistant.content)) {
        ending = Ending::Failed;
        outcome = Failure{Failure::Source::Provider, OMNICHAT_ERR_BAD_RESPONSE, -1,
                          route.provider + ": reply is not valid UTF-8 text", ""};
    } else {
        try {
            switch (owner_.append(user_, assistant)) {
                case StoragePort::Appended::Yes: outcome = std::move(assistant); break;
                case StoragePort::Appended::Gone:
                    ending = Ending::Gone;
                    outcome = Failure{Failure::Source::Storage, OMNICHAT_ERR_NOT_FOUND, -1, "conversation is gone", ""};
                    break;
                case StoragePort::Appended::Changed:
                    ending = Ending::HistoryChanged;
                    outcome = Failure{Failure::Source::Storage, OMNICHAT_ERR_CONFLICT, -1, "the history changed", ""};
                    break;
            }
        } catch (const StorageError& e) {
            ending = Ending::Failed;
            outcome = Failure{Failure::Source::Storage, e.status(), -1, e.what(), ""};
        }
    }
    After after;
    {
        std::lock_guard lock(mutex_);
        finish(ending, std::move(outcome), after);
    }
    after.run(*this);
}

}  // namespace omnichat
