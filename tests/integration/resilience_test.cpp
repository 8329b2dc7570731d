// Retries, fallbacks and timeouts of provider calls, end to end.
#include "api_fixture.hpp"
#include "sse_client.hpp"

namespace omnichat::testing {
namespace {

using namespace std::chrono_literals;

class ResilienceTest : public ApiTest {
protected:
    std::string retryYaml() const override {
        return "  retry:\n    max_attempts: 3\n    initial_backoff_ms: 10\n    max_backoff_ms: 50\n"
               "  fallbacks:\n    - provider: backup\n      model: backup-model\n"
               "  timeouts:\n    first_token_ms: 400\n    idle_ms: 400\n"
               "  context:\n    max_messages: 2\n";
    }
    std::string extraProvidersYaml() const override {
        return "  backup:\n    plugin: openai\n    options:\n      api_key: sk-backup\n      base_url: " +
               backup_.baseUrl() + "\n    models: [backup-model, backup-large]\n";
    }

    FakeUpstream backup_;
};

TEST_P(ResilienceTest, RateLimitedThenSuccessIsRetriedAndStoredOnce) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    upstream_.failNext(1, 429, R"({"error":{"message":"slow down"}})", {{"Retry-After", "0"}});
    auto r = send(alice, id, "hello");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(upstream_.requestCount(), 2u);
    EXPECT_EQ(backup_.requestCount(), 0u);
    auto h = history(alice, id);
    ASSERT_EQ(h.size(), 2u);
    EXPECT_EQ(h[1]["provider"], "fake");
}

TEST_P(ResilienceTest, ServerErrorsTwiceThenSuccess) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    upstream_.failNext(2, 500, R"({"error":{}})");
    auto r = send(alice, id, "hello");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(upstream_.requestCount(), 3u);
    EXPECT_EQ(history(alice, id).size(), 2u);
}

TEST_P(ResilienceTest, PermanentFailureFallsBackToTheNextProvider) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    upstream_.fail(503, R"({"error":{}})");
    auto r = send(alice, id, "hello");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["response"], "reply to: hello");
    EXPECT_EQ(upstream_.requestCount(), 3u);  // all its attempts, then the fallback
    ASSERT_EQ(backup_.requestCount(), 1u);
    EXPECT_EQ(nlohmann::json::parse(backup_.requests()[0].body)["model"], "backup-model");
    EXPECT_EQ(backup_.requests()[0].headers.at("authorization"), "Bearer sk-backup");
    auto h = history(alice, id);
    ASSERT_EQ(h.size(), 2u);
    EXPECT_EQ(h[1]["provider"], "backup");  // who answered is recorded
}

TEST_P(ResilienceTest, FinalErrorsAreNotRetried) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    upstream_.fail(401, R"({"error":{}})");
    auto r = send(alice, id, "hello");
    EXPECT_EQ(r.status, 502);
    EXPECT_EQ(r.json()["error"]["code"], "provider_auth_failed");
    EXPECT_EQ(upstream_.requestCount(), 1u);
    EXPECT_EQ(backup_.requestCount(), 0u);
}

TEST_P(ResilienceTest, NoRetryOnceADeltaReachedTheClient) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    upstream_.script({{0ms, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hal\"}}]}\n\n"},
                      {0ms,
                       "data: {\"error\":{\"code\":503},\"choices\":[{\"index\":0,\"delta\":{},"
                       "\"finish_reason\":\"error\"}]}\n\n"}});
    SseClient client(server_->port(), "/conversations/" + id + "/messages", alice, R"({"content":"hi"})");
    auto events = client.rest();
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].event, "delta");
    EXPECT_EQ(events[1].event, "error");
    EXPECT_EQ(upstream_.requestCount(), 1u);
    EXPECT_EQ(backup_.requestCount(), 0u);
    EXPECT_TRUE(history(alice, id).empty());
}

TEST_P(ResilienceTest, FirstTokenTimeoutRetriesThenFallsBack) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    upstream_.script({{5s, "data: [DONE]\n\n"}});  // silent far past first_token_ms
    auto r = send(alice, id, "hello");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(upstream_.requestCount(), 3u);
    EXPECT_EQ(backup_.requestCount(), 1u);
}

