// Sending messages and reading histories, against the fake upstream.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <regex>

#include "api_fixture.hpp"

namespace omnichat::testing {
namespace {

// The messages the upstream receives for `turns` sent in order: the system
// prompt, every earlier turn with the fake's reply, then the last turn.
nlohmann::json upstreamMessages(std::initializer_list<std::string> turns) {
    auto out = nlohmann::json::array({{{"role", "system"}, {"content", "You are terse."}}});
    for (const auto& turn : turns) {
        if (out.size() > 1)
            out.push_back(
                {{"role", "assistant"}, {"content", "reply to: " + out.back()["content"].get<std::string>()}});
        out.push_back({{"role", "user"}, {"content", turn}});
    }
    return out;
}

TEST_P(ApiTest, SendStoresTheExchangeAndReturnsTheReply) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    auto r = send(alice, id, "What is 2+2?");
    ASSERT_EQ(r.status, 200) << r.body;
    auto j = r.json();
    EXPECT_EQ(j["response"], "reply to: What is 2+2?");
    EXPECT_TRUE(isUuid(j["message_id"].get<std::string>()));
    EXPECT_TRUE(
        std::regex_match(j["created_at"].get<std::string>(), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));

    auto h = history(alice, id);
    ASSERT_EQ(h.size(), 2u);
    EXPECT_EQ(h[0]["role"], "user");
    EXPECT_EQ(h[0]["content"], "What is 2+2?");
    EXPECT_EQ(h[1]["role"], "assistant");
    EXPECT_EQ(h[1]["id"], j["message_id"]);
    EXPECT_EQ(h[1]["content"], "reply to: What is 2+2?");
    EXPECT_EQ(h[1]["provider"], "fake");
    EXPECT_EQ(h[1]["model"], "fake-model");
    EXPECT_EQ(h[1]["usage"]["prompt_tokens"], 11);
    EXPECT_EQ(h[1]["usage"]["completion_tokens"], 7);
}

TEST_P(ApiTest, UpstreamReceivesSystemPromptAndHistoryInOrder) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    ASSERT_EQ(send(alice, id, "first").status, 200);
    ASSERT_EQ(send(alice, id, "second").status, 200);

    auto requests = upstream_.requests();
    ASSERT_EQ(requests.size(), 2u);
    const auto& last = requests.back();
    EXPECT_EQ(last.method, "POST");
    EXPECT_EQ(last.path, "/v1/chat/completions");
    EXPECT_EQ(last.headers.at("authorization"), std::string("Bearer ") + kApiKey);
    auto body = nlohmann::json::parse(last.body);
    EXPECT_EQ(body["model"], "test-model");
    EXPECT_EQ(body["messages"], upstreamMessages({"first", "second"}));
}

// A next turn on the host that holds the conversation starts its provider
// call from the held history, this host's last exchange included, while
// storage confirms it: still one call per send, with the history as storage
// has it.
TEST_P(ApiTest, NextTurnsStartFromTheHeldHistory) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    for (auto text : {"first", "second", "third"}) ASSERT_EQ(send(alice, id, text).status, 200);

    auto requests = upstream_.requests();
    ASSERT_EQ(requests.size(), 3u);
    EXPECT_EQ(nlohmann::json::parse(requests.back().body)["messages"], upstreamMessages({"first", "second", "third"}));
    auto metrics = scrapeMetrics();
    EXPECT_EQ(metrics["omnichat_early_starts_total{outcome=\"confirmed\"}"], 2);
    EXPECT_EQ(metrics["omnichat_early_starts_total{outcome=\"withdrawn\"}"], 0);
    // Without a stream, the append checked the history: only the first send
    // read the conversation.
    EXPECT_EQ(metrics["omnichat_storage_call_duration_seconds_count{operation=\"load_conversation\"}"], 1);
    EXPECT_EQ(metrics["omnichat_storage_call_duration_seconds_count{operation=\"append_exchange_if_unchanged\"}"], 2);
    EXPECT_EQ(history(alice, id).size(), 6u);
}

