// The send's state machine, driven through every transition with fake
// ports: a provider whose calls the test answers, a timer the test moves,
// workers that run when the test says, a stream sink that records.
#include "chat/exchange.hpp"

#include <gtest/gtest.h>

#include <map>

namespace omnichat {
namespace {

using domain::ProviderReply;
using domain::StoredMessage;
using State = Exchange::State;
using Ending = Exchange::Ending;

class FakeProviders : public ProviderPort {
public:
    struct FakeCall : Call {
        bool cancelled = false;
        void cancel() override { cancelled = true; }
    };
    struct Started {
        std::string provider, model;
        std::vector<std::string> messages;  // "role:content"
        bool stream;
        Events events;
        std::shared_ptr<FakeCall> call;
    };
    bool has(const std::string&) const override { return true; }
    std::optional<std::string> option(const std::string&, const std::string&) const override { return std::nullopt; }
    std::shared_ptr<Call> start(const std::string& provider, const ProviderRequest& request, Events events) override {
        if (throwOnStart) throw std::runtime_error("no such library");
        Started s{provider,       std::string(request.model), {},
                  request.stream, std::move(events),          std::make_shared<FakeCall>()};
        for (const auto& m : request.messages)
            s.messages.push_back(std::to_string(static_cast<int>(m.role)) + ":" + std::string(m.content));
        calls.push_back(std::move(s));
        return calls.back().call;
    }
    // Answers the latest call.
    bool delta(const std::string& text) { return calls.back().events.delta(text); }
    void reply(const std::string& text) {
        ProviderReply r;
        r.status = OMNICHAT_OK;
        r.text = text;
        r.finishReason = "stop";
        r.usage.promptTokens = 3;
        finish(calls.size() - 1, std::move(r));
    }
    void fail(omnichat_status_t status, int32_t httpStatus = 0, size_t which = SIZE_MAX) {
        ProviderReply r;
        r.status = status;
        r.httpStatus = httpStatus;
        r.message = "upstream said no";
        finish(which == SIZE_MAX ? calls.size() - 1 : which, std::move(r));
    }
    // As the real port: a finished call lets go of its callbacks.
    void finish(size_t which, ProviderReply r) {
        auto done = std::move(calls[which].events.done);
        calls[which].events = {};
        if (done) done(std::move(r));
    }
    std::vector<Started> calls;
    bool throwOnStart = false;
};

// Time moves only when the test moves it.
class FakeTimer : public Scheduler {
public:
    Id after(std::chrono::milliseconds delay, std::function<void()> fn) override {
        pending_[++next_] = {now_ + delay.count(), std::move(fn)};
        return next_;
    }
    bool cancel(Id id) override { return pending_.erase(id) > 0; }
    // Runs, in time order, what falls due within `ms`.
    void advance(int64_t ms) {
        const int64_t until = now_ + ms;
        for (;;) {
            auto next = pending_.end();
            for (auto it = pending_.begin(); it != pending_.end(); ++it)
                if (it->second.first <= until && (next == pending_.end() || it->second.first < next->second.first))
                    next = it;
            if (next == pending_.end()) break;
            now_ = next->second.first;
            auto fn = std::move(next->second.second);
            pending_.erase(next);
            fn();
        }
        now_ = until;
    }
    size_t armed() const { return pending_.size(); }

private:
    std::map<Id, std::pair<int64_t, std::function<void()>>> pending_;
    Id next_ = 0;
    int64_t now_ = 0;
};

class QueuedWorkers : public Executor {
public:
    void submit(std::function<void()> task) override { tasks.push_back(std::move(task)); }
    void runAll() {
        while (!tasks.empty()) {
            auto task = std::move(tasks.front());
            tasks.erase(tasks.begin());
            task();
        }
    }
    std::vector<std::function<void()>> tasks;
};

class RecordingSink : public StreamSink {
public:
    void started(std::function<void()> abortFn) override {
        opened = true;
        abort = std::move(abortFn);
    }
    bool delta(std::string_view text) override {
        text_ += text;
        return clientThere;
    }
    bool opened = false;
    bool clientThere = true;
    std::string text_;
    std::function<void()> abort;
};

class ExchangeTest : public ::testing::Test {
protected:
    ExchangeTest() {
        config_.retry = {3, 500, 8000, 60000};
        config_.firstTokenTimeoutMs = 1000;
        config_.idleTimeoutMs = 1000;
        config_.totalTimeoutMs = 30000;
        config_.systemPrompt = "Be terse.";
    }

