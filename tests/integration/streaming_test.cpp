// Streaming replies (Server-Sent Events) end to end.
#include <Poco/Exception.h>

#include <filesystem>
#include <future>

#include "api_fixture.hpp"
#include "sse_client.hpp"

namespace omnichat::testing {
namespace {

using namespace std::chrono_literals;
using Piece = FakeUpstream::Piece;

class StreamTest : public ApiTest {
protected:
    std::string extraChatYaml() const override { return "  heartbeat_ms: 100\n"; }
    // Hundreds of streams at once on a loaded (or sanitized) machine.
    int upstreamTimeoutMs() const override { return 15000; }

    std::unique_ptr<SseClient> stream(const std::string& token, const std::string& conversation,
                                      const std::string& content) {
        return std::make_unique<SseClient>(server_->port(), "/conversations/" + conversation + "/messages", token,
                                           nlohmann::json{{"content", content}}.dump());
    }
    // The next event that is not a heartbeat comment.
    static SseClient::Item nextEvent(SseClient& client) {
        for (;;) {
            auto item = client.next();
            if (!item) return {false, "<end>", ""};
            if (!item->comment) return *item;
        }
    }
    // The reply "Hello" in two pieces; the second is held back until the
    // client has seen the first.
    void scriptHelloInTwoPieces() {
        upstream_.script({{0ms, chunk("Hel")}, {0ms, chunk("lo", "stop") + kUsage + kDone, true}});
    }
    // Both pieces in order, the done event (its data, returned) and the end.
    nlohmann::json receiveHelloInTwoPieces(SseClient& client) {
        auto first = nextEvent(client);
        EXPECT_EQ(first.event, "delta");
        EXPECT_EQ(nlohmann::json::parse(first.data)["content"], "Hel");
        upstream_.openGate();
        auto second = nextEvent(client);
        EXPECT_EQ(nlohmann::json::parse(second.data)["content"], "lo");
        auto done = nextEvent(client);
        EXPECT_EQ(done.event, "done") << done.data;
        EXPECT_FALSE(client.next());  // the response ended
        auto j = nlohmann::json::parse(done.data, nullptr, false);
        EXPECT_EQ(j["response"], "Hello");
        return j;
    }
};

TEST_P(StreamTest, DeltasArriveAsTheUpstreamSendsThem) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    scriptHelloInTwoPieces();
    auto client = stream(alice, id, "hi");
    ASSERT_EQ(client->status(), 200);
    EXPECT_EQ(client->headers().at("content-type"), "text/event-stream");
    auto j = receiveHelloInTwoPieces(*client);
    EXPECT_EQ(j["finish_reason"], "stop");
    EXPECT_EQ(j["usage"]["prompt_tokens"], 5);
    ASSERT_TRUE(j["message_id"].is_string());
    EXPECT_TRUE(isUuid(j["message_id"].get<std::string>()));
    auto h = history(alice, id);
    ASSERT_EQ(h.size(), 2u);
    EXPECT_EQ(h[1]["content"], "Hello");
    EXPECT_EQ(h[1]["id"], j["message_id"]);
    EXPECT_TRUE(nlohmann::json::parse(upstream_.requests().back().body)["stream"].get<bool>());
}

// A next turn's call starts before storage has confirmed the conversation;
// text that arrives meanwhile is held back and reaches the client first, in
// order, once it has.
TEST_P(StreamTest, ANextTurnStreamsWhole) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    ASSERT_EQ(send(alice, id, "first").status, 200);
    scriptHelloInTwoPieces();
    auto client = stream(alice, id, "second");
    ASSERT_EQ(client->status(), 200);
    receiveHelloInTwoPieces(*client);
    auto h = history(alice, id);
    ASSERT_EQ(h.size(), 4u);
    EXPECT_EQ(h[3]["content"], "Hello");
    EXPECT_EQ(upstream_.requests().size(), 2u);
    EXPECT_EQ(scrapeMetrics()["omnichat_early_starts_total{outcome=\"confirmed\"}"], 1);
}