// Someone who does not own a conversation gets 404 for it, and the owner
// keeps the history this host holds: the next turn still starts from it.
TEST_P(ApiTest, AStrangersNotFoundLeavesTheOwnersHistoryHeld) {
    auto alice = token(user("alice"));
    auto mallory = token(user("mallory"));
    auto id = createConversation(alice);
    ASSERT_EQ(send(alice, id, "first").status, 200);
    EXPECT_EQ(call("GET", "/conversations/" + id + "/messages", mallory).status, 404);
    EXPECT_EQ(send(mallory, id, "mine now").status, 404);
    ASSERT_EQ(send(alice, id, "second").status, 200);

    EXPECT_EQ(nlohmann::json::parse(upstream_.requests().back().body)["messages"],
              upstreamMessages({"first", "second"}));
    EXPECT_EQ(scrapeMetrics()["omnichat_early_starts_total{outcome=\"confirmed\"}"], 1);
}

TEST_P(ApiTest, HistoryPagesWithLimitAndAfter) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    for (auto text : {"one", "two", "three"}) ASSERT_EQ(send(alice, id, text).status, 200);
    auto all = history(alice, id);
    ASSERT_EQ(all.size(), 6u);
    auto page = history(alice, id, "?limit=2");
    ASSERT_EQ(page.size(), 2u);
    EXPECT_EQ(page[0]["content"], "one");
    auto next = history(alice, id, "?limit=3&after=" + page[1]["id"].get<std::string>());
    ASSERT_EQ(next.size(), 3u);
    EXPECT_EQ(next[0]["content"], "two");
    EXPECT_EQ(next[2]["content"], "three");
    EXPECT_EQ(call("GET", "/conversations/" + id + "/messages?limit=0", alice).status, 400);
    EXPECT_EQ(call("GET", "/conversations/" + id + "/messages?after=nope", alice).status, 400);
    EXPECT_EQ(call("GET", "/conversations/" + id + "/messages?after=" + newUuid(), alice).status, 404);
}

TEST_P(ApiTest, TextIsStoredByteIdentical) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    const std::string text = std::string("naïve café — 日本語 — עברית — العربية") + " — 👩‍👩‍👧‍👦" +
                             " — e\xcc\x81 — zero\xe2\x80\x8bwidth" + " — \"quotes\" \\ \ttab\nnewline" + " — 𝔘𝔫𝔦𝔠𝔬𝔡𝔢";
    auto r = send(alice, id, text);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["response"], "reply to: " + text);
    auto h = history(alice, id);
    ASSERT_EQ(h.size(), 2u);
    EXPECT_EQ(h[0]["content"].get<std::string>(), text);
    EXPECT_EQ(h[1]["content"].get<std::string>(), "reply to: " + text);
}

// Exchanges of a megabyte or two: ApiTest's 1.5 s upstream limit (short, so
// failure tests are quick) was not always enough for them under ASan on a
// busy machine.
class LargeExchangeTest : public ApiTest {
protected:
    int upstreamTimeoutMs() const override { return 60000; }
};

// An answer larger than the socket takes at once, to a client that reads
// slowly (a small receive window): the rest is made and written as the
// socket takes it, and arrives whole and in order, then the connection ends
// as asked.
TEST_P(LargeExchangeTest, LargeAnswersToSlowReadersArriveWhole) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    for (char c : {'a', 'b'}) ASSERT_EQ(send(alice, id, std::string(900 * 1024, c)).status, 200);
    auto expected = call("GET", "/conversations/" + id + "/messages", alice);
    ASSERT_EQ(expected.status, 200);
    ASSERT_GT(expected.body.size(), 3'000'000u);

    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    int window = 4096;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &window, sizeof window);
    timeval timeout{20, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(server_->port());
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    std::string request = "GET /conversations/" + id + "/messages HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
                          "Authorization: Bearer " + alice + "\r\n\r\n";
    ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
    std::string response;
    char buffer[4096];
    ssize_t n;
    while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0) response.append(buffer, static_cast<size_t>(n));
    ::close(fd);
    EXPECT_EQ(n, 0) << "the connection did not end after the answer";
    auto headEnd = response.find("\r\n\r\n");
    ASSERT_NE(headEnd, std::string::npos);
    EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << response.substr(0, headEnd);
    auto body = responseBody(response);
    EXPECT_TRUE(body == expected.body) << "got " << body.size() << " of " << expected.body.size()
                                       << " bytes, or others";
}

