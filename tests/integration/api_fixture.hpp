#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <string>

#include "auth/jwt.hpp"
#include "common/ids.hpp"
#include "fake_upstream.hpp"
#include "http.hpp"
#include "server_process.hpp"
#include "throwaway_postgres.hpp"

namespace omnichat::testing {

constexpr const char* kSecret = "integration-secret-0123456789abcdef";
constexpr const char* kApiKey = "sk-test-upstream-key-42";

// The storage block of a test configuration; "postgres" needs the database
// that scripts/test.sh starts.
// Each sample line of a Prometheus text exposition, by series
// ("name{labels}"). Fails the test on a line that is neither a sample nor a
// comment.
inline std::map<std::string, double> parseMetrics(const std::string& text) {
    static const std::regex sample(
        R"(^([a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})?) ([-+0-9.eE]+|NaN|\+Inf)$)");
    std::map<std::string, double> out;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) continue;
        std::smatch m;
        EXPECT_TRUE(std::regex_match(line, m, sample)) << "not a sample: " << line;
        if (!m.empty()) out[m[1]] = std::stod(m[5]);
    }
    return out;
}

inline std::string storageYaml(const std::string& backend, const std::string& folder) {
    if (backend == "postgres")
        return "storage:\n  plugin: postgres\n  options:\n    url: \"" + sharedTestDatabaseUrl() + "\"\n";
    return "storage:\n  plugin: sqlite\n  options:\n    path: " + folder + "/omnichat.db\n";
}

// A server on a real storage backend, pointed at a fake upstream.
class ApiTest : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        scratch_ = makeScratchFolder();
        std::string yaml =
            "server:\n  listen: 127.0.0.1:0\n  worker_threads: 4\n" + extraServerYaml() +
            "auth:\n  jwt_secret: " + std::string(kSecret) + "\n" + storageBlock() + "providers:\n" +
            extraProvidersYaml() + "  fake:\n    plugin: openai\n    options:\n      api_key: " + kApiKey +
            "\n      base_url: " + upstream_.baseUrl() + "\n      timeout_ms: " + std::to_string(upstreamTimeoutMs()) +
            "\nchat:\n  default_provider: fake\n  default_model: "
            "test-model\n  system_prompt: You are terse.\n" +
            retryYaml() + extraChatYaml() + extraTopLevelYaml() + loggingYaml();
        yaml_ = yaml;
        server_ = std::make_unique<ServerProcess>(yaml_, ServerProcess::Env{}, serverDescriptorLimit());
    }
    // Starts the server again on the same configuration and storage.
    void restartServer() {
        server_.reset();
        server_ = std::make_unique<ServerProcess>(yaml_, ServerProcess::Env{}, serverDescriptorLimit());
    }
    // The server's RLIMIT_NOFILE; 0: what the tests run with.
    virtual size_t serverDescriptorLimit() const { return 0; }
    // The openai plugin's whole-call limit; short, so failure tests are quick.
    virtual int upstreamTimeoutMs() const { return 1500; }
    // The `storage:` section.
    virtual std::string storageBlock() const { return storageYaml(GetParam(), scratch_); }
    virtual std::string loggingYaml() const { return "logging:\n  level: " + logLevel() + "\n"; }
    // More top-level sections for a derived fixture.
    virtual std::string extraTopLevelYaml() const { return ""; }
    // More `server:` keys for a derived fixture, indented by two spaces.
    virtual std::string extraServerYaml() const { return ""; }
    // More `chat:` keys for a derived fixture, indented by two spaces.
    virtual std::string extraChatYaml() const { return ""; }
    // Retries would slow the failure tests down; the resilience tests
    // turn them on.
    virtual std::string retryYaml() const { return "  retry:\n    max_attempts: 1\n"; }
    // More provider instances, indented by two spaces.
    virtual std::string extraProvidersYaml() const { return ""; }

    void TearDown() override {
        if (server_) {
            // A clean exit on SIGTERM; under a sanitizer or valgrind a
            // leak or memory error found at exit fails it.
            int code = server_->stop();
            EXPECT_TRUE(code == 0 || code == ServerProcess::kNotRunning) << "server exit code " << code;
            if (HasFailure()) std::cerr << "--- server output ---\n" << server_->output();
        }
        server_.reset();
        std::filesystem::remove_all(scratch_);
    }

    // OMNICHAT_TEST_LOG_LEVEL=debug shows the server's decisions.
    static std::string logLevel() {
        const char* level = std::getenv("OMNICHAT_TEST_LOG_LEVEL");
        return level && *level ? level : "warn";
    }

    static std::string token(const std::string& user) {
        return JwtAuthenticator(kSecret).mint(user, 3600, nowUnixMs() / 1000);
    }
    // A fresh user per test keeps tests independent on a shared database.
    std::string user(const std::string& name) {
        return name + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name() + "-" + newUuid();
    }
    HttpResponse call(const std::string& method, const std::string& path, const std::string& tok,
                      const std::string& body = "", const std::string& type = "application/json") {
        return httpCall(server_->port(), method, path, tok, body, type);
    }
    std::string createConversation(const std::string& tok, const std::string& project = "proj-1") {
        auto r = call("POST", "/conversations?project_id=" + project, tok);
        EXPECT_EQ(r.status, 201) << r.body;
        return r.json().at("id").get<std::string>();
    }
    std::vector<std::string> createConversations(const std::string& tok, int count) {
        std::vector<std::string> ids;
        for (int i = 0; i < count; ++i) ids.push_back(createConversation(tok));
        return ids;
    }
    HttpResponse send(const std::string& tok, const std::string& conversation, const std::string& content) {
        return call("POST", "/conversations/" + conversation + "/messages", tok,
                    nlohmann::json{{"content", content}}.dump());
    }
    nlohmann::json history(const std::string& tok, const std::string& conversation, const std::string& query = "") {
        auto r = call("GET", "/conversations/" + conversation + "/messages" + query, tok);
        EXPECT_EQ(r.status, 200) << r.body;
        return r.json();
    }

    // GET /metrics, parsed.
    std::map<std::string, double> scrapeMetrics() {
        auto r = call("GET", "/metrics", "");
        EXPECT_EQ(r.status, 200);
        return parseMetrics(r.body);
    }

    FakeUpstream upstream_;
    std::string scratch_;
    std::string yaml_;
    std::unique_ptr<ServerProcess> server_;
};

}  // namespace omnichat::testing
