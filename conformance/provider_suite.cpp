// The provider scenarios: a plugin driven through the real host (its plugin
// loader, its call bookkeeping, its HTTP client) against the scripted
// upstream. AnyProvider holds for every provider; Upstream for one that
// calls an upstream speaking the chosen protocol.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <omnichat/json_reader.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <optional>
#include <regex>

#include "common/ids.hpp"
#include "http/http_client.hpp"
#include "kit.hpp"
#include "plugins/plugin_loader.hpp"
#include "ports/host_table.hpp"
#include "ports/plugin_providers.hpp"
#include "scripted_upstream.hpp"

namespace omnichat::conformance {
namespace {

using namespace std::chrono_literals;

const std::string kModel = "conformance-model";
const std::string kUpstreamModel = "conformance-upstream-model";
constexpr int64_t kPromptTokens = 11, kCompletionTokens = 7;

struct Turn {
    omnichat_role_t role;
    std::string content;
};

// One call under way, as the host sees it.
class Running {
public:
    ProviderPort::Events events() {
        return {[this](std::string_view piece) {
                    std::lock_guard lock(mutex_);
                    deltas_.emplace_back(piece);
                    changed_.notify_all();
                    return true;
                },
                [this](domain::ProviderReply&& reply) {
                    std::lock_guard lock(mutex_);
                    reply_ = std::move(reply);
                    changed_.notify_all();
                }};
    }
    // The reply; fails the test when none comes in time.
    domain::ProviderReply wait(std::chrono::seconds limit = 20s) {
        std::unique_lock lock(mutex_);
        if (!changed_.wait_for(lock, limit, [this] { return reply_.has_value(); })) {
            ADD_FAILURE() << "the call did not complete within " << limit.count() << " s";
            return {};
        }
        return *reply_;
    }
    bool waitDelta(std::chrono::seconds limit = 10s) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, limit, [this] { return !deltas_.empty() || reply_; }) && !deltas_.empty();
    }
    bool completed() {
        std::lock_guard lock(mutex_);
        return reply_.has_value();
    }
    std::vector<std::string> deltas() {
        std::lock_guard lock(mutex_);
        return deltas_;
    }
    std::string text() {
        std::string out;
        for (const auto& d : deltas()) out += d;
        return out;
    }
    std::shared_ptr<ProviderPort::Call> call;

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<std::string> deltas_;
    std::optional<domain::ProviderReply> reply_;
};

// The host's side of one plugin instance: the plugin loaded as the server
// loads it, with its options, and the host's HTTP client.
class Host {
public:
    explicit Host(const std::map<std::string, std::string>& options) : libraries_(settings().searchPath, hostTable()) {
        attachHttpClient(&http_);
        PluginInstanceConfig config{settings().plugin, {}, "the conformance kit"};
        for (const auto& [key, value] : options) config.options[key] = {value, "--option " + key};
        std::map<std::string, std::unique_ptr<PluginInstance>> instances;
        instances["under-test"] = libraries_.createInstance(config, "the plugin under test", OMNICHAT_PLUGIN_PROVIDER);
        providers_ = std::make_unique<PluginProviders>(std::move(instances));
    }
    // As the server stops: exchanges still reading an answer after their
    // call completed end before the instance goes.
    ~Host() {
        http_.stop();
        providers_.reset();
        attachHttpClient(nullptr);
    }

    // Starts a call of `messages` (oldest first).
    std::shared_ptr<Running> start(const std::vector<Turn>& messages, bool stream = true, int64_t deadlineUnixMs = 0) {
        ProviderRequest request;
        request.model = kModel;
        for (const auto& m : messages) request.messages.push_back({m.role, m.content});
        request.stream = stream;
        request.deadlineUnixMs = deadlineUnixMs;
        auto running = std::make_shared<Running>();
        running->call = providers_->start("under-test", request, running->events());
        return running;
    }

private:
    HttpClient http_{64, 512};
    PluginLibraries libraries_;
    std::unique_ptr<PluginProviders> providers_;
};

