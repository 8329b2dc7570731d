// Faults survived: the server killed under load, two servers on one
// database, stalled clients, an unreachable provider.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>

#include "api_fixture.hpp"
#include "sse_client.hpp"
#include "throwaway_postgres.hpp"

namespace omnichat::testing {
namespace {

using namespace std::chrono_literals;

struct Acked {
    std::string conversation, content, messageId;
};

// Every history is strict user/assistant pairs, each reply answering its own
// question; returns the user messages by conversation.
std::map<std::string, std::set<std::string>> checkPairs(
    const std::vector<std::string>& conversations, const std::function<nlohmann::json(const std::string&)>& historyOf) {
    std::map<std::string, std::set<std::string>> questions;
    for (const auto& id : conversations) {
        auto h = historyOf(id);
        EXPECT_EQ(h.size() % 2, 0u) << "an unpaired message in " << id;
        for (size_t i = 0; i + 1 < h.size(); i += 2) {
            EXPECT_EQ(h[i]["role"], "user") << id << " #" << i;
            EXPECT_EQ(h[i + 1]["role"], "assistant") << id << " #" << i + 1;
            EXPECT_EQ(h[i + 1]["content"], "reply to: " + h[i]["content"].get<std::string>());
            questions[id].insert(h[i]["content"].get<std::string>());
        }
    }
    return questions;
}

// Clients send in a loop to a few conversations, on `ports` in turn, until
// `stop`; what got a 200 is recorded.
class Load {
public:
    Load(std::vector<uint16_t> ports, std::string token, std::vector<std::string> conversations, int clients)
        : ports_(std::move(ports)), token_(std::move(token)), conversations_(std::move(conversations)) {
        for (int c = 0; c < clients; ++c) threads_.emplace_back([this, c] { run(c); });
    }
    ~Load() { stop(); }
    bool waitAcked(size_t count, std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] { return acked_.size() >= count; });
    }
    void stop() {
        stopping_ = true;
        for (auto& t : threads_)
            if (t.joinable()) t.join();
    }
    std::vector<Acked> acked() {
        std::lock_guard lock(mutex_);
        return acked_;
    }

private:
    void run(int client) {
        for (int n = 0; !stopping_; ++n) {
            const auto& id = conversations_[static_cast<size_t>(client + n) % conversations_.size()];
            auto port = ports_[static_cast<size_t>(client + n) % ports_.size()];
            std::string content = "client " + std::to_string(client) + " message " + std::to_string(n);
            try {
                auto r = httpCall(port, "POST", "/conversations/" + id + "/messages", token_,
                                  nlohmann::json{{"content", content}}.dump());
                if (r.status != 200) continue;
                std::lock_guard lock(mutex_);
                acked_.push_back({id, content, r.json()["message_id"]});
                changed_.notify_all();
            } catch (const std::exception&) {
                // The server is gone: not acknowledged.
            }
        }
    }

    std::vector<uint16_t> ports_;
    std::string token_;
    std::vector<std::string> conversations_;
    std::atomic<bool> stopping_{false};
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<Acked> acked_;
    std::vector<std::thread> threads_;
};

TEST_P(ApiTest, KilledUnderLoadKeepsEveryAcknowledgedExchangeWhole) {
    auto alice = token(user("alice"));
    auto conversations = createConversations(alice, 4);
    std::vector<Acked> acked;
    {
        Load load({server_->port()}, alice, conversations, 8);
        ASSERT_TRUE(load.waitAcked(40, 20s));
        server_->signal(SIGKILL);
        EXPECT_EQ(server_->waitExit(), 128 + SIGKILL);
        load.stop();
        acked = load.acked();
    }
    restartServer();
    auto questions = checkPairs(conversations, [&](const std::string& id) { return history(alice, id); });
    for (const auto& a : acked) EXPECT_EQ(questions[a.conversation].count(a.content), 1u) << "lost: " << a.content;
}

// On a database of its own, which the test stops and starts.
class DatabaseRestartTest : public ApiTest {
protected:
    std::string storageBlock() const override {
        return "storage:\n  plugin: postgres\n  options:\n    url: \"" + database_.url() +
               "\"\n    connect_timeout_seconds: 2\n";
    }
    ThrowawayPostgres database_;
};