TEST_P(ApiTest, BadInputsAreRejectedWithJsonErrors) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    auto path = "/conversations/" + id + "/messages";
    struct Case {
        std::string body, type;
        int status;
        std::string code;
    };
    std::vector<Case> cases{
        {"{not json", "application/json", 400, "malformed_json"},
        {R"({"text":"hi"})", "application/json", 400, "missing_content"},
        {R"({"content":""})", "application/json", 400, "empty_content"},
        {R"({"content":"   "})", "application/json", 400, "empty_content"},
        {R"({"content":42})", "application/json", 400, "invalid_content"},
        {R"(["content"])", "application/json", 400, "invalid_body"},
        {R"({"content":"hi"})", "text/plain", 415, "unsupported_media_type"},
        {"{\"content\":\"bad \xff\xfe utf8\"}", "application/json", 400, "malformed_json"},
        {R"({"content":"nul \u0000 inside"})", "application/json", 400, "invalid_content"},
        {"{\"content\":\"" + std::string(2 * 1024 * 1024, 'a') + "\"}", "application/json", 413, "payload_too_large"},
    };
    for (const auto& c : cases) {
        auto r = call("POST", path, alice, c.body, c.type);
        EXPECT_EQ(r.status, c.status) << c.body.substr(0, 60);
        auto j = nlohmann::json::parse(r.body, nullptr, false);
        ASSERT_FALSE(j.is_discarded()) << r.body.substr(0, 200);
        EXPECT_EQ(j["error"]["code"], c.code) << c.body.substr(0, 60);
    }
    EXPECT_EQ(upstream_.requestCount(), 0u);
    EXPECT_TRUE(history(alice, id).empty());
}

struct UpstreamFault {
    std::string name;
    std::function<void(FakeUpstream&)> arrange;
    int status;
    std::string code;
};

TEST_P(ApiTest, UpstreamFailuresStoreNothing) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    std::vector<UpstreamFault> faults{
        {"500", [](FakeUpstream& u) { u.fail(500, R"({"error":{"message":"boom"}})"); }, 502, "provider_error"},
        {"429",
         [](FakeUpstream& u) {
             u.fail(429, R"({"error":{}})", {{"Retry-After", "7"}});
         },
         502, "provider_rate_limited"},
        {"401", [](FakeUpstream& u) { u.fail(401, R"({"error":{}})"); }, 502, "provider_auth_failed"},
        {"not json", [](FakeUpstream& u) { u.notJson(); }, 502, "provider_bad_response"},
        {"empty choices", [](FakeUpstream& u) { u.emptyChoices(); }, 502, "provider_bad_response"},
        {"timeout", [](FakeUpstream& u) { u.hang(); }, 504, "provider_timeout"},
    };
    for (const auto& f : faults) {
        f.arrange(upstream_);
        auto r = send(alice, id, "hello " + f.name);
        EXPECT_EQ(r.status, f.status) << f.name << ": " << r.body;
        EXPECT_EQ(r.json()["error"]["code"], f.code) << f.name;
        if (f.name == "429") {
            EXPECT_EQ(r.headers["retry-after"], "7");
        }
        EXPECT_EQ(r.body.find("boom"), std::string::npos) << "upstream text leaked to the client";
        upstream_.reply();
        EXPECT_TRUE(history(alice, id).empty()) << f.name;
    }
    // The service recovers once the upstream does.
    EXPECT_EQ(send(alice, id, "again").status, 200);
    EXPECT_EQ(history(alice, id).size(), 2u);
}