std::vector<Turn> question(const std::string& text) {
    return {{OMNICHAT_ROLE_SYSTEM, "Answer briefly."}, {OMNICHAT_ROLE_USER, text}};
}

std::string describe(const domain::ProviderReply& r) {
    return categoryName(r.status) + " (http " + std::to_string(r.httpStatus) + "): " + r.message;
}

// The options of the plugin under test, {upstream} replaced.
std::map<std::string, std::string> optionsFor(const std::string& upstream) {
    std::map<std::string, std::string> out;
    if (settings().protocol) out = settings().protocol->options;
    for (const auto& [key, value] : settings().options) out[key] = value;
    for (auto& [key, value] : out)
        for (size_t at = value.find("{upstream}"); at != std::string::npos; at = value.find("{upstream}"))
            value.replace(at, 10, upstream);
    return out;
}

// ---- Every provider ----------------------------------------------------

class AnyProvider : public ::testing::Test {
protected:
    void SetUp() override {
        if (settings().protocol) {
            upstream_ = std::make_unique<ScriptedUpstream>();
            // Each reply names the call it answers ("call-N" in the question).
            upstream_->script([](const RecordedRequest& r) {
                std::smatch m;
                std::string token = std::regex_search(r.body, m, std::regex("call-[0-9]+")) ? m.str() : "none";
                const auto& p = *settings().protocol;
                return ScriptedAnswer{200,
                                      {{"Content-Type", p.streamType}},
                                      {Protocol::fill(p.start, kUpstreamModel, "", kPromptTokens, kCompletionTokens),
                                       Protocol::fill(p.delta, kUpstreamModel, "reply to ", 0, 0),
                                       Protocol::fill(p.delta, kUpstreamModel, token, 0, 0),
                                       Protocol::fill(p.end, kUpstreamModel, "", kPromptTokens, kCompletionTokens)}};
            });
        }
        host_ = std::make_unique<Host>(optionsFor(upstream_ ? upstream_->url() : ""));
    }
    void TearDown() override {
        host_.reset();
        upstream_.reset();
    }
    std::unique_ptr<ScriptedUpstream> upstream_;
    std::unique_ptr<Host> host_;
};

// A reply completes; the text the host received in pieces is the reply.
TEST_F(AnyProvider, Replies) {
    auto call = host_->start(question("say something (call-1)"));
    auto reply = call->wait();
    ASSERT_EQ(reply.status, OMNICHAT_OK) << describe(reply);
    EXPECT_FALSE(reply.text.empty());
    EXPECT_EQ(call->text(), reply.text);
    EXPECT_FALSE(reply.finishReason.empty());
}

// A cancel after the reply changes nothing, and breaks nothing.
TEST_F(AnyProvider, ACancelAfterTheReplyChangesNothing) {
    auto call = host_->start(question("call-2"));
    auto reply = call->wait();
    ASSERT_EQ(reply.status, OMNICHAT_OK) << describe(reply);
    call->call->cancel();
    call->call->cancel();
    auto next = host_->start(question("call-3"));
    EXPECT_EQ(next->wait().status, OMNICHAT_OK);
}

// A cancel at once ends the call, one way or the other, and only once.
TEST_F(AnyProvider, ACancelAtOnceEndsTheCall) {
    auto call = host_->start(question("call-4"));
    call->call->cancel();
    auto reply = call->wait();
    EXPECT_TRUE(reply.status == OMNICHAT_OK || reply.status == OMNICHAT_ERR_CANCELLED) << describe(reply);
}