// A client that asks for Connection: close sees the connection end with
// the stream instead of waiting on it (found by the benchmark's clients).
TEST_P(StreamTest, ConnectionCloseEndsTheConnectionAfterTheStream) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    upstream_.script({{0ms, chunk("Bye", "stop") + kUsage + kDone}});
    Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", server_->port()));
    const std::string body = R"({"content":"hi"})";
    const std::string request = "POST /conversations/" + id +
                                "/messages HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer " + alice +
                                "\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n"
                                "Content-Length: " +
                                std::to_string(body.size()) + "\r\n\r\n" + body;
    socket.sendBytes(request.data(), static_cast<int>(request.size()));
    socket.setReceiveTimeout(Poco::Timespan(10, 0));
    std::string response;
    char buffer[4096];
    try {
        for (int n; (n = socket.receiveBytes(buffer, sizeof buffer)) > 0;)
            response.append(buffer, static_cast<size_t>(n));
    } catch (const Poco::TimeoutException&) {
        FAIL() << "the connection stayed open after the stream:\n" << response;
    }
    EXPECT_NE(response.find("Connection: close"), std::string::npos) << response;
    EXPECT_NE(response.find("event: done"), std::string::npos) << response;
    EXPECT_NE(response.find("\r\n0\r\n\r\n"), std::string::npos) << response;  // the body ended properly
}

TEST_P(StreamTest, StreamFlagInTheBodyStreamsToo) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    SseClient client(server_->port(), "/conversations/" + id + "/messages", alice, R"({"content":"hi","stream":true})",
                     false);
    ASSERT_EQ(client.status(), 200);
    auto events = client.rest();
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().event, "done");
    EXPECT_EQ(nlohmann::json::parse(events.back().data)["response"], "reply to: hi");
}

TEST_P(StreamTest, OpenRouterKeepAlivesAndRepeatedFinishReason) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    upstream_.script({{0ms, ": OPENROUTER PROCESSING\n\n"},
                      {0ms, chunk("Hi") + chunk(" there", "stop")},
                      {0ms, chunk("", "stop") + kUsage + kDone}});
    auto events = stream(alice, id, "hi")->rest();
    ASSERT_EQ(events.size(), 3u);
    EXPECT_EQ(events[2].event, "done");
    EXPECT_EQ(nlohmann::json::parse(events[2].data)["response"], "Hi there");
}

TEST_P(StreamTest, MidStreamErrorEndsWithAnErrorEventAndStoresNothing) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    upstream_.script({{0ms, chunk("Par")},
                      {0ms,
                       "data: {\"error\":{\"code\":502,\"message\":\"Provider disconnected\"},\"choices\":[{"
                       "\"index\":0,\"delta\":{\"content\":\"\"},\"finish_reason\":\"error\"}]}\n\n"}});
    auto events = stream(alice, id, "hi")->rest();
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[1].event, "error");
    EXPECT_EQ(nlohmann::json::parse(events[1].data)["error"]["code"], "provider_error");
    EXPECT_TRUE(history(alice, id).empty());
}

TEST_P(StreamTest, StreamCutWithoutDoneIsAnError) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    upstream_.script({{0ms, chunk("Half a sen")}}, true);
    auto events = stream(alice, id, "hi")->rest();
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().event, "error");
    EXPECT_TRUE(history(alice, id).empty());
}

TEST_P(StreamTest, HeartbeatsFillLongSilences) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    upstream_.script({{0ms, chunk("late", "stop") + kDone, true}});
    auto client = stream(alice, id, "hi");
    auto item = client->next();
    ASSERT_TRUE(item);
    EXPECT_TRUE(item->comment) << item->event;  // before any delta
    upstream_.openGate();
    auto events = client->rest();
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().event, "done");
}

TEST_P(StreamTest, ClientLeavingMidStreamCancelsUpstreamAndStoresNothing) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    std::vector<Piece> pieces{{0ms, chunk("first")}};
    for (int i = 0; i < 200; ++i) pieces.push_back({20ms, chunk(" more")});
    upstream_.script(pieces);
    auto client = stream(alice, id, "hi");
    EXPECT_EQ(nextEvent(*client).event, "delta");
    client->close();
    EXPECT_TRUE(upstream_.waitClientGone(10s)) << "omnichat kept the upstream call open";
    EXPECT_TRUE(history(alice, id).empty());
    // The server is fine afterwards.
    upstream_.reply();
    EXPECT_EQ(send(alice, id, "again").status, 200);
}

TEST_P(StreamTest, ErrorsBeforeTheStreamStartsArePlainResponses) {
    auto alice = token(user("alice"));
    SseClient client(server_->port(), "/conversations/" + newUuid() + "/messages", alice, R"({"content":"hi"})");
    EXPECT_EQ(client.status(), 404);
    EXPECT_EQ(nlohmann::json::parse(client.plainBody())["error"]["code"], "not_found");
}