TEST_P(ApiTest, ConcurrentSendsToOneConversationStayPaired) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    constexpr int kSends = 20;
    std::vector<std::future<HttpResponse>> results;
    for (int i = 0; i < kSends; ++i)
        results.push_back(
            std::async(std::launch::async, [&, i] { return send(alice, id, "msg " + std::to_string(i)); }));
    for (auto& f : results) EXPECT_EQ(f.get().status, 200);
    auto h = history(alice, id);
    ASSERT_EQ(h.size(), 2u * kSends);
    std::set<std::string> seen;
    for (size_t i = 0; i < h.size(); i += 2) {
        ASSERT_EQ(h[i]["role"], "user");
        ASSERT_EQ(h[i + 1]["role"], "assistant");
        EXPECT_EQ(h[i + 1]["content"], "reply to: " + h[i]["content"].get<std::string>());
        seen.insert(h[i]["content"].get<std::string>());
    }
    EXPECT_EQ(seen.size(), static_cast<size_t>(kSends));
}

// Each host holds the histories it served; another host's turns, and its
// deletes, still reach it through the storage they share.
TEST_P(ApiTest, HostsSharingAStorageSeeEachOthersTurns) {
    auto alice = token(user("alice")), bob = token(user("bob"));
    auto id = createConversation(alice);
    ASSERT_EQ(send(alice, id, "first").status, 200);  // this host now holds the history
    ServerProcess other(yaml_);
    ASSERT_EQ(httpCall(other.port(), "POST", "/conversations/" + id + "/messages", alice,
                       nlohmann::json{{"content", "second"}}.dump())
                  .status,
              200);

    // This host started "third" from the history it held, without "second",
    // and without reading first: storage refused its append, so its reply was
    // dropped and the send started again from storage's history.
    ASSERT_EQ(send(alice, id, "third").status, 200);
    auto withdrawn = [&] { return scrapeMetrics()["omnichat_early_starts_total{outcome=\"withdrawn\"}"]; };
    EXPECT_EQ(withdrawn(), 1);
    auto requests = upstream_.requests();
    ASSERT_EQ(requests.size(), 4u);
    EXPECT_EQ(nlohmann::json::parse(requests[2].body)["messages"], upstreamMessages({"first", "third"}));
    EXPECT_EQ(nlohmann::json::parse(requests[3].body)["messages"], upstreamMessages({"first", "second", "third"}));
    auto all = history(alice, id);
    ASSERT_EQ(all.size(), 6u);
    EXPECT_EQ(all[3]["content"], "reply to: second");
    auto page = history(alice, id, "?limit=2&after=" + all[1]["id"].get<std::string>());
    ASSERT_EQ(page.size(), 2u);
    EXPECT_EQ(page[0]["content"], "second");

    // A held history is still only its owner's.
    EXPECT_EQ(call("GET", "/conversations/" + id + "/messages", bob).status, 404);
    EXPECT_EQ(send(bob, id, "mine now?").status, 404);

    // Deleted elsewhere: a send started from the held history is withdrawn
    // by its read. Having changed elsewhere, the conversation's sends read
    // first (without, the append would have found it gone, unwithdrawn).
    EXPECT_EQ(history(alice, id).size(), 6u);  // still held here: bob's 404s let nothing go
    ASSERT_EQ(httpCall(other.port(), "DELETE", "/conversations/" + id, alice).status, 204);
    EXPECT_EQ(send(alice, id, "still there?").status, 404);
    EXPECT_EQ(withdrawn(), 2);
    EXPECT_EQ(call("GET", "/conversations/" + id + "/messages", alice).status, 404);
    EXPECT_EQ(other.stop(), 0);
}