// Many calls, many at once: each gets its own reply, all complete, and
// nothing is left behind (run the kit under AddressSanitizer to see leaks).
TEST_F(AnyProvider, ManyCallsEachGetTheirOwnReply) {
    const size_t total = settings().calls;
    constexpr size_t kAtOnce = 32;
    size_t done = 0, failed = 0;
    for (size_t first = 0; first < total; first += kAtOnce) {
        std::vector<std::pair<std::string, std::shared_ptr<Running>>> batch;
        for (size_t i = first; i < std::min(total, first + kAtOnce); ++i) {
            std::string token = "call-" + std::to_string(1000 + i);
            batch.emplace_back(token, host_->start(question("answer " + token)));
        }
        for (auto& [token, call] : batch) {
            auto reply = call->wait();
            ++done;
            if (reply.status != OMNICHAT_OK || reply.text.find(token) == std::string::npos) {
                if (++failed <= 3) ADD_FAILURE() << token << ": " << describe(reply) << " text '" << reply.text << "'";
            }
        }
    }
    EXPECT_EQ(done, total);
    EXPECT_EQ(failed, 0u);
    if (upstream_) {
        EXPECT_LE(upstream_->connections(), 2 * kAtOnce) << "connections are not reused";
    }
}

// ---- A provider with an upstream ---------------------------------------

class Upstream : public ::testing::Test {
protected:
    void SetUp() override {
        upstream_ = std::make_unique<ScriptedUpstream>();
        host_ = std::make_unique<Host>(optionsFor(upstream_->url()));
    }
    void TearDown() override {
        host_.reset();
        upstream_.reset();
    }
    const Protocol& protocol() const { return *settings().protocol; }
    std::string start() const {
        return Protocol::fill(protocol().start, kUpstreamModel, "", kPromptTokens, kCompletionTokens);
    }
    std::string delta(const std::string& text) const {
        return Protocol::fill(protocol().delta, kUpstreamModel, text, 0, 0);
    }
    std::string end() const {
        return Protocol::fill(protocol().end, kUpstreamModel, "", kPromptTokens, kCompletionTokens);
    }
    // Answers every call with `answer`.
    void always(ScriptedAnswer answer) {
        upstream_->script([answer](const RecordedRequest&) { return answer; });
    }
    ScriptedAnswer stream(std::vector<std::string> pieces) const {
        return {200, {{"Content-Type", protocol().streamType}}, std::move(pieces)};
    }
    std::unique_ptr<ScriptedUpstream> upstream_;
    std::unique_ptr<Host> host_;
};

TEST_F(Upstream, AStreamedReplyWithItsUsage) {
    always(stream({start(), delta("Hel"), delta("lo, "), delta("w\xc3\xb6rld"), end()}));
    auto call = host_->start(question("hi"));
    auto reply = call->wait();
    ASSERT_EQ(reply.status, OMNICHAT_OK) << describe(reply);
    EXPECT_EQ(reply.text, "Hello, w\xc3\xb6rld");
    EXPECT_GE(call->deltas().size(), 2u) << "the reply did not arrive in pieces";
    EXPECT_EQ(reply.finishReason, "stop");
    EXPECT_EQ(reply.model, kUpstreamModel);
    EXPECT_EQ(reply.usage.promptTokens, kPromptTokens);
    EXPECT_EQ(reply.usage.completionTokens, kCompletionTokens);
}

TEST_F(Upstream, AWholeReply) {
    const auto& p = protocol();
    always({200,
            {{"Content-Type", p.plainType}},
            {Protocol::fill(p.plainBody, kUpstreamModel, "All at once.", kPromptTokens, kCompletionTokens)}});
    auto reply = host_->start(question("hi"), false)->wait();
    ASSERT_EQ(reply.status, OMNICHAT_OK) << describe(reply);
    EXPECT_EQ(reply.text, "All at once.");
    EXPECT_EQ(reply.model, kUpstreamModel);
    EXPECT_EQ(reply.usage.promptTokens, kPromptTokens);
    EXPECT_EQ(reply.usage.completionTokens, kCompletionTokens);
}

// The stream's bytes arrive a few at a time, cut inside characters and
// inside the protocol's own framing (a delta's JSON text holds whole
// characters; the bytes carrying it need not).
TEST_F(Upstream, PiecesCutInsideCharactersMakeTheSameReply) {
    const std::vector<std::string> parts = {"h\xc3\xa9llo ", "w\xc3\xb6rld \xf0\x9f\x8c\x8d",
                                            " \xe2\x82\xac\xe2\x82\xac"};
    const std::string text = parts[0] + parts[1] + parts[2];
    const std::string body = start() + delta(parts[0]) + delta(parts[1]) + delta(parts[2]) + end();
    std::vector<std::string> pieces;
    for (size_t at = 0, size = 1; at < body.size(); at += size, size = size % 5 + 1)
        pieces.push_back(body.substr(at, size));
    always(stream(pieces));
    auto reply = host_->start(question("hi"))->wait();
    ASSERT_EQ(reply.status, OMNICHAT_OK) << describe(reply);
    EXPECT_EQ(reply.text, text);
}

