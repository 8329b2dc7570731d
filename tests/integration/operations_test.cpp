// What an operator relies on: probes, request ids, metrics, a drain on
// SIGTERM.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <future>
#include <regex>
#include <sstream>

#include "api_fixture.hpp"

namespace omnichat::testing {
namespace {

using namespace std::chrono_literals;

// Clients connecting all at once wait in the kernel's accept queue even
// while the server cannot accept them (here: stopped), instead of having
// their handshakes dropped and retried seconds later.
TEST_P(ApiTest, ABurstOfConnectionsWaitsToBeAccepted) {
    constexpr size_t kClients = 600;  // Pistache's own queue holds 128
    ASSERT_EQ(::kill(server_->pid(), SIGSTOP), 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(server_->port());
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::vector<pollfd> pending;
    for (size_t i = 0; i < kClients; ++i) {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);  // in progress
        pending.push_back({fd, POLLOUT, 0});
    }
    // A handshake completes when the kernel queues the connection; one it
    // dropped is retried only after a second.
    std::vector<int> connected;
    const auto deadline = std::chrono::steady_clock::now() + 3s;
    while (!pending.empty() && std::chrono::steady_clock::now() < deadline) {
        ::poll(pending.data(), pending.size(), 100);
        for (auto it = pending.begin(); it != pending.end();) {
            int error = 0;
            socklen_t size = sizeof error;
            if (!(it->revents & POLLOUT) || ::getsockopt(it->fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0 || error) {
                ++it;
                continue;
            }
            connected.push_back(it->fd);
            it = pending.erase(it);
        }
    }
    ::kill(server_->pid(), SIGCONT);
    EXPECT_EQ(connected.size(), kClients);
    for (int fd : connected) ::close(fd);
    for (const auto& p : pending) ::close(p.fd);
    EXPECT_EQ(call("GET", "/healthz", "").status, 200);
}

TEST_P(ApiTest, ProbesAnswerWithoutAToken) {
    auto health = call("GET", "/healthz", "");
    EXPECT_EQ(health.status, 200);
    EXPECT_EQ(health.json()["status"], "ok");
    auto ready = call("GET", "/readyz", "");
    EXPECT_EQ(ready.status, 200) << ready.body;
    EXPECT_EQ(ready.json()["status"], "ready");
}

TEST_P(ApiTest, EveryResponseCarriesARequestId) {
    auto alice = token(user("alice"));
    auto missing = call("GET", "/conversations/" + newUuid(), alice);
    ASSERT_EQ(missing.status, 404);
    const auto& made = missing.headers.at("x-request-id");
    EXPECT_TRUE(isUuid(made)) << made;
    EXPECT_EQ(missing.json()["error"]["request_id"], made);

    auto kept = httpCall(server_->port(), "GET", "/conversations/project/p", alice, "", "application/json",
                         {{"X-Request-Id", "trace-42.a_b:c"}});
    EXPECT_EQ(kept.status, 200);
    EXPECT_EQ(kept.headers.at("x-request-id"), "trace-42.a_b:c");

    // Not a plain token: replaced, never echoed.
    auto odd = httpCall(server_->port(), "GET", "/healthz", "", "", "application/json",
                        {{"X-Request-Id", "<script>alert(1)</script>"}});
    EXPECT_TRUE(isUuid(odd.headers.at("x-request-id"))) << odd.headers.at("x-request-id");
}

TEST_P(ApiTest, MetricsCountRequestsAndProviderCalls) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    ASSERT_EQ(send(alice, id, "hello").status, 200);
    EXPECT_EQ(call("GET", "/conversations/" + id, "").status, 401);

    auto r = call("GET", "/metrics", "");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.headers.at("content-type").rfind("text/plain", 0), 0u) << r.headers.at("content-type");
    auto m = parseMetrics(r.body);
    EXPECT_EQ(m[R"(omnichat_http_requests_total{method="POST",route="/conversations/{id}/messages",status="200"})"], 1);
    EXPECT_EQ(m[R"(omnichat_http_requests_total{method="GET",route="/conversations/{id}",status="401"})"], 1);
    EXPECT_EQ(m[R"(omnichat_provider_calls_total{provider="fake",model="test-model",outcome="ok"})"], 1);
    EXPECT_GT(m[R"(omnichat_tokens_total{provider="fake",direction="out"})"], 0);
    EXPECT_EQ(m[R"(omnichat_provider_first_token_seconds_count{provider="fake"})"], 1);
    EXPECT_EQ(m.count("omnichat_sends_in_flight"), 1u);
    EXPECT_EQ(m.count("omnichat_worker_queue_depth"), 1u);
    // Each storage call is timed by its operation, and each waited for a
    // worker: the create, the send's read and its append at least.
    const std::string storageCalls = "omnichat_storage_call_duration_seconds_count";
    EXPECT_EQ(m[storageCalls + R"({operation="create_conversation"})"], 1);
    EXPECT_EQ(m[storageCalls + R"({operation="load_conversation"})"], 1);
    EXPECT_EQ(m[storageCalls + R"({operation="append_exchange"})"], 1);
    EXPECT_GE(m["omnichat_worker_queue_wait_seconds_count"], 3);
    EXPECT_GE(m["omnichat_worker_queue_wait_seconds_sum"], 0);
    // The one conversation sent to is held.
    EXPECT_EQ(m["omnichat_history_cache_entries"], 1);
    EXPECT_GT(m["omnichat_history_cache_bytes"], 0);
    // The process's own gauges agree with what the kernel says of it.
    auto proc = "/proc/" + std::to_string(server_->pid());
    size_t descriptors = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(proc + "/fd")) ++descriptors;
    EXPECT_NEAR(m["process_open_fds"], static_cast<double>(descriptors), 2);
    EXPECT_GT(m["process_resident_memory_bytes"], 1e6);
    EXPECT_GT(m["omnichat_heap_bytes"], 1e5);
    EXPECT_LT(m["omnichat_heap_bytes"], m["process_resident_memory_bytes"] * 4);  // ASan's heap is not all resident
    EXPECT_GT(m["omnichat_threads"], 2);
    // The storage pool, from the plugin (the postgres one keeps a pool).
    if (std::string(GetParam()) == "postgres") {
        EXPECT_GE(m["omnichat_storage_connections"], 1);
        EXPECT_LE(m["omnichat_storage_connections_in_use"], m["omnichat_storage_connections"]);
        EXPECT_EQ(m.count("omnichat_storage_connection_waits_total"), 1u);
        EXPECT_NE(r.body.find("# TYPE omnichat_storage_connection_waits_total counter"), std::string::npos);
    } else {
        EXPECT_EQ(m.count("omnichat_storage_connections"), 0u);
    }