// Bursts of calls held open at the upstream: a call limit long enough for
// a slowed-down server (sanitizers) to get all of a burst there.
class UpstreamBurstTest : public ApiTest {
protected:
    int upstreamTimeoutMs() const override { return 60000; }

    std::vector<std::string> createConversations(const std::string& token, size_t count) {
        std::vector<std::string> ids;
        for (size_t i = 0; i < count; ++i) ids.push_back(createConversation(token));
        return ids;
    }
    // Sends to every conversation at once; each answer waits at the upstream
    // for a gate (FakeUpstream::openGate), so all of them are in flight.
    std::vector<std::future<HttpResponse>> sendHeldAtTheUpstream(const std::string& token,
                                                                 const std::vector<std::string>& ids) {
        upstream_.script({{std::chrono::milliseconds(0), chunk("hi", "stop") + kDone, true}});
        std::vector<std::future<HttpResponse>> results;
        for (const auto& id : ids)
            results.push_back(std::async(std::launch::async, [this, token, id] { return send(token, id, "held"); }));
        return results;
    }
};

// Idle upstream connections wait for the next burst: sends one at a time
// between two bursts do not close them (curl's default cache shrinks to
// four per running call when a call ends).
TEST_P(UpstreamBurstTest, UpstreamConnectionsAreKeptBetweenBursts) {
    auto alice = token(user("alice"));
    constexpr size_t kBurst = 12;
    auto ids = createConversations(alice, kBurst);
    auto burst = [&](size_t requestsBefore) {
        auto results = sendHeldAtTheUpstream(alice, ids);
        ASSERT_TRUE(upstream_.waitRequests(requestsBefore + kBurst, std::chrono::seconds(30)));
        for (size_t i = 0; i < kBurst; ++i) upstream_.openGate();
        for (auto& f : results) EXPECT_EQ(f.get().status, 200);
        upstream_.reply();
    };
    burst(0);
    EXPECT_EQ(upstream_.connectionCount(), kBurst);
    for (size_t i = 0; i < kBurst; ++i) ASSERT_EQ(send(alice, ids[i], "alone").status, 200);
    burst(2 * kBurst);
    EXPECT_EQ(upstream_.connectionCount(), kBurst);
}

// Deleted while its call is out: the append finds no conversation, the send
// answers 404 and nothing is stored.
TEST_P(UpstreamBurstTest, AConversationDeletedDuringTheCallIsNotFoundAtTheAppend) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    ASSERT_EQ(send(alice, id, "first").status, 200);  // now held here: the next send reads nothing first
    auto results = sendHeldAtTheUpstream(alice, {id});
    ASSERT_TRUE(upstream_.waitRequests(2, std::chrono::seconds(30)));
    ASSERT_EQ(call("DELETE", "/conversations/" + id, alice).status, 204);
    upstream_.openGate();
    auto reply = results[0].get();
    EXPECT_EQ(reply.status, 404);
    EXPECT_EQ(nlohmann::json::parse(reply.body)["error"]["code"], "not_found");
    EXPECT_EQ(call("GET", "/conversations/" + id + "/messages", alice).status, 404);
}

// A send started from the held history, overtaken by another send of the
// conversation that began after it here: that one is stored first, and this
// one after it, as if it had read storage at its start. Its call counts.
TEST_P(UpstreamBurstTest, ASendOvertakenByAnotherOfItsConversationIsStillStored) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    ASSERT_EQ(send(alice, id, "first").status, 200);  // now held here
    auto held = sendHeldAtTheUpstream(alice, {id});
    ASSERT_TRUE(upstream_.waitRequests(2, std::chrono::seconds(30)));
    upstream_.reply();
    ASSERT_EQ(send(alice, id, "overtaking").status, 200);
    upstream_.openGate();
    EXPECT_EQ(held[0].get().status, 200);

    EXPECT_EQ(upstream_.requests().size(), 3u);
    EXPECT_EQ(scrapeMetrics()["omnichat_early_starts_total{outcome=\"withdrawn\"}"], 0);
    auto all = history(alice, id);
    ASSERT_EQ(all.size(), 6u);
    EXPECT_EQ(all[2]["content"], "overtaking");
    EXPECT_EQ(all[4]["content"], "held");
}