TEST_P(DatabaseRestartTest, OutageAnswers503AndServiceResumesWithNothingLost) {
    auto alice = token(user("alice"));
    auto conversations = createConversations(alice, 3);
    std::vector<Acked> acked;
    {
        Load load({server_->port()}, alice, conversations, 4);
        ASSERT_TRUE(load.waitAcked(20, 20s));
        database_.stop();

        auto started = std::chrono::steady_clock::now();
        auto during = send(alice, conversations[0], "during the outage");
        EXPECT_EQ(during.status, 503) << during.body;
        EXPECT_EQ(during.json()["error"]["code"], "storage_unavailable");
        EXPECT_EQ(during.headers.count("retry-after"), 1u);
        // Bounded by the connect timeout, not a hang.
        EXPECT_LT(std::chrono::steady_clock::now() - started, 15s);
        auto ready = call("GET", "/readyz", "");
        EXPECT_EQ(ready.status, 503);
        EXPECT_EQ(ready.json()["status"], "storage_unavailable");

        database_.start();
        size_t before = load.acked().size();
        EXPECT_TRUE(load.waitAcked(before + 20, 20s)) << "service did not resume";
        load.stop();
        acked = load.acked();
    }
    EXPECT_EQ(call("GET", "/readyz", "").status, 200);
    auto questions = checkPairs(conversations, [&](const std::string& id) { return history(alice, id); });
    for (const auto& a : acked) EXPECT_EQ(questions[a.conversation].count(a.content), 1u) << "lost: " << a.content;
}

INSTANTIATE_TEST_SUITE_P(Storage, DatabaseRestartTest, ::testing::Values("postgres"),
                         [](const auto& info) { return info.param; });

// Open descriptors and threads of a process.
struct Resources {
    size_t descriptors = 0;
    int threads = 0;
};
Resources resourcesOf(pid_t pid) {
    auto proc = "/proc/" + std::to_string(pid);
    Resources out;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(proc + "/fd")) ++out.descriptors;
    std::ifstream status(proc + "/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("Threads:", 0) == 0) out.threads = std::stoi(line.substr(8));
    return out;
}

// Clients that connect and stall: silent, headers cut short, a body that
// never completes.
class SlowClientTest : public ApiTest {
protected:
    std::string extraServerYaml() const override {
        return "  header_timeout_seconds: 1\n  body_timeout_seconds: 1\n  keepalive_timeout_seconds: 1\n";
    }
    int upstreamTimeoutMs() const override { return 15000; }
};

// A connection that sends `bytes` and then nothing; true when the server
// closes it (after an answer or not) within `limit`.
bool serverCloses(uint16_t port, const std::string& bytes, std::chrono::seconds limit) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        close(fd);
        return false;
    }
    if (!bytes.empty()) send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    timeval timeout{static_cast<time_t>(limit.count()), 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    char buffer[4096];
    ssize_t n;
    while ((n = recv(fd, buffer, sizeof buffer, 0)) > 0) {
    }
    close(fd);
    return n == 0;  // EOF: closed by the server; -1: our timeout
}

TEST_P(SlowClientTest, StalledClientsAreCutOffAndLeaveNothingBehind) {
    ASSERT_EQ(call("GET", "/healthz", "").status, 200);
    auto before = resourcesOf(server_->pid());
    const std::vector<std::string> stalls{
        "",                                                                              // silent
        "GET /healthz HTTP/1.1\r\nHost: x\r\n",                                          // headers cut short
        "POST /conversations HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"a\"",  // body cut short
    };
    std::vector<std::future<bool>> clients;
    for (int i = 0; i < 30; ++i)
        clients.push_back(std::async(std::launch::async, [&, i] {
            return serverCloses(server_->port(), stalls[static_cast<size_t>(i) % stalls.size()], 15s);
        }));
    for (size_t i = 0; i < clients.size(); ++i) EXPECT_TRUE(clients[i].get()) << "stall kind " << i % stalls.size();

    // The server still serves, and holds no more than before.
    EXPECT_EQ(call("GET", "/healthz", "").status, 200);
    auto after = resourcesOf(server_->pid());
    EXPECT_LE(after.descriptors, before.descriptors + 2);
    EXPECT_EQ(after.threads, before.threads);
}

// The client timeouts are for clients; a provider slower than them must not
// cut the answer short (Pistache 0.0.5 answers 408 and closes a connection
// whose request has been running longer than its header timeout).
TEST_P(SlowClientTest, RepliesSlowerThanTheClientTimeoutsStillArrive) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    const std::vector<FakeUpstream::Piece> slow{{0ms, chunk("slow ")},
                                                {2500ms, chunk("reply", "stop") + kUsage + kDone}};
    upstream_.script(slow);
    auto r = send(alice, id, "plain");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["response"], "slow reply") << r.body;

    upstream_.script(slow);
    SseClient client(server_->port(), "/conversations/" + id + "/messages", alice, R"({"content":"streamed"})");
    ASSERT_EQ(client.status(), 200);
    auto events = client.rest();
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().event, "done");
    EXPECT_EQ(history(alice, id).size(), 4u);
}