    // Buckets are cumulative and end at the count.
    const std::string series = "omnichat_http_request_duration_seconds";
    const std::string route = R"(route="/conversations/{id}/messages")";
    int buckets = 0;
    for (const auto& [name, value] : m) {
        if (name.rfind(series + "_bucket{" + route + ",le=", 0) != 0) continue;
        ++buckets;
        EXPECT_LE(value, m[series + "_count{" + route + "}"]) << name;
    }
    EXPECT_GT(buckets, 5);
    EXPECT_EQ(m[series + "_bucket{" + route + R"(,le="+Inf"})"], m[series + "_count{" + route + "}"]);
    EXPECT_EQ(m[series + "_count{" + route + "}"], 1);

    // Nothing about what users said, or their tokens.
    EXPECT_EQ(r.body.find("hello"), std::string::npos);
    EXPECT_EQ(r.body.find(alice), std::string::npos);
}

TEST_P(ApiTest, SigtermLetsOpenRequestsFinishAndStoresThem) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    // The reply is held back until after the signal.
    upstream_.script({{0ms, chunk("Held", "stop") + kUsage + kDone, true}});
    auto sent = std::async(std::launch::async, [&] { return send(alice, id, "before the signal"); });
    ASSERT_TRUE(upstream_.waitRequests(1, 5s));

    server_->signal(SIGTERM);
    ASSERT_TRUE(server_->waitForOutput("draining", 5s));
    EXPECT_EQ(call("GET", "/readyz", "").status, 503);
    auto refused = send(alice, id, "after the signal");
    EXPECT_EQ(refused.status, 503);
    EXPECT_EQ(refused.json()["error"]["code"], "shutting_down");
    EXPECT_EQ(refused.headers.at("retry-after"), "1");

    upstream_.openGate();
    auto reply = sent.get();
    EXPECT_EQ(reply.status, 200) << reply.body;
    EXPECT_EQ(server_->waitExit(), 0);

    restartServer();
    auto messages = history(alice, id);
    ASSERT_EQ(messages.size(), 2u);
    EXPECT_EQ(messages[0]["content"], "before the signal");
    EXPECT_EQ(messages[1]["content"], "Held");
}

class JsonLogTest : public ApiTest {
protected:
    std::string loggingYaml() const override { return "logging:\n  level: info\n  format: json\n"; }
};

TEST_P(JsonLogTest, EveryLogLineIsAJsonObject) {
    // A second start, on a database the first one migrated: what the
    // storage plugin's database says then goes through the log too.
    restartServer();
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    ASSERT_EQ(send(alice, id, "a \"quoted\"\nsecret line").status, 200);
    EXPECT_EQ(call("GET", "/conversations/" + newUuid(), alice).status, 404);
    EXPECT_EQ(server_->stop(), 0);

    std::istringstream lines(server_->output());
    int access = 0, parsed = 0;
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind("omnichat listening", 0) == 0) continue;  // the banner on stdout
        auto j = nlohmann::json::parse(line, nullptr, false);
        ASSERT_TRUE(j.is_object()) << line;
        ++parsed;
        EXPECT_TRUE(j.contains("time") && j.contains("level") && j.contains("message")) << line;
        if (j["message"].get<std::string>().rfind("access ", 0) == 0) ++access;
    }
    EXPECT_GE(access, 3);  // create, send, 404
    EXPECT_GT(parsed, access);
    EXPECT_EQ(server_->output().find("secret line"), std::string::npos) << "message content reached the log";
}

