// Startup validation and the CLI, through the real binary.
#include <gtest/gtest.h>

#include <filesystem>

#include "auth/jwt.hpp"
#include "common/ids.hpp"
#include "fake_upstream.hpp"
#include "http.hpp"
#include "server_process.hpp"

namespace omnichat::testing {
namespace {

const std::string kBase =
    "server:\n  listen: 127.0.0.1:0\nauth:\n  jwt_secret: s3cret\nstorage:\n  plugin: sqlite\n  options:\n    path: "
    "db.sqlite\n";

// Startup failures print exactly one line that names the problem.
void expectStartupError(const ServerProcess::Exit& exit, const std::string& needle) {
    EXPECT_NE(exit.code, 0);
    EXPECT_NE(exit.output.find(needle), std::string::npos) << exit.output;
    EXPECT_EQ(std::count(exit.output.begin(), exit.output.end(), '\n'), 1) << exit.output;
}

// Creates a conversation and sends it one message; the send's response.
HttpResponse firstExchange(uint16_t port, const std::string& token, const std::string& content) {
    auto c = httpCall(port, "POST", "/conversations?project_id=p", token);
    EXPECT_EQ(c.status, 201) << c.body;
    return httpCall(port, "POST", "/conversations/" + c.json()["id"].get<std::string>() + "/messages", token,
                    nlohmann::json{{"content", content}}.dump());
}

TEST(Startup, MissingSecret) {
    expectStartupError(ServerProcess::run({"check-config"}, {}, "server:\n  listen: 127.0.0.1:0\n"),
                       "'auth.jwt_secret' is required (or the JWT_SECRET environment variable)");
}

TEST(Startup, BadYamlNamesTheLine) {
    expectStartupError(ServerProcess::run({"check-config"}, {}, kBase + "chat:\n  system_prompt: [unclosed\n"),
                       "omnichat.yaml:11: invalid YAML");
}

TEST(Startup, UnknownKeyNamesFileAndLine) {
    expectStartupError(ServerProcess::run({"check-config"}, {}, kBase + "chat:\n  temperture: 2\n"),
                       "omnichat.yaml:10: unknown key 'temperture'");
}

TEST(Startup, UnknownPluginOption) {
    expectStartupError(
        ServerProcess::run({"check-config"}, {},
                           kBase + "providers:\n  e:\n    plugin: echo\n    options:\n      colour: red\n"
                                   "chat:\n  default_provider: e\n"),
        "unknown option 'colour'");
}

TEST(Startup, MissingPlugin) {
    expectStartupError(ServerProcess::run({"check-config"}, {},
                                          kBase + "providers:\n  x:\n    plugin: nonexistent\nchat:\n"
                                                  "  default_provider: x\n"),
                       "libomnichat-nonexistent.so: plugin 'nonexistent' not found");
}

TEST(Startup, MissingApiKeyForSelectedProvider) {
    expectStartupError(ServerProcess::run({"check-config"}, {{"LLM_PROVIDER", "openai"}}, kBase),
                       "needs option 'api_key'");
}

TEST(Startup, UnreachableDatabaseAfterBoundedRetry) {
    auto exit =
        ServerProcess::run({"check-config"}, {{"DATABASE_URL", "postgresql://nobody:pw@127.0.0.1:1/none"}},
                           "auth:\n  jwt_secret: s\nstorage:\n  plugin: sqlite\n  startup_timeout_seconds: 1\n");
    expectStartupError(exit, "storage (postgres)");
    EXPECT_EQ(exit.output.find("pw@"), std::string::npos) << "the database password reached the log";
}

TEST(Startup, EnvironmentOfTheReplacedServiceSelectsStorageAndProvider) {
    auto exit = ServerProcess::run(
        {"check-config"},
        {{"JWT_SECRET", "x"}, {"DATABASE_URL", "sqlite:///sub/dir/test.db"}, {"OPENROUTER_API_KEY", "sk-or-test"}}, "");
    EXPECT_EQ(exit.code, 0) << exit.output;
}

TEST(Cli, TokenIsAcceptedByTheServer) {
    auto exit = ServerProcess::run({"token", "--sub", "carol", "--ttl", "60"}, {{"JWT_SECRET", "tok-secret"}});
    ASSERT_EQ(exit.code, 0) << exit.output;
    std::string token = exit.output.substr(0, exit.output.find('\n'));
    EXPECT_EQ(JwtAuthenticator("tok-secret").verify(token, nowUnixMs() / 1000), "carol");
}

// check-config says each setting's value and where it came from, and never
// prints a secret.
TEST(Cli, CheckConfigShowsEachSettingAndItsOrigin) {
    auto exit = ServerProcess::run({"check-config"}, {{"OMNICHAT_LISTEN", "127.0.0.1:0"}},
                                   kBase + "chat:\n  heartbeat_ms: 20\n");
    ASSERT_EQ(exit.code, 0) << exit.output;
    EXPECT_NE(exit.output.find("chat.heartbeat_ms = 20  ("), std::string::npos) << exit.output;
    EXPECT_NE(exit.output.find("omnichat.yaml:10)"), std::string::npos) << exit.output;  // its line
    EXPECT_NE(exit.output.find("server.listen = 127.0.0.1:0  (environment OMNICHAT_LISTEN)"), std::string::npos);
    EXPECT_NE(exit.output.find("server.max_body_bytes = 1048576  (default)"), std::string::npos);
    EXPECT_NE(exit.output.find("auth.jwt_secret = (set)"), std::string::npos);
    EXPECT_EQ(exit.output.find("s3cret"), std::string::npos) << "a secret was printed";
    EXPECT_NE(exit.output.find("chat.default_provider = echo"), std::string::npos) << exit.output;
}

// The echo example is built out of tree against the installed SDK; the
// server loads it like any other plugin.
TEST(EchoPlugin, AnswersThroughTheServer) {
    ServerProcess server(kBase +
                         "providers:\n  echo:\n    plugin: echo\n    options:\n      prefix: \"said: \"\n"
                         "chat:\n  default_provider: echo\n");
    auto token = JwtAuthenticator("s3cret").mint("dave", 600, nowUnixMs() / 1000);
    auto r = firstExchange(server.port(), token, "ping");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["response"], "said: ping");
    EXPECT_EQ(server.stop(), 0);
}

// Deployments of the replaced service configure everything through the
// environment: no YAML at all.
TEST(Environment, ReplacedServiceVariablesDriveAFullExchange) {
    FakeUpstream upstream;
    ServerProcess server("", {{"JWT_SECRET", "env-secret"},
                              {"DATABASE_URL", "sqlite:///state/chat.db"},
                              {"LLM_PROVIDER", "openai"},
                              {"LLM_MODEL", "env-model"},
                              {"OPENAI_API_KEY", "sk-env"},
                              {"OPENAI_BASE_URL", upstream.baseUrl()},
                              {"OMNICHAT_LISTEN", "127.0.0.1:0"}});
    auto token = JwtAuthenticator("env-secret").mint("erin", 600, nowUnixMs() / 1000);
    auto r = firstExchange(server.port(), token, "hi");
    ASSERT_EQ(r.status, 200) << r.body;
    auto requests = upstream.requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].headers.at("authorization"), "Bearer sk-env");
    EXPECT_EQ(nlohmann::json::parse(requests[0].body)["model"], "env-model");
    EXPECT_TRUE(std::filesystem::exists(server.folder() + "/state/chat.db"));
}

TEST(OpenRouter, SendsAttributionHeaders) {
    FakeUpstream upstream;
    ServerProcess server(kBase +
                         "providers:\n  or:\n    plugin: openrouter\n    options:\n      api_key: sk-or\n"
                         "      base_url: " +
                         upstream.baseUrl() +
                         "\n      http_referer: https://example.app\n      x_title: Example\n"
                         "chat:\n  default_provider: or\n");
    auto token = JwtAuthenticator("s3cret").mint("fay", 600, nowUnixMs() / 1000);
    auto r = firstExchange(server.port(), token, "hi");
    ASSERT_EQ(r.status, 200) << r.body;
    auto requests = upstream.requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].headers.at("http-referer"), "https://example.app");
    EXPECT_EQ(requests[0].headers.at("x-title"), "Example");
    EXPECT_EQ(nlohmann::json::parse(requests[0].body)["model"], "openai/gpt-4o-mini");
}

}  // namespace
}  // namespace omnichat::testing