    std::shared_ptr<Exchange> make(bool confirmed = true, bool stream = true,
                                   std::vector<domain::Route> routes = {{"main", "m1"}}) {
        domain::Conversation conversation;
        conversation.id = "c1";
        conversation.userId = "u1";
        domain::StoredMessage earlier;
        earlier.id = "q0";
        earlier.content = "earlier question";
        auto history = HistoryCache::historyOf({earlier});
        StoredMessage user;
        user.id = "q1";
        user.conversationId = "c1";
        user.content = "hello";
        if (stream) sink_ = std::make_shared<RecordingSink>();
        Exchange::Owner owner{[this](const StoredMessage& question, const StoredMessage& reply) {
                                  appended_.emplace_back(question, reply);
                                  if (appendThrows_) throw StorageError(OMNICHAT_ERR_UNAVAILABLE, "database down");
                                  return appendResult_;
                              },
                              [this](Ending ending, domain::Outcome<StoredMessage> out, StoredMessage user) {
                                  ++ended_;
                                  ending_ = ending;
                                  outcome_ = std::move(out);
                                  returned_ = std::move(user);
                              }};
        return std::make_shared<Exchange>(config_, Exchange::Ports{providers_, timer_, workers_, nullptr}, conversation,
                                          history, std::move(routes), user, sink_, std::move(owner), confirmed);
    }
    const domain::Failure& failure() const { return std::get<domain::Failure>(*outcome_); }