// Every string of a JSON document.
void strings(const JsonValue& v, std::vector<std::string>& out) {
    if (v.isString()) out.emplace_back(v.text());
    for (const auto& item : v.items()) strings(item, out);
    for (const auto& [key, member] : v.members()) strings(member, out);
}

TEST_F(Upstream, TheRequestCarriesTheHistoryTheModelAndTheKey) {
    always(stream({start(), delta("ok"), end()}));
    const std::vector<Turn> history = {{OMNICHAT_ROLE_SYSTEM, "Be \"brief\"."},
                                       {OMNICHAT_ROLE_USER, "first\nline \\ \xe2\x9c\x93"},
                                       {OMNICHAT_ROLE_ASSISTANT, "an answer"},
                                       {OMNICHAT_ROLE_USER, "second \t question"}};
    ASSERT_EQ(host_->start(history)->wait().status, OMNICHAT_OK);
    auto requests = upstream_->requests();
    ASSERT_EQ(requests.size(), 1u);
    const auto& r = requests[0];
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.path, protocol().path);
    if (!protocol().authHeader.empty()) {
        auto auth = r.headers.find(protocol().authHeader);
        EXPECT_EQ(auth == r.headers.end() ? "(none)" : auth->second, protocol().authValue);
    }
    auto body = JsonValue::parse(r.body);
    ASSERT_TRUE(body) << "the request body is not JSON: " << r.body;
    std::vector<std::string> values;
    strings(*body, values);
    auto holds = [&](const std::string& text) {
        return std::any_of(values.begin(), values.end(),
                           [&](const auto& v) { return v.find(text) != std::string::npos; });
    };
    EXPECT_TRUE(std::find(values.begin(), values.end(), kModel) != values.end()) << "model missing: " << r.body;
    for (const auto& m : history) EXPECT_TRUE(holds(m.content)) << "missing: " << m.content << " in " << r.body;
}

TEST_F(Upstream, EachErrorAnswerHasItsCategory) {
    for (const auto& e : protocol().errors) {
        always({e.status, {{"Content-Type", e.body.front() == '{' ? "application/json" : "text/html"}}, {e.body}});
        auto reply = host_->start(question("hi"))->wait();
        EXPECT_EQ(categoryName(reply.status), categoryName(e.category))
            << "HTTP " << e.status << ": " << describe(reply);
        EXPECT_EQ(reply.httpStatus, e.status) << "the plugin does not pass the HTTP status on";
    }
}

TEST_F(Upstream, ErrorsInsideTheStreamHaveTheirCategory) {
    for (const auto& e : protocol().streamErrors) {
        always(stream({start(), delta("par"), e.event}));
        auto reply = host_->start(question("hi"))->wait();
        EXPECT_EQ(categoryName(reply.status), categoryName(e.category)) << e.event << ": " << describe(reply);
    }
}

