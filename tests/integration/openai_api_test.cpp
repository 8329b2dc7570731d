// OpenAI's chat completions API (/v1/chat/completions, /v1/models) through
// the real server and a fake OpenAI-compatible upstream.
#include <cstdio>
#include <filesystem>
#include <set>
#include "api_fixture.hpp"

#include "sse_client.hpp"

namespace omnichat::testing {
namespace {

class OpenAiApiTest : public ApiTest {
protected:
    // A second instance, reachable as `other/...`.
    std::string extraProvidersYaml() const override {
        return "  other:\n    plugin: openai\n    options:\n      api_key: " + std::string(kApiKey) +
               "\n      base_url: " + upstream_.baseUrl() + "\n      model: other-model\n";
    }
    // An alias of the second instance's model, and one of a model no
    // instance offers.
    std::string extraChatYaml() const override {
        return "  aliases:\n    fast: other/other-model\n    broken: nowhere/some-model\n";
    }
    HttpResponse complete(const std::string& tok, const nlohmann::json& body) {
        return call("POST", "/v1/chat/completions", tok, body.dump());
    }
    static nlohmann::json messages(const std::string& last) {
        return nlohmann::json::array({{{"role", "system"}, {"content", "Be brief."}},
                                      {{"role", "user"}, {"content", "first"}},
                                      {{"role", "assistant"}, {"content", "an answer"}},
                                      {{"role", "user"}, {"content", last}}});
    }
};

TEST_P(OpenAiApiTest, ACompletionAnswersInOpenAisShapeAndStoresNothing) {
    auto alice = token(user("alice"));
    auto r = complete(alice, {{"model", "test-model"},
                              {"messages", messages("and now?")},
                              {"temperature", 0.25},
                              {"max_completion_tokens", 40},
                              {"top_p", 0.5},
                              {"stop", {"END", "STOP"}},
                              {"seed", 7},
                              {"response_format", {{"type", "json_object"}}},
                              {"user", "end-user-1"},
                              {"metadata", {{"ignored", "yes"}}}});
    ASSERT_EQ(r.status, 200) << r.body;
    auto j = r.json();
    EXPECT_EQ(j["object"], "chat.completion");
    EXPECT_EQ(j["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
    EXPECT_EQ(j["model"], "test-model");
    EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
    EXPECT_EQ(j["choices"][0]["message"]["content"], "reply to: and now?");
    EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
    EXPECT_EQ(j["usage"]["prompt_tokens"], 11);
    EXPECT_EQ(j["usage"]["total_tokens"], 18);

    // The client's messages went upstream as sent, with its parameters.
    auto sent = nlohmann::json::parse(upstream_.requests().back().body);
    EXPECT_EQ(sent["model"], "test-model");
    EXPECT_DOUBLE_EQ(sent["temperature"].get<double>(), 0.25);
    EXPECT_EQ(sent["max_tokens"], 40);
    EXPECT_DOUBLE_EQ(sent["top_p"].get<double>(), 0.5);
    EXPECT_EQ(sent["stop"], nlohmann::json::array({"END", "STOP"}));
    EXPECT_EQ(sent["seed"], 7);
    EXPECT_EQ(sent["response_format"], nlohmann::json({{"type", "json_object"}}));
    EXPECT_EQ(sent["user"], "end-user-1");
    EXPECT_FALSE(sent.contains("metadata"));
    ASSERT_EQ(sent["messages"].size(), 4u);
    EXPECT_EQ(sent["messages"][0]["role"], "system");
    EXPECT_EQ(sent["messages"][0]["content"], "Be brief.");
    EXPECT_EQ(sent["messages"][2]["role"], "assistant");
    EXPECT_EQ(sent["messages"][3]["content"], "and now?");

    // Stateless: no conversation was made for it.
    auto list = call("GET", "/conversations/project/default", alice);
    ASSERT_EQ(list.status, 200);
    EXPECT_TRUE(list.json().empty()) << list.body;
}

TEST_P(OpenAiApiTest, AStreamIsOpenAisChunksEndingWithDone) {
    auto alice = token(user("alice"));
    SseClient stream(server_->port(), "/v1/chat/completions", alice,
                     nlohmann::json{{"model", "test-model"},
                                    {"messages", messages("stream it")},
                                    {"stream", true},
                                    {"stream_options", {{"include_usage", true}}}}
                         .dump(),
                     false);
    ASSERT_EQ(stream.status(), 200) << stream.plainBody();
    auto events = stream.rest();
    ASSERT_GE(events.size(), 3u);
    EXPECT_EQ(events.back().data, "[DONE]");
    std::string text, finish;
    nlohmann::json usage;
    for (size_t i = 0; i + 1 < events.size(); ++i) {
        EXPECT_EQ(events[i].event, "message") << "OpenAI's chunks are unnamed events";
        auto chunk = nlohmann::json::parse(events[i].data);
        EXPECT_EQ(chunk["object"], "chat.completion.chunk");
        EXPECT_EQ(chunk["model"], "test-model");
        if (chunk["choices"].empty()) {
            usage = chunk["usage"];
            continue;
        }
        EXPECT_TRUE(chunk["usage"].is_null());
        const auto& choice = chunk["choices"][0];
        if (choice["delta"].contains("content")) text += choice["delta"]["content"].get<std::string>();
        if (!choice["finish_reason"].is_null()) finish = choice["finish_reason"];
    }
    EXPECT_EQ(text, "reply to: stream it");
    EXPECT_EQ(finish, "stop");
    EXPECT_EQ(usage["completion_tokens"], 7);
    EXPECT_EQ(nlohmann::json::parse(upstream_.requests().back().body)["stream"], true);
}

TEST_P(OpenAiApiTest, ModelsAreTheAllowedOnesAndNameTheirInstance) {
    auto alice = token(user("alice"));
    auto models = call("GET", "/v1/models", alice);
    ASSERT_EQ(models.status, 200) << models.body;
    std::set<std::string> ids;
    const auto list = models.json();
    for (const auto& m : list["data"]) ids.insert(m["id"].get<std::string>());
    EXPECT_EQ(ids, (std::set<std::string>{"test-model", "other/other-model", "fast"}));

    auto other = complete(alice, {{"model", "other/other-model"}, {"messages", messages("hi")}});
    ASSERT_EQ(other.status, 200) << other.body;
    EXPECT_EQ(other.json()["model"], "other/other-model");
    EXPECT_EQ(nlohmann::json::parse(upstream_.requests().back().body)["model"], "other-model");
    EXPECT_EQ(complete(alice, {{"model", "fake/test-model"}, {"messages", messages("hi")}}).status, 200);
    auto alias = complete(alice, {{"model", "fast"}, {"messages", messages("hi")}});
    ASSERT_EQ(alias.status, 200) << alias.body;
    EXPECT_EQ(alias.json()["model"], "fast");
    EXPECT_EQ(nlohmann::json::parse(upstream_.requests().back().body)["model"], "other-model");

    // A model the operator did not allow is not billed: 404, upstream untouched.
    const size_t before = upstream_.requestCount();
    auto expensive = complete(alice, {{"model", "gpt-4-32k-expensive"}, {"messages", messages("hi")}});
    EXPECT_EQ(expensive.status, 404);
    EXPECT_EQ(expensive.json()["error"]["code"], "model_not_found");
    EXPECT_EQ(expensive.json()["error"]["type"], "invalid_request_error");
    EXPECT_EQ(complete(alice, {{"model", "other/test-model"}, {"messages", messages("hi")}}).status, 404);
    EXPECT_EQ(complete(alice, {{"model", "broken"}, {"messages", messages("hi")}}).status, 404);
    EXPECT_EQ(upstream_.requestCount(), before);
}

TEST_P(OpenAiApiTest, BadRequestsGetOpenAisErrorShape) {
    auto alice = token(user("alice"));
    struct Case {
        nlohmann::json body;
        int status;
        std::string code;
    };
    const auto ok = messages("hi");
    const std::vector<Case> cases = {
        {{{"messages", ok}}, 400, "missing_model"},
        {{{"model", "test-model"}}, 400, "missing_messages"},
        {{{"model", "test-model"}, {"messages", nlohmann::json::array()}}, 400, "invalid_messages"},
        {{{"model", "test-model"}, {"messages", {{{"role", "assistant"}, {"content", "x"}}}}}, 400, "invalid_messages"},
        {{{"model", "test-model"}, {"messages", {{{"role", "tool"}, {"content", "x"}}}}}, 400, "unsupported_role"},
        {{{"model", "test-model"},
          {"messages", {{{"role", "user"}, {"content", {{{"type", "image_url"}, {"image_url", "x"}}}}}}}},
         400,
         "invalid_content"},
        {{{"model", "test-model"}, {"messages", ok}, {"temperature", 3}}, 400, "invalid_temperature"},
        {{{"model", "test-model"}, {"messages", ok}, {"n", 2}}, 400, "unsupported_parameter"},
        {{{"model", "test-model"}, {"messages", ok}, {"top_p", 1.5}}, 400, "invalid_top_p"},
        {{{"model", "test-model"}, {"messages", ok}, {"stop", {"a", "b", "c", "d", "e"}}}, 400, "invalid_stop"},
        {{{"model", "test-model"}, {"messages", ok}, {"seed", 1.5}}, 400, "invalid_seed"},
        {{{"model", "test-model"}, {"messages", ok}, {"response_format", {{"type", "xml"}}}},
         400,
         "invalid_response_format"},
        {{{"model", "test-model"}, {"messages", ok}, {"logit_bias", {{"1", 2}}}}, 400, "unsupported_parameter"},
        {{{"model", "test-model"}, {"messages", ok}, {"tools", {{{"type", "function"}}}}},
         400,
         "unsupported_parameter"},
        {{{"model", "test-model"}, {"messages", ok}, {"frobnicate", 1}}, 400, "unknown_parameter"},
    };
    for (const auto& c : cases) {
        auto r = complete(alice, c.body);
        EXPECT_EQ(r.status, c.status) << c.body.dump() << " -> " << r.body;
        auto error = r.json()["error"];
        EXPECT_EQ(error["code"], c.code) << c.body.dump();
        EXPECT_EQ(error["type"], "invalid_request_error");
        EXPECT_TRUE(error["message"].is_string());
    }
    // Defaults a client library sends are fine.
    EXPECT_EQ(complete(alice, {{"model", "test-model"},
                               {"messages", ok},
                               {"n", 1},
                               {"top_p", 1},
                               {"stop", nullptr},
                               {"response_format", {{"type", "text"}}}})
                  .status,
              200);
    auto anonymous = complete("", {{"model", "test-model"}, {"messages", ok}});
    EXPECT_EQ(anonymous.status, 401);
    EXPECT_EQ(anonymous.json()["error"]["type"], "authentication_error");
}

TEST_P(OpenAiApiTest, AnUpstreamFailureIsAnOpenAiError) {
    upstream_.fail(401, R"({"error":{"message":"bad key"}})");
    auto r = complete(token(user("alice")), {{"model", "test-model"}, {"messages", messages("hi")}});
    EXPECT_EQ(r.status, 502);
    EXPECT_EQ(r.json()["error"]["code"], "provider_auth_failed");
    EXPECT_EQ(r.json()["error"]["type"], "server_error");
    EXPECT_EQ(r.body.find("bad key"), std::string::npos);
}

// The official `openai` npm package (installed by scripts/test.sh into
// build/npm), changed only in its base URL and key.
TEST_P(OpenAiApiTest, TheOfficialClientWorksUnchanged) {
    const std::string module = std::string(OMNICHAT_NPM_DIR) + "/node_modules/openai";
    ASSERT_TRUE(std::filesystem::exists(module))
        << module << " is missing: scripts/test.sh installs it (npm install --prefix build/npm openai@5.23.2)";
    const std::string command = "OMNICHAT_OPENAI_MODULE='" + module +
                                "' OPENAI_BASE_URL='http://127.0.0.1:" + std::to_string(server_->port()) +
                                "/v1' OPENAI_API_KEY='" + token(user("alice")) + "' node '" + OMNICHAT_SOURCE_DIR +
                                "/tests/clients/openai_client.cjs' 2>&1";
    std::string output;
    FILE* node = popen(command.c_str(), "r");
    ASSERT_NE(node, nullptr);
    char buffer[4096];
    while (size_t n = fread(buffer, 1, sizeof buffer, node)) output.append(buffer, n);
    const int status = pclose(node);
    EXPECT_EQ(status, 0) << output;
    EXPECT_NE(output.find("all checks passed"), std::string::npos) << output;
}

INSTANTIATE_TEST_SUITE_P(Storage, OpenAiApiTest, ::testing::Values("sqlite"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace omnichat::testing