// Sends of one conversation at once: only the first starts its call before
// storage confirms the history, since the others' exchanges would change it
// under an early call (and have it withdrawn).
TEST_P(UpstreamBurstTest, OnlyAConversationsOnlySendStartsEarly) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    ASSERT_EQ(send(alice, id, "first").status, 200);  // now held here
    constexpr size_t kSends = 3;
    auto results = sendHeldAtTheUpstream(alice, std::vector<std::string>(kSends, id));
    ASSERT_TRUE(upstream_.waitRequests(1 + kSends, std::chrono::seconds(30)));
    for (size_t i = 0; i < kSends; ++i) upstream_.openGate();
    for (auto& f : results) EXPECT_EQ(f.get().status, 200);
    EXPECT_EQ(upstream_.requests().size(), 1 + kSends);
    auto metrics = scrapeMetrics();
    EXPECT_EQ(metrics["omnichat_early_starts_total{outcome=\"confirmed\"}"], 1);
    EXPECT_EQ(metrics["omnichat_early_starts_total{outcome=\"withdrawn\"}"], 0);
    EXPECT_EQ(history(alice, id).size(), 2 + 2 * kSends);
}

// More clients at once than the server has descriptors for: it takes as
// many as its descriptor budget gives clients (half of what is left after
// its own), and answers the others 503
// too_many_connections at once, rather than fail to accept them. Every call
// it took completes, each on a provider connection of its own share.
class DescriptorBudgetTest : public UpstreamBurstTest {
protected:
    size_t serverDescriptorLimit() const override { return 500; }
};

TEST_P(DescriptorBudgetTest, ClientsBeyondTheDescriptorBudgetAreRefusedAtOnce) {
    auto alice = token(user("alice"));
    constexpr size_t kCalls = 150;
    // (500 - 256 kept for the rest) / 2 = 122 clients and as many provider
    // connections, on 16 lanes of 8 each.
    constexpr size_t kClients = 122, kLaneConnections = 128;
    auto results = sendHeldAtTheUpstream(alice, createConversations(alice, kCalls));
    // Each call is either held at the upstream or already refused.
    auto ready = [&results] {
        return static_cast<size_t>(std::count_if(results.begin(), results.end(), [](auto& f) {
            return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
        }));
    };
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (upstream_.requestCount() + ready() < kCalls) {
        ASSERT_LT(std::chrono::steady_clock::now(), deadline)
            << upstream_.requestCount() << " held, " << ready() << " answered";
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    for (size_t i = 0; i < kCalls; ++i) upstream_.openGate();
    size_t answered = 0, refused = 0;
    for (auto& f : results) {
        auto r = f.get();
        if (r.status == 200) {
            ++answered;
            continue;
        }
        EXPECT_EQ(r.status, 503) << r.body;
        EXPECT_EQ(r.json()["error"]["code"], "too_many_connections");
        EXPECT_EQ(r.headers["retry-after"], "1");
        ++refused;
    }
    EXPECT_EQ(answered + refused, kCalls);
    EXPECT_LE(answered, kClients);
    EXPECT_GE(refused, kCalls - kClients);
    EXPECT_LE(upstream_.connectionCount(), kLaneConnections);
}

INSTANTIATE_TEST_SUITE_P(Storage, LargeExchangeTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Storage, UpstreamBurstTest, ::testing::Values("sqlite"),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Storage, DescriptorBudgetTest, ::testing::Values("sqlite"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace omnichat::testing