TEST_P(StreamTest, ManyConcurrentStreamsCompleteIntact) {
    constexpr int kStreams = 200;
    auto alice = token(user("alice"));
    auto ids = createConversations(alice, kStreams);
    std::vector<std::future<std::string>> results;
    for (int i = 0; i < kStreams; ++i)
        results.push_back(std::async(std::launch::async, [&, i]() -> std::string {
            std::string content = "stream " + std::to_string(i) + " with several words to split";
            SseClient client(server_->port(), "/conversations/" + ids[i] + "/messages", alice,
                             nlohmann::json{{"content", content}}.dump());
            std::string joined;
            for (const auto& e : client.rest()) {
                if (e.event == "delta") joined += nlohmann::json::parse(e.data)["content"].get<std::string>();
                if (e.event == "done") {
                    auto response = nlohmann::json::parse(e.data)["response"].get<std::string>();
                    if (response != joined) return "deltas and response differ: " + joined + " | " + response;
                    if (response != "reply to: " + content) return "wrong reply: " + response;
                    return "ok";
                }
            }
            return "no done event";
        }));
    for (auto& r : results) EXPECT_EQ(r.get(), "ok");
    for (int i = 0; i < kStreams; i += 37) EXPECT_EQ(history(alice, ids[i]).size(), 2u);
}

// A third party's provider that ends pieces inside characters, or emits
// bytes that are no UTF-8 (tests/fixtures/bytes_provider.cpp), found on
// plugins.path.
class ThirdPartyBytesTest : public StreamTest {
protected:
    std::string extraTopLevelYaml() const override {
        return "plugins:\n  path: [" + std::string(OMNICHAT_TEST_PLUGIN_DIR) + "]\n";
    }
    // The model names the bytes the fixture answers with.
    std::string extraProvidersYaml() const override {
        return "  bytes:\n    plugin: bytes\n    models: [split, invalid]\n";
    }
    std::string conversationOf(const std::string& tok, const std::string& model) {
        auto r = call("POST", "/conversations?project_id=p", tok,
                      nlohmann::json{{"provider", "bytes"}, {"model", model}}.dump());
        EXPECT_EQ(r.status, 201) << r.body;
        return r.json().at("id").get<std::string>();
    }
};

// Characters split between pieces reach the client whole: every delta is
// valid JSON text, and together they are the reply.
TEST_P(ThirdPartyBytesTest, CharactersSplitBetweenPiecesArriveWhole) {
    auto alice = token(user("alice"));
    auto id = conversationOf(alice, "split");
    auto client = stream(alice, id, "hi");
    ASSERT_EQ(client->status(), 200);
    std::string text;
    for (auto item = nextEvent(*client); item.event == "delta"; item = nextEvent(*client)) {
        text += nlohmann::json::parse(item.data).at("content").get<std::string>();
        if (text.size() > 100) break;
    }
    EXPECT_EQ(text, "caf\xc3\xa9 cr\xc3\xa8me \xf0\x9f\x8d\xb0");
    auto h = history(alice, id);
    ASSERT_EQ(h.size(), 2u);
    EXPECT_EQ(h[1]["content"], text);
}

// Bytes that are no UTF-8 are never sent on; the stream ends with the
// error, nothing is stored, and the server carries on.
TEST_P(ThirdPartyBytesTest, BytesThatAreNoTextEndTheStreamWithAnError) {
    auto alice = token(user("alice"));
    auto id = conversationOf(alice, "invalid");
    auto client = stream(alice, id, "hi");
    ASSERT_EQ(client->status(), 200);
    auto first = nextEvent(*client);
    ASSERT_EQ(first.event, "delta") << first.data;
    EXPECT_EQ(nlohmann::json::parse(first.data)["content"], "fine, then ");
    auto last = nextEvent(*client);
    ASSERT_EQ(last.event, "error") << last.data;
    EXPECT_EQ(nlohmann::json::parse(last.data)["error"]["code"], "provider_bad_response");
    EXPECT_TRUE(history(alice, id).empty());
    EXPECT_EQ(call("GET", "/healthz", "").status, 200);
}

INSTANTIATE_TEST_SUITE_P(Storage, StreamTest, ::testing::Values("postgres"),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Storage, ThirdPartyBytesTest, ::testing::Values("sqlite"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace omnichat::testing