INSTANTIATE_TEST_SUITE_P(Storage, SlowClientTest, ::testing::Values("sqlite"),
                         [](const auto& info) { return info.param; });

class UnreachableProviderTest : public ApiTest {
protected:
    std::string extraProvidersYaml() const override {
        return "  down:\n    plugin: openai\n    options:\n      api_key: sk-down\n      base_url: http://127.0.0.1:" +
               std::to_string(port_) + "/v1\n";
    }
    uint16_t port_ = freePort();  // nothing listens there
};

// The client learns the provider could not be reached; the log says why.
TEST_P(UnreachableProviderTest, TheLogSaysWhyAConnectFailed) {
    auto alice = token(user("alice"));
    auto r = call("POST", "/conversations?project_id=p", alice, R"({"provider":"down"})");
    ASSERT_EQ(r.status, 201) << r.body;
    auto sent = send(alice, r.json()["id"].get<std::string>(), "hello");
    EXPECT_EQ(sent.status, 502);
    EXPECT_EQ(sent.json()["error"]["code"], "provider_unavailable");
    EXPECT_EQ(sent.body.find("refused"), std::string::npos) << "connection detail reached the client";
    EXPECT_TRUE(server_->waitForOutput("(Connection refused)", std::chrono::seconds(10))) << server_->output();
}

INSTANTIATE_TEST_SUITE_P(Storage, UnreachableProviderTest, ::testing::Values("sqlite"),
                         [](const auto& info) { return info.param; });

TEST_P(ApiTest, FaultyProvidersLeaveNoThreadsDescriptorsOrMemoryBehind) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    auto faults = [&] {
        upstream_.hang();  // bounded by the call's 1.5 s limit
        EXPECT_EQ(send(alice, id, "hang").status, 504);
        upstream_.notJson();
        EXPECT_EQ(send(alice, id, "garbage").status, 502);
        upstream_.script({{0ms, chunk("Half a sen")}}, true);  // reset mid-stream
        EXPECT_EQ(send(alice, id, "cut").status, 502);
        upstream_.script({{0ms, chunk("slow ")}, {200ms, chunk("trickle", "stop") + kDone}});
        EXPECT_EQ(send(alice, id, "trickle").status, 200);
    };
    // Every path has run: connection pools, metric series, log buffers
    // and the allocator's per-thread caches exist before anything is
    // counted.
    faults();
    faults();
    auto before = resourcesOf(server_->pid());
    double heapBefore = scrapeMetrics()["omnichat_heap_bytes"];
    constexpr int kRounds = 12;  // six left the bound within a few KB of what warm-up alone costs
    for (int round = 0; round < kRounds; ++round) faults();
    upstream_.reply();
    EXPECT_EQ(send(alice, id, "after").status, 200);
    auto after = resourcesOf(server_->pid());
    double heapAfter = scrapeMetrics()["omnichat_heap_bytes"];
    EXPECT_LE(after.descriptors, before.descriptors + 2);
    EXPECT_EQ(after.threads, before.threads);
    // Some growth is not a leak: the database client's buffers grow with
    // the history they read, caches fill; measured here, about 50 KB once
    // and 2-2.6 KB per call. Keeping 5 KB or more per call fails.
    EXPECT_LT(heapAfter - heapBefore, kRounds * 4 * 5 * 1024) << "before " << heapBefore << ", after " << heapAfter;
    EXPECT_EQ(history(alice, id).size(), 2u * (2 + kRounds + 1));  // the trickles, then "after"
}

class TwoServersTest : public ApiTest {};

TEST_P(TwoServersTest, BothSendingToTheSameConversationsKeepStrictPairs) {
    ServerProcess second(yaml_);
    auto alice = token(user("alice"));
    auto conversations = createConversations(alice, 3);
    std::vector<Acked> acked;
    {
        Load load({server_->port(), second.port()}, alice, conversations, 8);
        ASSERT_TRUE(load.waitAcked(120, 30s));
        load.stop();
        acked = load.acked();
    }
    auto questions = checkPairs(conversations, [&](const std::string& id) { return history(alice, id); });
    size_t stored = 0;
    for (const auto& [id, set] : questions) stored += set.size();
    EXPECT_EQ(stored, acked.size());  // nothing lost, nothing extra
    for (const auto& a : acked) EXPECT_EQ(questions[a.conversation].count(a.content), 1u) << "lost: " << a.content;
}

INSTANTIATE_TEST_SUITE_P(Storage, TwoServersTest, ::testing::Values("postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace omnichat::testing
