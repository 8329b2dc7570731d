// Plugins as the server runs them: the Anthropic plugin against a fake
// Anthropic upstream, third-party plugins found on the plugin path or named
// by their file, plugins that misbehave, instances that fail to start, and
// the command line.
#include <omnichat/omnichat_plugin.h>

#include <csignal>

#include "api_fixture.hpp"
#include "raw_client.hpp"
#include "sse_client.hpp"

namespace omnichat::testing {
namespace {

// Which conversations may use which plugin: `claude` is the Anthropic
// plugin against its fake upstream; `bytes` and `raw` are test plugins, the
// first found on plugins.path, the second named by its file.
class PluginsTest : public ApiTest {
protected:
    std::string extraTopLevelYaml() const override {
        return "plugins:\n  path: [" + std::string(OMNICHAT_TEST_PLUGIN_DIR) + "]\n";
    }
    std::string extraProvidersYaml() const override {
        return "  claude:\n    plugin: anthropic\n    models: [claude-test, claude-3-5-haiku-latest]\n"
               "    options:\n      api_key: sk-ant-test\n      base_url: " +
               anthropic_.baseUrl() +
               "\n"
               "  bytes:\n    plugin: bytes\n    models: [hang, throw]\n"
               "  raw:\n    plugin: " +
               std::string(OMNICHAT_TEST_PLUGIN_DIR) + "/libomnichat-raw-throwing.so\n    models: [any]\n";
    }
    std::string conversationOf(const std::string& tok, const std::string& provider, const std::string& model = "") {
        nlohmann::json settings{{"provider", provider}};
        if (!model.empty()) settings["model"] = model;
        auto r = call("POST", "/conversations?project_id=p", tok, settings.dump());
        EXPECT_EQ(r.status, 201) << r.body;
        return r.json().value("id", "");
    }
    FakeUpstream anthropic_{FakeUpstream::Protocol::Anthropic};
};

// A plain exchange, a streamed one, the history on the next turn, usage,
// and a whole (non-streamed) answer from the upstream.
TEST_P(PluginsTest, AnthropicRepliesPlainAndStreamed) {
    auto alice = token(user("alice"));
    auto id = conversationOf(alice, "claude", "claude-test");
    auto plain = send(alice, id, "hello");
    ASSERT_EQ(plain.status, 200) << plain.body;
    EXPECT_EQ(plain.json()["response"], "reply to: hello");
    auto stored = history(alice, id).at(1);
    EXPECT_EQ(stored["usage"]["prompt_tokens"], 11);
    EXPECT_EQ(stored["usage"]["completion_tokens"], 7);
    EXPECT_EQ(stored["model"], "claude-fake");
    EXPECT_EQ(stored["provider"], "claude");
    EXPECT_EQ(stored["finish_reason"], "stop");

    SseClient stream(server_->port(), "/conversations/" + id + "/messages", alice, R"({"content":"again"})");
    std::string deltas;
    nlohmann::json done;
    for (const auto& e : stream.rest()) {
        if (e.event == "delta") deltas += nlohmann::json::parse(e.data)["content"].get<std::string>();
        if (e.event == "done") done = nlohmann::json::parse(e.data);
    }
    EXPECT_EQ(deltas, "reply to: again");
    EXPECT_EQ(done["response"], "reply to: again");

    auto requests = anthropic_.requests();
    ASSERT_EQ(requests.size(), 2u);
    EXPECT_EQ(requests[0].path, "/v1/messages");
    EXPECT_EQ(requests[0].headers["x-api-key"], "sk-ant-test");
    EXPECT_EQ(requests[0].headers["anthropic-version"], "2023-06-01");
    auto second = nlohmann::json::parse(requests[1].body);
    EXPECT_EQ(second["model"], "claude-test");
    EXPECT_EQ(second["system"], "You are terse.");
    EXPECT_EQ(second["max_tokens"], 1024);
    EXPECT_EQ(second["messages"], (nlohmann::json{{{"role", "user"}, {"content", "hello"}},
                                                  {{"role", "assistant"}, {"content", "reply to: hello"}},
                                                  {{"role", "user"}, {"content", "again"}}}));

    anthropic_.replyWhole();
    auto whole = send(alice, id, "at once");
    ASSERT_EQ(whole.status, 200) << whole.body;
    EXPECT_EQ(whole.json()["response"], "reply to: at once");
    EXPECT_EQ(history(alice, id).size(), 6u);
}

// Anthropic's errors reach the client as the README's codes.
// Through the OpenAI-compatible API, the sampling parameters Anthropic's API
// knows reach it in its own names.
TEST_P(PluginsTest, AnthropicGetsTheSamplingItKnows) {
    auto r = call("POST", "/v1/chat/completions", token(user("alice")),
                  nlohmann::json{{"model", "claude/claude-test"},
                                 {"messages", {{{"role", "user"}, {"content", "hi"}}}},
                                 {"temperature", 0.5},
                                 {"top_p", 0.25},
                                 {"max_tokens", 33},
                                 {"stop", {"END"}},
                                 {"seed", 4}}
                      .dump());
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["choices"][0]["message"]["content"], "reply to: hi");
    auto sent = nlohmann::json::parse(anthropic_.requests().back().body);
    EXPECT_DOUBLE_EQ(sent["temperature"].get<double>(), 0.5);
    EXPECT_DOUBLE_EQ(sent["top_p"].get<double>(), 0.25);
    EXPECT_EQ(sent["max_tokens"], 33);
    EXPECT_EQ(sent["stop_sequences"], nlohmann::json::array({"END"}));
    EXPECT_FALSE(sent.contains("seed"));
}

TEST_P(PluginsTest, AnthropicErrorsHaveTheirCodes) {
    auto alice = token(user("alice"));
    auto id = conversationOf(alice, "claude", "claude-test");
    anthropic_.fail(401, R"({"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}})");
    auto r = send(alice, id, "hi");
    EXPECT_EQ(r.status, 502);
    EXPECT_EQ(r.json()["error"]["code"], "provider_auth_failed");
    anthropic_.fail(429, R"({"type":"error","error":{"type":"rate_limit_error","message":"slow"}})",
                    {{"retry-after", "3"}});
    r = send(alice, id, "hi");
    EXPECT_EQ(r.status, 502);
    EXPECT_EQ(r.json()["error"]["code"], "provider_rate_limited");
    EXPECT_EQ(r.headers["retry-after"], "3");
    anthropic_.fail(529, R"({"type":"error","error":{"type":"overloaded_error","message":"busy"}})");
    r = send(alice, id, "hi");
    EXPECT_EQ(r.status, 502);
    EXPECT_EQ(r.json()["error"]["code"], "provider_error");
    EXPECT_TRUE(history(alice, id).empty());
}