TEST_P(ResilienceTest, TimeoutsHaveTheirOwnCodes) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    std::vector<FakeUpstream::Piece> silentAfterOne{
        {0ms, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"}, {5s, "data: [DONE]\n\n"}};
    upstream_.script({{5s, "data: [DONE]\n\n"}});
    backup_.script({{5s, "data: [DONE]\n\n"}});
    auto r = send(alice, id, "hello");
    EXPECT_EQ(r.status, 504);
    EXPECT_EQ(r.json()["error"]["code"], "provider_timeout_first_token");

    // Idle: streaming, so the delta reached the client and nothing is retried.
    upstream_.script(silentAfterOne);
    SseClient client(server_->port(), "/conversations/" + id + "/messages", alice, R"({"content":"hi"})");
    auto events = client.rest();
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().event, "error");
    EXPECT_EQ(nlohmann::json::parse(events.back().data)["error"]["code"], "provider_timeout_idle");
    EXPECT_TRUE(history(alice, id).empty());
}

TEST_P(ResilienceTest, ConversationsKeepTheirOwnProviderModelAndPrompt) {
    auto alice = token(user("alice"));
    auto r = call("POST", "/conversations?project_id=p", alice,
                  R"({"provider":"backup","model":"backup-large","system_prompt":"Answer in French."})");
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(r.json()["provider"], "backup");
    EXPECT_EQ(r.json()["model"], "backup-large");
    auto id = r.json()["id"].get<std::string>();
    ASSERT_EQ(send(alice, id, "hello").status, 200);
    EXPECT_EQ(upstream_.requestCount(), 0u);
    ASSERT_EQ(backup_.requestCount(), 1u);
    auto body = nlohmann::json::parse(backup_.requests()[0].body);
    EXPECT_EQ(body["model"], "backup-large");
    EXPECT_EQ(body["messages"][0], (nlohmann::json{{"role", "system"}, {"content", "Answer in French."}}));
    auto c = call("GET", "/conversations/" + id, alice).json();
    EXPECT_EQ(c["system_prompt"], "Answer in French.");
    EXPECT_EQ(history(alice, id)[1]["provider"], "backup");
}

TEST_P(ResilienceTest, UnknownProviderOrDisallowedModelIs400) {
    auto alice = token(user("alice"));
    auto r = call("POST", "/conversations?project_id=p", alice, R"({"provider":"nobody"})");
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.json()["error"]["code"], "invalid_settings");
    r = call("POST", "/conversations?project_id=p", alice, R"({"provider":"backup","model":"gpt-9"})");
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.json()["error"]["code"], "invalid_settings");
    r = call("POST", "/conversations?project_id=p", alice, R"({"model":42})");
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.json()["error"]["code"], "invalid_model");
}

TEST_P(ResilienceTest, ContextBudgetDropsTheOldestMessages) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    for (auto text : {"one", "two", "three"}) ASSERT_EQ(send(alice, id, text).status, 200);
    auto body = nlohmann::json::parse(upstream_.requests().back().body);
    auto expected = nlohmann::json::array({
        {{"role", "system"}, {"content", "You are terse."}},
        {{"role", "user"}, {"content", "two"}},
        {{"role", "assistant"}, {"content", "reply to: two"}},
        {{"role", "user"}, {"content", "three"}},
    });
    EXPECT_EQ(body["messages"], expected);
    EXPECT_EQ(history(alice, id).size(), 6u);  // storage keeps everything
}

TEST_P(ResilienceTest, RepliesCarryTheirAccountingAndConversationsTheirTotals) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    upstream_.script({{0ms,
                       "data: {\"model\":\"m-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"},"
                       "\"finish_reason\":\"stop\"}]}\n\n"},
                      {0ms,
                       "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":4,"
                       "\"prompt_tokens_details\":{\"cached_tokens\":3},\"completion_tokens_details\":{"
                       "\"reasoning_tokens\":2},\"cost\":0.25}}\n\ndata: [DONE]\n\n"}});
    ASSERT_EQ(send(alice, id, "a").status, 200);
    ASSERT_EQ(send(alice, id, "b").status, 200);
    auto reply = history(alice, id)[1];
    EXPECT_EQ(reply["model"], "m-1");
    EXPECT_EQ(reply["finish_reason"], "stop");
    EXPECT_EQ(reply["usage"]["prompt_tokens"], 10);
    EXPECT_EQ(reply["usage"]["cached_tokens"], 3);
    EXPECT_EQ(reply["usage"]["reasoning_tokens"], 2);
    EXPECT_DOUBLE_EQ(reply["cost"].get<double>(), 0.25);
    EXPECT_GE(reply["latency_ms"].get<int64_t>(), 0);
    auto totals = call("GET", "/conversations/" + id, alice).json()["totals"];
    EXPECT_EQ(totals["messages"], 4);
    EXPECT_EQ(totals["prompt_tokens"], 20);
    EXPECT_EQ(totals["completion_tokens"], 8);
    EXPECT_DOUBLE_EQ(totals["cost"].get<double>(), 0.5);
}

INSTANTIATE_TEST_SUITE_P(Storage, ResilienceTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace omnichat::testing