std::string httpDate(int64_t unixSeconds) {
    std::time_t t = static_cast<std::time_t>(unixSeconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char out[64];
    std::strftime(out, sizeof out, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return out;
}

// Retry-After in seconds and as a date, and retry-after-ms, reach the host.
TEST_F(Upstream, RetryAfterIsPassedOn) {
    const auto& limited = *std::find_if(protocol().errors.begin(), protocol().errors.end(),
                                        [](const auto& e) { return e.category == OMNICHAT_ERR_RATE_LIMITED; });
    auto retryAfter = [&](std::string name, std::string value) {
        always({limited.status, {{"Content-Type", "application/json"}, {name, value}}, {limited.body}});
        return host_->start(question("hi"))->wait().retryAfterMs;
    };
    EXPECT_EQ(retryAfter("Retry-After", "7"), 7000);
    EXPECT_EQ(retryAfter("retry-after-ms", "1500"), 1500);
    const int64_t inAMinute = retryAfter("Retry-After", httpDate(nowUnixMs() / 1000 + 60));
    EXPECT_GE(inAMinute, 55000);
    EXPECT_LE(inAMinute, 61000);
}

// A reply cut off (the connection ends mid-answer), or ended before the
// protocol's end: a failure, never a reply.
TEST_F(Upstream, AReplyCutShortIsAFailure) {
    auto cut = stream({start(), delta("Half a sen")});
    cut.cut = true;
    always(cut);
    auto reply = host_->start(question("hi"))->wait();
    EXPECT_TRUE(reply.status == OMNICHAT_ERR_BAD_RESPONSE || reply.status == OMNICHAT_ERR_UNAVAILABLE)
        << describe(reply);
    always(stream({start(), delta("Half a sen")}));
    reply = host_->start(question("hi"))->wait();
    EXPECT_EQ(categoryName(reply.status), "bad_response") << describe(reply);
}

TEST_F(Upstream, AnUnreadableAnswerIsABadResponse) {
    always({200, {{"Content-Type", "text/html"}}, {"<html>a proxy's page</html>"}});
    auto reply = host_->start(question("hi"))->wait();
    EXPECT_EQ(categoryName(reply.status), "bad_response") << describe(reply);
    always(stream({"data: {not json\n\n"}));
    reply = host_->start(question("hi"))->wait();
    EXPECT_EQ(categoryName(reply.status), "bad_response") << describe(reply);
}

TEST_F(Upstream, NoUpstreamIsUnavailable) {
    int probe = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    ::bind(probe, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::getsockname(probe, reinterpret_cast<sockaddr*>(&address), &size);
    ::close(probe);  // nothing listens there now
    host_.reset();   // one host at a time: each attaches its HTTP client to the host table
    host_ = std::make_unique<Host>(optionsFor("http://127.0.0.1:" + std::to_string(ntohs(address.sin_port))));
    auto reply = host_->start(question("hi"))->wait();
    EXPECT_TRUE(reply.status == OMNICHAT_ERR_UNAVAILABLE || reply.status == OMNICHAT_ERR_CONNECT_TIMEOUT)
        << describe(reply);
}

TEST_F(Upstream, APassedDeadlineEndsTheCall) {
    auto held = stream({start()});
    held.holdHead = true;
    always(held);
    auto reply = host_->start(question("hi"), true, nowUnixMs() + 300)->wait();
    EXPECT_EQ(categoryName(reply.status), "timeout") << describe(reply);
    EXPECT_TRUE(upstream_->waitClientsGone(1)) << "the upstream call was left open";
}

TEST_F(Upstream, ACancelBeforeTheUpstreamAnswersEndsTheCall) {
    auto held = stream({start(), delta("late"), end()});
    held.holdHead = true;
    always(held);
    auto call = host_->start(question("hi"));
    ASSERT_TRUE(upstream_->waitRequests(1));
    call->call->cancel();
    auto reply = call->wait();
    EXPECT_EQ(categoryName(reply.status), "cancelled") << describe(reply);
    EXPECT_TRUE(upstream_->waitClientsGone(1)) << "the upstream call was left open";
}

TEST_F(Upstream, ACancelDuringTheStreamEndsTheCall) {
    auto held = stream({start(), delta("first"), delta(" second"), end()});
    held.holdBefore = 2;
    always(held);
    auto call = host_->start(question("hi"));
    ASSERT_TRUE(call->waitDelta()) << "no delta before the pause";
    call->call->cancel();
    auto reply = call->wait();
    EXPECT_EQ(categoryName(reply.status), "cancelled") << describe(reply);
    EXPECT_TRUE(upstream_->waitClientsGone(1)) << "the upstream call was left open";
}

}  // namespace
}  // namespace omnichat::conformance
