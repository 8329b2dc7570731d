// What an authenticated user can make the service hold or spend: caps on
// conversations and their size, the context sent upstream, and the models
// that may be billed.
#include "api_fixture.hpp"

namespace omnichat::testing {
namespace {

class CapsTest : public ApiTest {
protected:
    std::string extraTopLevelYaml() const override {
        return "limits:\n  max_conversations_per_user: 3\n  max_messages_per_conversation: 4\n"
               "  max_conversation_bytes: 2000\n";
    }
    void expectRefused(const HttpResponse& r, const std::string& code) {
        EXPECT_EQ(r.status, 409) << r.body;
        EXPECT_EQ(r.json()["error"]["code"], code) << r.body;
    }
};

TEST_P(CapsTest, AUserKeepsABoundedNumberOfConversations) {
    auto alice = token(user("alice")), bob = token(user("bob"));
    auto ids = createConversations(alice, 3);
    expectRefused(call("POST", "/conversations?project_id=other", alice), "too_many_conversations");
    EXPECT_EQ(call("POST", "/conversations?project_id=other", bob).status, 201);  // another user's room is their own
    ASSERT_EQ(call("DELETE", "/conversations/" + ids[0], alice).status, 204);
    EXPECT_EQ(call("POST", "/conversations?project_id=other", alice).status, 201);
}

TEST_P(CapsTest, AConversationHoldsABoundedNumberOfMessages) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    ASSERT_EQ(send(alice, id, "one").status, 200);
    ASSERT_EQ(send(alice, id, "two").status, 200);
    const auto calls = upstream_.requestCount();
    expectRefused(send(alice, id, "three"), "conversation_full");
    EXPECT_EQ(upstream_.requestCount(), calls) << "a full conversation still reached the provider";
    EXPECT_EQ(history(alice, id).size(), 4u);
}

TEST_P(CapsTest, AConversationHoldsABoundedAmountOfText) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    ASSERT_EQ(send(alice, id, std::string(1200, 'a')).status, 200);
    expectRefused(send(alice, id, std::string(900, 'b')), "conversation_full");
    EXPECT_EQ(history(alice, id).size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Storage, CapsTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

// Without configuration, a long history does not go upstream whole: the
// oldest turns are left out once the context passes its default budget.
TEST_P(ApiTest, ALongHistoryGoesUpstreamWithinTheDefaultBudget) {
    auto alice = token(user("alice"));
    auto id = createConversation(alice);
    // The fake upstream's replies repeat the question: 500,000 characters,
    // then 200,000.
    ASSERT_EQ(send(alice, id, std::string(250000, 'a')).status, 200);
    ASSERT_EQ(send(alice, id, std::string(100000, 'b')).status, 200);
    ASSERT_EQ(send(alice, id, "and now?").status, 200);
    auto body = nlohmann::json::parse(upstream_.requests().back().body);
    std::string sent;
    for (const auto& m : body["messages"]) sent += m["content"].get<std::string>();
    EXPECT_EQ(sent.find(std::string(1000, 'a')), std::string::npos) << "the oldest turn went upstream";
    EXPECT_NE(sent.find(std::string(1000, 'b')), std::string::npos);
    EXPECT_NE(sent.find("and now?"), std::string::npos);
    EXPECT_EQ(history(alice, id).size(), 6u);  // all of it is kept
}

// Only the operator's models may be named, and only they become labels.
TEST_P(ApiTest, OnlyTheOperatorsModelsMayBeNamed) {
    auto alice = token(user("alice"));
    for (const char* model : {"gpt-4-32k-expensive", "test-model-2", ""}) {
        auto r = call("POST", "/conversations?project_id=p", alice, nlohmann::json{{"model", model}}.dump());
        if (std::string(model).empty()) {
            EXPECT_EQ(r.status, 201) << r.body;  // empty: the instance's own
            continue;
        }
        EXPECT_EQ(r.status, 400) << model;
        EXPECT_EQ(r.json()["error"]["code"], "invalid_settings");
    }
    // The configured model (chat.default_model) may be named.
    auto r = call("POST", "/conversations?project_id=p", alice,
                  nlohmann::json{{"provider", "fake"}, {"model", "test-model"}}.dump());
    ASSERT_EQ(r.status, 201) << r.body;
    ASSERT_EQ(send(alice, r.json()["id"], "hi").status, 200);
    auto m = scrapeMetrics();
    EXPECT_EQ(m["omnichat_provider_calls_total{provider=\"fake\",model=\"test-model\",outcome=\"ok\"}"], 1);
    for (const auto& [series, value] : m) EXPECT_EQ(series.find("gpt-4-32k-expensive"), std::string::npos) << series;
}

}  // namespace
}  // namespace omnichat::testing