INSTANTIATE_TEST_SUITE_P(Storage, JsonLogTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

class ShortGraceTest : public ApiTest {
protected:
    std::string extraServerYaml() const override { return "  shutdown_grace_seconds: 1\n"; }
};

TEST_P(ShortGraceTest, RequestsCutByTheGracePeriodGetACleanErrorAndStoreNothing) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    upstream_.hang();
    auto sent = std::async(std::launch::async, [&] { return send(alice, id, "too slow"); });
    ASSERT_TRUE(upstream_.waitRequests(1, 5s));

    server_->signal(SIGTERM);
    auto reply = sent.get();
    EXPECT_EQ(reply.status, 503) << reply.body;
    EXPECT_EQ(reply.json()["error"]["code"], "cancelled");
    EXPECT_EQ(server_->waitExit(), 0);

    restartServer();
    EXPECT_EQ(history(alice, id).size(), 0u);
}

class LimitedTest : public ApiTest {
protected:
    std::string extraTopLevelYaml() const override {
        return "limits:\n  requests_per_minute: 6\n  burst: 3\n  concurrent_streams: 1\n";
    }
};

TEST_P(LimitedTest, RequestsBeyondTheRateGet429WithRetryAfter) {
    auto alice = token(user("alice"));
    for (int i = 0; i < 3; ++i) EXPECT_EQ(call("GET", "/conversations/project/p", alice).status, 200) << i;
    auto limited = call("GET", "/conversations/project/p", alice);
    EXPECT_EQ(limited.status, 429);
    EXPECT_EQ(limited.json()["error"]["code"], "rate_limited");
    int wait = std::stoi(limited.headers.at("retry-after"));
    EXPECT_GE(wait, 1);
    EXPECT_LE(wait, 10);  // one request every 10 s
    // Another user is not affected; probes are not limited.
    EXPECT_EQ(call("GET", "/conversations/project/p", token(user("bob"))).status, 200);
    EXPECT_EQ(call("GET", "/healthz", "").status, 200);
}

TEST_P(LimitedTest, ASecondConcurrentStreamGets429) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    upstream_.script({{0ms, chunk("Held", "stop") + kUsage + kDone, true}});
    auto held = std::async(std::launch::async, [&] {
        return call("POST", "/conversations/" + id + "/messages", alice, R"({"content":"one","stream":true})");
    });
    ASSERT_TRUE(upstream_.waitRequests(1, 5s));
    auto second = call("POST", "/conversations/" + id + "/messages", alice, R"({"content":"two","stream":true})");
    EXPECT_EQ(second.status, 429);
    EXPECT_EQ(second.json()["error"]["code"], "too_many_streams");
    upstream_.openGate();
    EXPECT_EQ(held.get().status, 200);
}

class MetricsAddressTest : public ApiTest {
protected:
    std::string extraServerYaml() const override { return "  metrics_listen: 127.0.0.1:0\n"; }
};

TEST_P(MetricsAddressTest, MetricsMoveToTheirOwnAddress) {
    std::smatch m;
    auto output = server_->output();
    ASSERT_TRUE(std::regex_search(output, m, std::regex(R"(metrics on http://127\.0\.0\.1:(\d+)/metrics)"))) << output;
    auto metricsPort = static_cast<uint16_t>(std::stoi(m[1]));
    ASSERT_NE(metricsPort, server_->port());

    auto scraped = httpCall(metricsPort, "GET", "/metrics");
    EXPECT_EQ(scraped.status, 200);
    EXPECT_EQ(parseMetrics(scraped.body).count("omnichat_open_requests"), 1u);
    // Not on the public address any more, and nothing else on this one.
    EXPECT_EQ(call("GET", "/metrics", "").status, 404);
    EXPECT_EQ(call("GET", "/healthz", "").status, 200);
    EXPECT_EQ(httpCall(metricsPort, "GET", "/healthz").status, 404);
    EXPECT_EQ(httpCall(metricsPort, "GET", "/conversations/project/p", token(user("alice"))).status, 404);
}

INSTANTIATE_TEST_SUITE_P(Storage, MetricsAddressTest, ::testing::Values("sqlite"),
                         [](const auto& info) { return info.param; });

INSTANTIATE_TEST_SUITE_P(Storage, LimitedTest, ::testing::Values("sqlite"),
                         [](const auto& info) { return info.param; });

INSTANTIATE_TEST_SUITE_P(Storage, ShortGraceTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace omnichat::testing