// With no model chosen, the instance's `model` option is the one the
// upstream is asked for, and the one the metrics name.
TEST_P(PluginsTest, TheConfiguredModelReachesThePluginAndTheMetrics) {
    auto alice = token(user("alice"));
    auto id = conversationOf(alice, "claude");
    ASSERT_EQ(send(alice, id, "hi").status, 200);
    ASSERT_EQ(anthropic_.requests().size(), 1u);
    EXPECT_EQ(nlohmann::json::parse(anthropic_.requests()[0].body)["model"], "claude-3-5-haiku-latest");
    auto metrics = scrapeMetrics();
    bool named = false;
    for (const auto& [series, value] : metrics)
        named = named || (series.rfind("omnichat_provider_calls_total{", 0) == 0 &&
                          series.find("model=\"claude-3-5-haiku-latest\"") != std::string::npos);
    EXPECT_TRUE(named) << "no provider-call series names the model";
}

// An exception thrown out of start_chat, through the SDK's C++ layer or
// straight across the C ABI, is the provider's failure: 502 provider_error.
TEST_P(PluginsTest, AnExceptionFromAPluginIsAProviderError) {
    auto alice = token(user("alice"));
    for (auto [provider, model] : {std::pair{"raw", "any"}, std::pair{"bytes", "throw"}}) {
        auto r = send(alice, conversationOf(alice, provider, model), "hi");
        EXPECT_EQ(r.status, 502) << provider << ": " << r.body;
        EXPECT_EQ(r.json()["error"]["code"], "provider_error") << provider;
    }
    EXPECT_EQ(call("GET", "/healthz", "").status, 200);
}

INSTANTIATE_TEST_SUITE_P(Storage, PluginsTest, ::testing::Values("sqlite"),
                         [](const auto& info) { return info.param; });

// SIGTERM: a send whose client left has no one to wait for, even when its
// plugin never completes the call; the server does not sit out its grace
// period for it.
class ShutdownTest : public PluginsTest {
protected:
    std::string extraServerYaml() const override { return "  shutdown_grace_seconds: 60\n"; }
    std::string loggingYaml() const override { return "logging:\n  level: info\n"; }
};

