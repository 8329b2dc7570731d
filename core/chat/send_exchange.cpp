#include "chat/send_exchange.hpp"

#include <spdlog/spdlog.h>

#include "chat/retry_policy.hpp"
#include "chat/storage_client.hpp"
#include "common/ids.hpp"
#include "observability/metrics.hpp"
#include "runtime/worker_pool.hpp"

namespace omnichat {
namespace {

using std::chrono::milliseconds;

// The outcome label of a failed provider attempt in the metrics.
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

}  // namespace

SendExchange::SendExchange(Services services, Conversation conversation, HistoryCache::History history,
                           std::vector<Route> routes, StoredMessage user, std::shared_ptr<StreamSink> sink,
                           Reply<StoredMessage> reply)
    : s_(services),
      conversation_(std::move(conversation)),
      history_(std::move(history)),
      user_(std::move(user)),
      sink_(std::move(sink)),
      reply_(std::move(reply)),
      routes_(std::move(routes)),
      jitter_(static_cast<std::minstd_rand::result_type>(randomBits())) {}

void SendExchange::start() {
    std::weak_ptr<SendExchange> weak = shared_from_this();
    {
        std::lock_guard lock(mutex_);
        startedMs_ = nowUnixMs();
        totalTimer_ = s_.timer.after(milliseconds(s_.config.totalTimeoutMs), [weak] {
            if (auto self = weak.lock()) self->onTimeout(0, Timeout::Total);
        });
        if (confirmed_) openStream();
    }
    launch();
}

void SendExchange::startUnconfirmed() {
    confirmed_ = false;  // no other thread knows the exchange yet
    start();
}

void SendExchange::startCheckedAtAppend(AppendCheck check) {
    check_ = std::move(check);  // no other thread knows the exchange yet
    start();
}

// Called with the lock held, so that no delta can overtake the stream's
// opening.
void SendExchange::openStream() {
    if (!sink_) return;
    std::weak_ptr<SendExchange> weak = shared_from_this();
    sink_->started([weak] {
        if (auto self = weak.lock()) self->abort();
    });
}

// Storage confirmed what the exchange started from: what was held back goes
// out now, in the order it would have.
void SendExchange::confirm() {
    std::optional<std::pair<ProviderOutcome, Route>> stored;
    std::optional<Outcome<StoredMessage>> replied;
    {
        std::lock_guard lock(mutex_);
        confirmed_ = true;
        openStream();
        if (sink_ && !heldText_.empty()) {
            deltaSent_ = true;
            sink_->delta(heldText_);  // a client gone is found by the next delta or the heartbeat
        }
        heldText_.clear();
        stored = std::move(heldStore_);
        replied = std::move(heldReply_);
    }
    if (stored) submitStore(std::move(stored->first), std::move(stored->second));
    if (replied) reply_(std::move(*replied));
}

// Storage did not confirm it: the call is cancelled and what it produced
// dropped. The caller answers with the reply, or starts again.
Reply<StoredMessage> SendExchange::withdraw() {
    std::shared_ptr<CallControl> abandoned;
    {
        std::lock_guard lock(mutex_);
        if (!finished_ && control_) observeAttempt("cancelled");
        abandoned = control_;
        ++attempt_;
        finished_ = true;
        stopTimers();
        heldText_.clear();
        heldStore_.reset();
        heldReply_.reset();
    }
    if (abandoned) abandoned->cancel();
    return std::move(reply_);
}

// Starting a call must never leave the client waiting: anything thrown
// ends the exchange with an internal error.
void SendExchange::launch() {
    try {
        startAttempt();
    } catch (const std::exception& e) {
        {
            std::lock_guard lock(mutex_);
            if (finished_) return;
            finished_ = true;
            stopTimers();
        }
        finish(Failure{Failure::Source::Service, OMNICHAT_ERR_INTERNAL, -1, std::string("cannot start: ") + e.what()});
    }
}

void SendExchange::startAttempt() {
    std::weak_ptr<SendExchange> weak = shared_from_this();
    auto control = std::make_shared<CallControl>();
    uint64_t id;
    Route route;
    {
        std::lock_guard lock(mutex_);
        if (finished_) return;
        id = ++attempt_;
        ++tries_;
        sawDelta_ = false;
        heldText_.clear();
        route = routes_[route_];
        control_ = control;
        attemptStarted_ = std::chrono::steady_clock::now();
        firstTokenTimer_ = s_.timer.after(milliseconds(s_.config.firstTokenTimeoutMs), [weak, id] {
            if (auto self = weak.lock()) self->onTimeout(id, Timeout::FirstToken);
        });
    }
    auto& provider = *s_.providers.at(route.provider);
    control->cancelHook = provider.library().provider().cancel_chat;
    control->instance = provider.handle();
    control->onDelta = [weak, id](std::string_view text) {
        auto self = weak.lock();
        return self && self->onDelta(id, text);
    };
    control->done = [self = shared_from_this(), id](ProviderOutcome&& outcome) {
        self->onOutcome(id, std::move(outcome));
    };

    std::vector<omnichat_message_t> messages;
    const auto& history = *history_;
    messages.reserve(history.size() + 2);
    auto add = [&](omnichat_role_t role, const std::string& text) {
        messages.push_back({sizeof(omnichat_message_t), role, {text.data(), text.size()}});
    };
    const auto& systemPrompt = conversation_.systemPrompt.empty() ? s_.config.systemPrompt : conversation_.systemPrompt;
    if (!systemPrompt.empty()) add(OMNICHAT_ROLE_SYSTEM, systemPrompt);
    for (size_t i = contextStart(); i < history.size(); ++i) add(history[i]->role, history[i]->content);
    add(OMNICHAT_ROLE_USER, user_.content);
    std::vector<const omnichat_message_t*> pointers;
    pointers.reserve(messages.size());
    for (const auto& m : messages) pointers.push_back(&m);

    omnichat_chat_request_t request{};
    request.struct_size = sizeof request;
    request.model = {route.model.data(), route.model.size()};
    request.messages = pointers.data();
    request.message_count = pointers.size();
    request.deadline_unix_ms = startedMs_ + s_.config.totalTimeoutMs;
    request.stream = sink_ != nullptr;
    request.connect_timeout_ms = s_.config.connectTimeoutMs;

    auto* call = new omnichat_call{{}, control};
    control->call = call;
    spdlog::debug("attempt {} of conversation {}: {} (model '{}')", id, conversation_.id, route.provider, route.model);
    provider.library().provider().start_chat(provider.handle(), &request, call);
}

bool SendExchange::onDelta(uint64_t attempt, std::string_view text) {
    std::weak_ptr<SendExchange> weak = shared_from_this();
    std::lock_guard lock(mutex_);
    if (finished_ || attempt != attempt_) return false;
    if (!sawDelta_) {
        sawDelta_ = true;
        s_.timer.cancel(firstTokenTimer_);
        s_.metrics.observeFirstToken(routes_[route_].provider, secondsSince(attemptStarted_));
    }
    s_.timer.cancel(idleTimer_);
    idleTimer_ = s_.timer.after(milliseconds(s_.config.idleTimeoutMs), [weak, attempt] {
        if (auto self = weak.lock()) self->onTimeout(attempt, Timeout::Idle);
    });
    if (!sink_) return true;
    if (!confirmed_) {
        heldText_.append(text);
        return true;
    }
    deltaSent_ = true;
    return sink_->delta(text);
}

void SendExchange::onOutcome(uint64_t attempt, ProviderOutcome&& outcome) {
    Next next;
    {
        std::lock_guard lock(mutex_);
        if (finished_ || attempt != attempt_) return;  // abandoned attempt
        s_.timer.cancel(firstTokenTimer_);
        s_.timer.cancel(idleTimer_);
        const Route& route = routes_[route_];
        observeAttempt(outcomeName(outcome.status));
        if (outcome.status == OMNICHAT_OK) {
            s_.metrics.countTokens(route.provider, outcome.promptTokens, outcome.completionTokens);
            finished_ = true;
            s_.timer.cancel(totalTimer_);
            if (confirmed_)
                submitStore(std::move(outcome), route);
            else
                heldStore_.emplace(std::move(outcome), route);
            return;
        }
        Failure failure{Failure::Source::Provider, outcome.status, outcome.retryAfterMs,
                        route.provider + ": " + outcome.message,
                        outcome.status == OMNICHAT_ERR_CONNECT_TIMEOUT ? "provider_timeout_connect" : ""};
        next = decide(std::move(failure), isRetryable(outcome.status, outcome.httpStatus), outcome.retryAfterMs);
    }
    apply(std::move(next));
}

void SendExchange::onTimeout(uint64_t attempt, Timeout kind) {
    std::shared_ptr<CallControl> abandoned;
    Next next;
    {
        std::lock_guard lock(mutex_);
        if (finished_ || (kind != Timeout::Total && attempt != attempt_)) return;
        abandoned = control_;
        observeAttempt(kind == Timeout::FirstToken ? "timeout_first_token"
                       : kind == Timeout::Idle     ? "timeout_idle"
                                                   : "timeout_total");
        ++attempt_;  // whatever the abandoned call reports is ignored
        if (kind == Timeout::Total) {
            stopTimers();
            next = {Next::Fail, 0, timeoutFailure("provider_timeout", "the exchange exceeded its total timeout")};
        } else {
            s_.timer.cancel(firstTokenTimer_);
            s_.timer.cancel(idleTimer_);
            bool first = kind == Timeout::FirstToken;
            next = decide(timeoutFailure(
                              first ? "provider_timeout_first_token" : "provider_timeout_idle",
                              routes_[route_].provider + (first ? ": no first token in time" : ": stream went silent")),
                          true, -1);
        }
    }
    if (abandoned) abandoned->cancel();
    apply(std::move(next));
}

void SendExchange::abort() {
    std::shared_ptr<CallControl> abandoned;
    {
        std::lock_guard lock(mutex_);
        if (finished_) return;
        abandoned = control_;
        if (abandoned) observeAttempt("cancelled");
        ++attempt_;
        stopTimers();
        finished_ = true;
    }
    spdlog::info("client left mid-stream in conversation {}; upstream call cancelled, nothing stored",
                 conversation_.id);
    if (abandoned) abandoned->cancel();
    reply_(Failure{Failure::Source::Service, OMNICHAT_ERR_CANCELLED, -1, "client disconnected", ""});
}

// Called with the lock held.
SendExchange::Next SendExchange::decide(Failure failure, bool retryable, int64_t retryAfterMs) {
    if (retryable && !deltaSent_) {
        int64_t remaining = startedMs_ + s_.config.totalTimeoutMs - nowUnixMs();
        if (tries_ < s_.config.retry.maxAttempts) {
            double jitter = std::uniform_real_distribution<double>(0.0, 1.0)(jitter_);
            int64_t delay = retryDelayMs(s_.config.retry, tries_, retryAfterMs, jitter);
            if (delay < remaining) {
                spdlog::warn("retrying {} in {} ms (attempt {}): {}", routes_[route_].provider, delay, tries_ + 1,
                             failure.detail);
                s_.metrics.countRetry(routes_[route_].provider);
                return {Next::Retry, delay, std::move(failure)};
            }
        }
        if (route_ + 1 < routes_.size() && remaining > 0) {
            spdlog::warn("falling back from {} to {}: {}", routes_[route_].provider, routes_[route_ + 1].provider,
                         failure.detail);
            s_.metrics.countFallback(routes_[route_].provider);
            ++route_;
            tries_ = 0;
            return {Next::Fallback, 0, std::move(failure)};
        }
    }
    finished_ = true;
    stopTimers();
    return {Next::Fail, 0, std::move(failure)};
}

void SendExchange::apply(Next next) {
    switch (next.action) {
        case Next::Retry:
            s_.timer.after(milliseconds(next.delayMs), [self = shared_from_this()] { self->launch(); });
            return;
        case Next::Fallback: launch(); return;
        case Next::Fail: finish(std::move(next.failure)); return;
    }
}

void SendExchange::observeAttempt(const std::string& outcome) {
    const Route& route = routes_[route_];
    s_.metrics.observeProviderCall(route.provider, route.model, outcome, secondsSince(attemptStarted_));
}

// Called with the lock held.
void SendExchange::stopTimers() {
    s_.timer.cancel(firstTokenTimer_);
    s_.timer.cancel(idleTimer_);
    s_.timer.cancel(totalTimer_);
}

// Storing blocks, and this may run on the HTTP client's thread.
void SendExchange::submitStore(ProviderOutcome outcome, Route route) {
    s_.pool.submitContinuation([self = shared_from_this(), outcome = std::move(outcome), route]() mutable {
        self->store(std::move(outcome), std::move(route));
    });
}

void SendExchange::store(ProviderOutcome outcome, Route route) {
    int64_t finished = nowUnixMs();
    user_.createdAtMs = finished;
    StoredMessage assistant;
    assistant.id = newUuid();
    assistant.conversationId = conversation_.id;
    assistant.role = OMNICHAT_ROLE_ASSISTANT;
    assistant.content = std::move(outcome.text);
    // One millisecond later, so timestamps order the pair as the history does.
    assistant.createdAtMs = finished + 1;
    assistant.provider = route.provider;
    assistant.model = outcome.model.empty() ? route.model : outcome.model;
    assistant.finishReason = outcome.finishReason;
    assistant.promptTokens = outcome.promptTokens;
    assistant.completionTokens = outcome.completionTokens;
    assistant.latencyMs = finished - startedMs_;
    assistant.cachedTokens = outcome.cachedTokens;
    assistant.reasoningTokens = outcome.reasoningTokens;
    assistant.cost = outcome.cost;
    if (!isStorableText(assistant.content))
        return finish(Failure{Failure::Source::Provider, OMNICHAT_ERR_BAD_RESPONSE, -1,
                              route.provider + ": reply is not valid UTF-8 text", ""});
    try {
        using Appended = StorageClient::Appended;
        auto appended = Appended::Yes;
        if (check_)
            appended = appendChecked(assistant);
        else if (!s_.storage.appendExchange(user_, assistant))
            appended = Appended::Gone;
        if (appended == Appended::Changed) return;  // started again from storage's history
        if (appended == Appended::Gone)
            return finish(Failure{Failure::Source::Storage, OMNICHAT_ERR_NOT_FOUND, -1, "conversation is gone", ""});
        s_.histories.appended(conversation_.id, *history_, std::make_shared<const StoredMessage>(std::move(user_)),
                              std::make_shared<const StoredMessage>(assistant));
        finish(std::move(assistant));
    } catch (const StorageError& e) {
        finish(Failure{Failure::Source::Storage, e.status(), -1, e.what(), ""});
    }
}

StorageClient::Appended SendExchange::appendChecked(const StoredMessage& assistant) {
    using Appended = StorageClient::Appended;
    const auto& history = *history_;
    const int64_t expected = static_cast<int64_t>(history.size());
    const std::string lastId = history.empty() ? "" : history.back()->id;
    Appended appended;
    if (check_->othersBegan()) {
        // This host's other sends of the conversation append as they end,
        // after their own reads: as with a read at the start, what storage
        // holds must begin with the history this call was given.
        auto stored =
            s_.storage.loadConversation(conversation_.id, conversation_.userId, std::max<int64_t>(expected - 1, 0));
        if (!stored)
            appended = Appended::Gone;
        else if (stored->conversation.messageCount < expected ||
                 (expected > 0 && (stored->history.empty() || stored->history.front().id != lastId)))
            appended = Appended::Changed;
        else
            appended = s_.storage.appendExchange(user_, assistant) ? Appended::Yes : Appended::Gone;
    } else {
        appended = s_.storage.appendExchangeIfUnchanged(user_, assistant, expected, lastId);
    }
    if (appended == Appended::Yes) s_.metrics.countEarlyStart(true);
    if (appended != Appended::Changed) return appended;
    s_.metrics.countEarlyStart(false);
    s_.histories.changed(conversation_.id);
    check_->restart(std::move(user_), std::move(reply_));
    return appended;
}

void SendExchange::finish(Outcome<StoredMessage> outcome) {
    {
        std::lock_guard lock(mutex_);
        if (!confirmed_) {
            heldReply_ = std::move(outcome);
            return;
        }
    }
    reply_(std::move(outcome));
}

// The oldest history message sent upstream: as many of the newest as the
// context budget allows, next to the new message, starting with a user
// message so the model never sees a reply without its question.
size_t SendExchange::contextStart() const {
    const auto& history = *history_;
    size_t maxMessages = s_.config.contextMaxMessages, maxChars = s_.config.contextMaxChars;
    size_t start = history.size(), chars = user_.content.size();
    while (start > 0) {
        size_t next = chars + history[start - 1]->content.size();
        if ((maxMessages && history.size() - start + 1 > maxMessages) || (maxChars && next > maxChars)) break;
        chars = next;
        --start;
    }
    while (start < history.size() && history[start]->role != OMNICHAT_ROLE_USER) ++start;
    return start;
}

}  // namespace omnichat