    Config config_;
    FakeProviders providers_;
    FakeTimer timer_;
    QueuedWorkers workers_;
    std::shared_ptr<RecordingSink> sink_;
    std::vector<std::pair<StoredMessage, StoredMessage>> appended_;
    StoragePort::Appended appendResult_ = StoragePort::Appended::Yes;
    bool appendThrows_ = false;
    int ended_ = 0;
    std::optional<Ending> ending_;
    std::optional<domain::Outcome<StoredMessage>> outcome_;
    std::optional<StoredMessage> returned_;
};

TEST_F(ExchangeTest, AReplyIsStreamedThenStored) {
    auto exchange = make();
    EXPECT_EQ(exchange->state(), State::Idle);
    exchange->start();
    EXPECT_EQ(exchange->state(), State::Calling);
    EXPECT_TRUE(sink_->opened);
    ASSERT_EQ(providers_.calls.size(), 1u);
    const auto& call = providers_.calls[0];
    EXPECT_EQ(call.provider, "main");
    EXPECT_EQ(call.model, "m1");
    EXPECT_TRUE(call.stream);
    EXPECT_EQ(call.messages, (std::vector<std::string>{"0:Be terse.", "1:earlier question", "1:hello"}));
    EXPECT_TRUE(providers_.delta("Hel"));
    EXPECT_TRUE(providers_.delta("lo"));
    EXPECT_EQ(sink_->text_, "Hello");
    providers_.reply("Hello");
    EXPECT_EQ(exchange->state(), State::Storing);
    EXPECT_TRUE(appended_.empty()) << "stored off the provider's thread";
    workers_.runAll();
    EXPECT_EQ(exchange->state(), State::Done);
    ASSERT_EQ(appended_.size(), 1u);
    EXPECT_EQ(appended_[0].first.content, "hello");
    EXPECT_EQ(appended_[0].second.content, "Hello");
    EXPECT_EQ(appended_[0].second.provider, "main");
    EXPECT_LT(appended_[0].first.createdAtMs, appended_[0].second.createdAtMs);
    EXPECT_EQ(ended_, 1);
    EXPECT_EQ(ending_, Ending::Committed);
    EXPECT_EQ(std::get<StoredMessage>(*outcome_).content, "Hello");
    EXPECT_EQ(timer_.armed(), 0u) << "a timer outlived the exchange";
}

TEST_F(ExchangeTest, ARetryableFailureWaitsItsBackoffThenTriesAgain) {
    auto exchange = make();
    exchange->start();
    providers_.fail(OMNICHAT_ERR_RATE_LIMITED, 429);
    std::weak_ptr<Exchange> weak = exchange;
    exchange.reset();  // between attempts only the backoff holds it
    exchange = weak.lock();
    ASSERT_TRUE(exchange);
    EXPECT_EQ(exchange->state(), State::BackingOff);
    EXPECT_EQ(providers_.calls.size(), 1u);
    timer_.advance(374);  // the first backoff: 500 ms less up to 25% of jitter
    EXPECT_EQ(providers_.calls.size(), 1u);
    timer_.advance(126);
    ASSERT_EQ(providers_.calls.size(), 2u);
    EXPECT_EQ(exchange->state(), State::Calling);
    providers_.reply("ok");
    workers_.runAll();
    EXPECT_EQ(ending_, Ending::Committed);
}

TEST_F(ExchangeTest, ExhaustedRetriesFallBackToTheNextRoute) {
    config_.firstTokenTimeoutMs = 60000;
    auto exchange = make(true, true, {{"main", "m1"}, {"spare", "m2"}});
    exchange->start();
    for (int i = 0; i < 3; ++i) {
        providers_.fail(OMNICHAT_ERR_UNAVAILABLE, 503);
        timer_.advance(2000);  // the longest of these backoffs
    }
    ASSERT_EQ(providers_.calls.size(), 4u);
    EXPECT_EQ(providers_.calls[3].provider, "spare");
    EXPECT_EQ(providers_.calls[3].model, "m2");
    providers_.reply("from the spare");
    workers_.runAll();
    EXPECT_EQ(appended_.at(0).second.provider, "spare");
}

TEST_F(ExchangeTest, AFailureThatIsTheRequestsOwnFaultEndsIt) {
    auto exchange = make(true, true, {{"main", "m1"}, {"spare", "m2"}});
    exchange->start();
    providers_.fail(OMNICHAT_ERR_AUTH, 401);
    EXPECT_EQ(exchange->state(), State::Done);
    EXPECT_EQ(ending_, Ending::Failed);
    EXPECT_EQ(failure().status, OMNICHAT_ERR_AUTH);
    EXPECT_EQ(providers_.calls.size(), 1u);
    EXPECT_TRUE(appended_.empty());
}

TEST_F(ExchangeTest, NothingIsRetriedOnceADeltaReachedTheClient) {
    auto exchange = make();
    exchange->start();
    providers_.delta("Half");
    providers_.fail(OMNICHAT_ERR_UNAVAILABLE, 503);
    EXPECT_EQ(ending_, Ending::Failed);
    EXPECT_EQ(providers_.calls.size(), 1u);
}

TEST_F(ExchangeTest, NoFirstTokenInTimeCancelsTheCallAndRetries) {
    auto exchange = make();
    exchange->start();
    timer_.advance(1000);
    EXPECT_TRUE(providers_.calls[0].call->cancelled);
    EXPECT_EQ(exchange->state(), State::BackingOff);
    providers_.fail(OMNICHAT_ERR_CANCELLED, 0, 0);  // the abandoned call's report changes nothing
    EXPECT_EQ(exchange->state(), State::BackingOff);
    timer_.advance(600);
    ASSERT_EQ(providers_.calls.size(), 2u);
    providers_.reply("late but fine");
    workers_.runAll();
    EXPECT_EQ(ending_, Ending::Committed);
}

TEST_F(ExchangeTest, AStreamThatGoesSilentAfterADeltaFails) {
    auto exchange = make();
    exchange->start();
    providers_.delta("Hel");
    timer_.advance(999);
    providers_.delta("lo");  // the idle timer starts again
    timer_.advance(999);
    EXPECT_EQ(exchange->state(), State::Calling);
    timer_.advance(1);
    EXPECT_TRUE(providers_.calls[0].call->cancelled);
    EXPECT_EQ(ending_, Ending::Failed);  // a delta reached the client: no retry
    EXPECT_EQ(failure().code, "provider_timeout_idle");
}

TEST_F(ExchangeTest, WithoutAStreamASilentCallIsRetried) {
    auto exchange = make(true, false);
    exchange->start();
    EXPECT_FALSE(providers_.calls[0].stream);
    providers_.delta("Hel");
    timer_.advance(1000);
    EXPECT_EQ(exchange->state(), State::BackingOff);  // nothing reached a client
}

TEST_F(ExchangeTest, TheTotalTimeoutEndsAnAttempt) {
    config_.firstTokenTimeoutMs = 60000;
    auto exchange = make();
    exchange->start();
    timer_.advance(30000);
    EXPECT_TRUE(providers_.calls[0].call->cancelled);
    EXPECT_EQ(ending_, Ending::Failed);
    EXPECT_EQ(failure().code, "provider_timeout");
}

// A backoff ends before the total timeout as the wall clock sees it; the
// timer's clock may see it otherwise (here: time passed only for the timer).
TEST_F(ExchangeTest, TheTotalTimeoutEndsABackoff) {
    config_.totalTimeoutMs = 2000;
    config_.firstTokenTimeoutMs = 60000;
    config_.retry.initialBackoffMs = 1500;
    auto exchange = make();
    exchange->start();
    timer_.advance(1900);
    providers_.fail(OMNICHAT_ERR_UNAVAILABLE, 503);
    ASSERT_EQ(exchange->state(), State::BackingOff);
    timer_.advance(200);
    EXPECT_EQ(ending_, Ending::Failed);
    EXPECT_EQ(failure().code, "provider_timeout");
    EXPECT_EQ(providers_.calls.size(), 1u) << "a retry started after the total timeout";
}

TEST_F(ExchangeTest, AClientLeavingDuringARetrysBackoffCancelsTheSend) {
    auto exchange = make();
    exchange->start();
    providers_.fail(OMNICHAT_ERR_UNAVAILABLE, 503);
    ASSERT_EQ(exchange->state(), State::BackingOff);
    sink_->abort();
    EXPECT_EQ(ending_, Ending::Cancelled);
    EXPECT_EQ(failure().status, OMNICHAT_ERR_CANCELLED);
    timer_.advance(60000);
    EXPECT_EQ(providers_.calls.size(), 1u) << "the retry still started";
    EXPECT_EQ(ended_, 1);
    EXPECT_EQ(timer_.armed(), 0u);
}

TEST_F(ExchangeTest, AClientLeavingMidStreamCancelsTheCall) {
    auto exchange = make();
    exchange->start();
    providers_.delta("Hel");
    sink_->clientThere = false;
    EXPECT_FALSE(providers_.delta("lo"));  // the provider is told to stop
    sink_->abort();                        // the heartbeat found the client gone
    EXPECT_TRUE(providers_.calls[0].call->cancelled);
    EXPECT_EQ(ending_, Ending::Cancelled);
    providers_.fail(OMNICHAT_ERR_CANCELLED);
    EXPECT_EQ(ended_, 1);
}

TEST_F(ExchangeTest, TimeoutsAndALeavingClientDuringTheAppendChangeNothing) {
    auto exchange = make();
    exchange->start();
    providers_.reply("done");
    ASSERT_EQ(exchange->state(), State::Storing);
    timer_.advance(600000);  // the total timeout, had it stayed armed
    sink_->abort();
    EXPECT_EQ(exchange->state(), State::Storing);
    workers_.runAll();
    EXPECT_EQ(ending_, Ending::Committed);
    EXPECT_EQ(ended_, 1);
}

TEST_F(ExchangeTest, UnconfirmedDeltasAreHeldBackUntilConfirmed) {
    auto exchange = make(false);
    exchange->start();
    EXPECT_FALSE(sink_->opened) << "the stream opened before storage confirmed";
    providers_.delta("Hel");
    EXPECT_EQ(sink_->text_, "");
    exchange->confirm();
    EXPECT_TRUE(sink_->opened);
    EXPECT_EQ(sink_->text_, "Hel");
    providers_.delta("lo");
    EXPECT_EQ(sink_->text_, "Hello");
    providers_.reply("Hello");
    workers_.runAll();
    EXPECT_EQ(ending_, Ending::Committed);
}

TEST_F(ExchangeTest, AReplyBeforeTheConfirmationWaitsForIt) {
    auto exchange = make(false);
    exchange->start();
    providers_.delta("Hi");
    providers_.reply("Hi");
    EXPECT_EQ(exchange->state(), State::Confirming);
    workers_.runAll();
    EXPECT_TRUE(appended_.empty()) << "stored before storage confirmed the history";
    exchange->confirm();
    EXPECT_EQ(sink_->text_, "Hi");
    EXPECT_EQ(exchange->state(), State::Storing);
    workers_.runAll();
    EXPECT_EQ(ending_, Ending::Committed);
}

TEST_F(ExchangeTest, AWithdrawalAfterAHeldBackDeltaDropsEverything) {
    auto exchange = make(false);
    exchange->start();
    providers_.delta("Held back");
    exchange->withdraw();
    EXPECT_EQ(exchange->state(), State::Done);
    EXPECT_TRUE(providers_.calls[0].call->cancelled);
    EXPECT_FALSE(sink_->opened);
    EXPECT_EQ(sink_->text_, "");
    providers_.reply("too late");
    workers_.runAll();
    timer_.advance(600000);
    EXPECT_TRUE(appended_.empty());
    EXPECT_EQ(ended_, 0) << "a withdrawn exchange is its caller's to end";
    EXPECT_EQ(timer_.armed(), 0u);
}

TEST_F(ExchangeTest, AnUnconfirmedFailureIsAnsweredOnlyOnceConfirmed) {
    auto exchange = make(false);
    exchange->start();
    providers_.fail(OMNICHAT_ERR_AUTH, 401);
    EXPECT_EQ(exchange->state(), State::Confirming);
    EXPECT_EQ(ended_, 0);
    exchange->confirm();
    EXPECT_EQ(ending_, Ending::Failed);
    EXPECT_EQ(failure().status, OMNICHAT_ERR_AUTH);
}

TEST_F(ExchangeTest, AnUnconfirmedFailureWithdrawnIsNeverAnswered) {
    auto exchange = make(false);
    exchange->start();
    providers_.fail(OMNICHAT_ERR_AUTH, 401);
    exchange->withdraw();
    EXPECT_EQ(ended_, 0);
}

TEST_F(ExchangeTest, TheAppendSaysHowItEnds) {
    for (auto [result, ending] : {std::pair{StoragePort::Appended::Changed, Ending::HistoryChanged},
                                  std::pair{StoragePort::Appended::Gone, Ending::Gone}}) {
        appendResult_ = result;
        auto exchange = make();
        exchange->start();
        providers_.reply("answer");
        workers_.runAll();
        EXPECT_EQ(ending_, ending);
        ASSERT_TRUE(returned_);
        EXPECT_EQ(returned_->id, "q1") << "the question comes back to start again with";
    }
    appendThrows_ = true;
    auto exchange = make();
    exchange->start();
    providers_.reply("answer");
    workers_.runAll();
    EXPECT_EQ(ending_, Ending::Failed);
    EXPECT_EQ(failure().status, OMNICHAT_ERR_UNAVAILABLE);
}

TEST_F(ExchangeTest, AReplyThatIsNotTextIsNotStored) {
    auto exchange = make(true, false);
    exchange->start();
    providers_.reply("caf\xc3");
    workers_.runAll();
    EXPECT_TRUE(appended_.empty());
    EXPECT_EQ(ending_, Ending::Failed);
    EXPECT_EQ(failure().status, OMNICHAT_ERR_BAD_RESPONSE);
}

TEST_F(ExchangeTest, AProviderThatCannotStartFailsTheSend) {
    providers_.throwOnStart = true;
    auto exchange = make();
    exchange->start();
    EXPECT_EQ(ending_, Ending::Failed);
    EXPECT_EQ(failure().status, OMNICHAT_ERR_INTERNAL);
    EXPECT_EQ(timer_.armed(), 0u);
}

TEST_F(ExchangeTest, TheContextBudgetDropsTheOldestTurns) {
    config_.contextMaxChars = 7;  // "hello" and two more characters
    auto exchange = make();
    exchange->start();
    EXPECT_EQ(providers_.calls[0].messages, (std::vector<std::string>{"0:Be terse.", "1:hello"}));
}

}  // namespace
}  // namespace omnichat