TEST_P(ShutdownTest, SendsWhoseClientLeftAreCancelledAtOnce) {
    auto alice = token(user("alice"));
    auto id = conversationOf(alice, "bytes", "hang");
    {
        RawClient client(server_->port());
        const std::string body = R"({"content":"hi"})";
        client.send("POST /conversations/" + id + "/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + alice +
                    "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                    "\r\n\r\n" + body);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (scrapeMetrics()["omnichat_sends_in_flight"] < 1) {
            ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the send never started";
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }  // the client leaves
    server_->signal(SIGTERM);
    EXPECT_EQ(server_->waitExit(), 0);
    const auto output = server_->output();
    EXPECT_NE(output.find("whose client is gone"), std::string::npos) << output;
    EXPECT_EQ(output.find("grace period over"), std::string::npos) << output;
}

INSTANTIATE_TEST_SUITE_P(Storage, ShutdownTest, ::testing::Values("sqlite"),
                         [](const auto& info) { return info.param; });

const std::string kBase =
    "server:\n  listen: 127.0.0.1:0\nauth:\n  jwt_secret: s3cret\nstorage:\n  plugin: sqlite\n  options:\n    path: "
    "db.sqlite\n";

// An instance the operator configured that cannot start stops startup with
// its reason on one line, unless it is optional.
TEST(PluginInstances, ABrokenInstanceStopsStartupUnlessOptional) {
    const std::string providers = "plugins:\n  path: [" + std::string(OMNICHAT_TEST_PLUGIN_DIR) +
                                  "]\nproviders:\n  echo:\n    plugin: echo\n  future:\n    plugin: future-major\n";
    auto exit = ServerProcess::run({"check-config"}, {}, kBase + providers);
    EXPECT_EQ(exit.code, 1);
    EXPECT_NE(exit.output.find("ABI mismatch: plugin built for 2.0"), std::string::npos) << exit.output;
    EXPECT_EQ(std::count(exit.output.begin(), exit.output.end(), '\n'), 1) << exit.output;

    ServerProcess server(kBase + providers + "    optional: true\n");
    auto ready = httpCall(server.port(), "GET", "/readyz", "");
    EXPECT_EQ(ready.status, 200);
    EXPECT_EQ(ready.json()["missing_providers"], nlohmann::json::array({"future"})) << ready.body;
    EXPECT_NE(server.output().find("optional provider instance 'future' not started"), std::string::npos)
        << server.output();
}

// An instance whose API key is not given is not started, and that is no
// error: the example configuration names instances for every plugin.
TEST(PluginInstances, AnInstanceWithoutItsKeyIsNotStarted) {
    auto exit = ServerProcess::run({"check-config"}, {},
                                   kBase + "providers:\n  echo:\n    plugin: echo\n  openai:\n    plugin: openai\n");
    EXPECT_EQ(exit.code, 0) << exit.output;
}

// OMNICHAT_PLUGIN_PATH is searched before plugins.path, which is searched
// before the built-in directory.
TEST(PluginInstances, ThePluginPathComesFromTheEnvironmentToo) {
    const std::string bytes = kBase + "providers:\n  echo:\n    plugin: echo\n  bytes:\n    plugin: bytes\n";
    auto without = ServerProcess::run({"check-config"}, {}, bytes);
    EXPECT_EQ(without.code, 1);
    EXPECT_NE(without.output.find("plugin 'bytes' not found (searched: "), std::string::npos) << without.output;
    auto with = ServerProcess::run(
        {"check-config"}, {{"OMNICHAT_PLUGIN_PATH", std::string("/nonexistent:") + OMNICHAT_TEST_PLUGIN_DIR}}, bytes);
    EXPECT_EQ(with.code, 0) << with.output;
    EXPECT_NE(
        with.output.find("plugin directory /nonexistent\nplugin directory " + std::string(OMNICHAT_TEST_PLUGIN_DIR)),
        std::string::npos)
        << with.output;
}

TEST(CommandLine, HelpAndVersionAnswer) {
    for (const char* flag : {"--help", "-h", "help"}) {
        auto help = ServerProcess::run({flag});
        EXPECT_EQ(help.code, 0) << flag;
        EXPECT_NE(help.output.find("usage: omnichat serve"), std::string::npos) << help.output;
    }
    auto version = ServerProcess::run({"--version"});
    EXPECT_EQ(version.code, 0);
    EXPECT_NE(version.output.find("omnichat 1.0 (plugin ABI 1." + std::to_string(OMNICHAT_ABI_MINOR) + ")"),
              std::string::npos)
        << version.output;
    auto serveHelp = ServerProcess::run({"serve", "--help"});
    EXPECT_EQ(serveHelp.code, 0) << serveHelp.output;
}

}  // namespace
}  // namespace omnichat::testing
