#include "config/config.hpp"

#include "config/settings.hpp"
#include "plugins/provider_setup.hpp"
#include "ports/host_table.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace omnichat {
namespace {

class ConfigTest : public ::testing::Test {
protected:
    std::string write(const std::string& yaml) {
        path_ = (std::filesystem::temp_directory_path() / ("omnichat-config-" + std::to_string(::getpid()) + ".yaml"))
                    .string();
        std::ofstream(path_) << yaml;
        return path_;
    }
    void TearDown() override {
        if (!path_.empty()) std::filesystem::remove(path_);
    }
    std::string path_;
};

TEST_F(ConfigTest, DefaultsNeedOnlyASecret) {
    auto c = loadConfig(std::nullopt, {{"JWT_SECRET", "x"}});
    EXPECT_EQ(c.listen.host, "0.0.0.0");
    EXPECT_EQ(c.listen.port, 8002);
    EXPECT_EQ(c.storage.plugin, "sqlite");
    EXPECT_EQ(c.defaultProvider, "");  // chosen once the plugins are known (ProviderSetup)
    EXPECT_EQ(c.maxBodyBytes, 1024u * 1024u);
    EXPECT_EQ(c.written.at("server.max_body_bytes").origin, "default");
    EXPECT_EQ(c.written.at("auth.jwt_secret").origin, "environment JWT_SECRET");
}

TEST_F(ConfigTest, MissingSecretIsAnError) { EXPECT_THROW(loadConfig(std::nullopt, {}), ConfigError); }

TEST_F(ConfigTest, YamlValuesAreRead) {
    auto c = loadConfig(write("server:\n  listen: 127.0.0.1:9000\n  max_body_bytes: 2048\nauth:\n  jwt_secret: "
                              "abc\nchat:\n  system_prompt: Be kind.\n  default_model: m1\n"),
                        {});
    EXPECT_EQ(c.listen.host, "127.0.0.1");
    EXPECT_EQ(c.listen.port, 9000);
    EXPECT_EQ(c.maxBodyBytes, 2048u);
    EXPECT_EQ(c.jwtSecret, "abc");
    EXPECT_EQ(c.systemPrompt, "Be kind.");
    EXPECT_EQ(c.defaultModel, "m1");
}

TEST_F(ConfigTest, MetricsListenIsAnAddressOfItsOwn) {
    auto c = loadConfig(write("server:\n  metrics_listen: 127.0.0.1:9464\nauth:\n  jwt_secret: abc\n"), {});
    ASSERT_TRUE(c.metricsListen);
    EXPECT_EQ(c.metricsListen->host, "127.0.0.1");
    EXPECT_EQ(c.metricsListen->port, 9464);
    auto e = loadConfig(std::nullopt, {{"JWT_SECRET", "x"}, {"OMNICHAT_METRICS_LISTEN", ":9100"}});
    ASSERT_TRUE(e.metricsListen);
    EXPECT_EQ(e.metricsListen->port, 9100);
    EXPECT_THROW(loadConfig(write("server:\n  listen: 0.0.0.0:9000\n  metrics_listen: 127.0.0.1:9000\n"
                                  "auth:\n  jwt_secret: abc\n"),
                            {}),
                 ConfigError);
    EXPECT_THROW(loadConfig(write("server:\n  metrics_listen: nowhere\nauth:\n  jwt_secret: abc\n"), {}), ConfigError);
}

TEST_F(ConfigTest, ModelAliasesAreAMapping) {
    auto c = loadConfig(write("auth:\n  jwt_secret: abc\nchat:\n  aliases:\n    fast: openai/gpt-4o-mini\n"), {});
    EXPECT_EQ(c.aliases.at("fast"), "openai/gpt-4o-mini");
    EXPECT_THROW(loadConfig(write("auth:\n  jwt_secret: abc\nchat:\n  aliases: [fast]\n"), {}), ConfigError);
}

TEST_F(ConfigTest, OperationsKeysAreRead) {
    auto c = loadConfig(write("server:\n  shutdown_grace_seconds: 5\nauth:\n  jwt_secret: abc\nlimits:\n"
                              "  requests_per_minute: 120\n  burst: 7\n  concurrent_streams: 2\n"),
                        {});
    EXPECT_EQ(c.shutdownGraceSeconds, 5);
    EXPECT_FALSE(c.metricsListen);  // /metrics on the public address by default
    EXPECT_EQ(c.limits.requestsPerMinute, 120u);
    EXPECT_EQ(c.limits.burst, 7u);
    EXPECT_EQ(c.limits.concurrentStreams, 2u);
    EXPECT_EQ(loadConfig(std::nullopt, {{"JWT_SECRET", "x"}}).limits.requestsPerMinute, 0u);  // off by default
    EXPECT_THROW(loadConfig(write("auth:\n  jwt_secret: abc\nlimits:\n  per_hour: 3\n"), {}), ConfigError);
    EXPECT_THROW(loadConfig(write("auth:\n  jwt_secret: abc\nlimits:\n  burst: -1\n"), {}), ConfigError);
}

TEST_F(ConfigTest, EnvironmentOverridesYaml) {
    auto file = write("auth:\n  jwt_secret: from-yaml\nserver:\n  listen: 0.0.0.0:1\n");
    auto c = loadConfig(file, {{"JWT_SECRET", "from-env"},
                               {"OMNICHAT_LISTEN", "127.0.0.1:8123"},
                               {"LLM_PROVIDER", "openai"},
                               {"LLM_MODEL", "gpt-x"}});
    EXPECT_EQ(c.jwtSecret, "from-env");
    EXPECT_EQ(c.listen.port, 8123);
    EXPECT_EQ(c.defaultProvider, "openai");
    EXPECT_EQ(c.defaultModel, "gpt-x");
    EXPECT_EQ(c.written.at("server.listen").origin, "environment OMNICHAT_LISTEN");
    EXPECT_EQ(loadConfig(file, {}).written.at("server.listen").origin, file + ":4");
}

// A plugin declares the variables of its options; the host names none.
TEST_F(ConfigTest, PluginVariablesSetTheirInstanceAndChooseTheDefault) {
    PluginLibraries plugins(OMNICHAT_PLUGIN_DIR, hostTable());
    auto resolved = [&](const Environment& env) {
        auto c = loadConfig(std::nullopt, env);
        resolveProviders(c, plugins, env);
        return c;
    };
    auto c = resolved({{"JWT_SECRET", "x"}, {"OPENAI_API_KEY", "sk-1"}, {"OPENAI_BASE_URL", "http://localhost:1/v1"}});
    EXPECT_EQ(c.defaultProvider, "openai");
    EXPECT_EQ(c.providers.at("openai").options.at("api_key").value, "sk-1");
    EXPECT_EQ(c.providers.at("openai").options.at("api_key").origin, "environment OPENAI_API_KEY");
    EXPECT_EQ(c.providers.at("openai").options.at("base_url").value, "http://localhost:1/v1");
    EXPECT_EQ(resolved({{"JWT_SECRET", "x"}, {"OPENROUTER_API_KEY", "k"}, {"OPENAI_API_KEY", "k"}}).defaultProvider,
              "openrouter");
    EXPECT_EQ(resolved({{"JWT_SECRET", "x"}}).defaultProvider, "echo");
    // Declared in YAML without the built-in instances: a variable brings its
    // plugin's instance back, and sets only the instance named after it.
    auto yaml = loadConfig(write("auth: {jwt_secret: x}\nproviders:\n  mine: {plugin: openai, options: {api_key: "
                                 "sk-yaml}}\nchat: {default_provider: mine}\n"),
                           {});
    resolveProviders(yaml, plugins, {{"OPENAI_API_KEY", "sk-env"}});
    EXPECT_EQ(yaml.providers.at("mine").options.at("api_key").value, "sk-yaml");
    EXPECT_EQ(yaml.providers.at("openai").options.at("api_key").value, "sk-env");
}

TEST_F(ConfigTest, DatabaseUrlSelectsTheStoragePlugin) {
    auto pg = loadConfig(std::nullopt, {{"JWT_SECRET", "x"}, {"DATABASE_URL", "postgresql://u:p@h:5432/d"}});
    EXPECT_EQ(pg.storage.plugin, "postgres");
    EXPECT_EQ(pg.storage.options.at("url").value, "postgresql://u:p@h:5432/d");
    auto rel = loadConfig(std::nullopt, {{"JWT_SECRET", "x"}, {"DATABASE_URL", "sqlite:///data/x.db"}});
    EXPECT_EQ(rel.storage.plugin, "sqlite");
    EXPECT_EQ(rel.storage.options.at("path").value, "data/x.db");
    auto abs = loadConfig(std::nullopt, {{"JWT_SECRET", "x"}, {"DATABASE_URL", "sqlite:////var/lib/x.db"}});
    EXPECT_EQ(abs.storage.options.at("path").value, "/var/lib/x.db");
    EXPECT_THROW(loadConfig(std::nullopt, {{"JWT_SECRET", "x"}, {"DATABASE_URL", "mysql://x"}}), ConfigError);
}

TEST_F(ConfigTest, UnknownKeysNameFileAndLine) {
    auto file = write("auth:\n  jwt_secret: x\nserver:\n  listen: 0.0.0.0:1\n  lisen: 2\n");
    try {
        loadConfig(file, {});
        FAIL() << "no error";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find(file + ":5: unknown key 'lisen' in 'server'"), std::string::npos)
            << e.what();
    }
}

TEST_F(ConfigTest, HistoryCacheIsSizedInMegabytes) {
    EXPECT_EQ(loadConfig(std::nullopt, {{"JWT_SECRET", "x"}}).historyCacheBytes, 64u << 20);
    auto sized = "auth: {jwt_secret: x}\nstorage: {plugin: sqlite, history_cache_mb: ";
    EXPECT_EQ(loadConfigText(sized + std::string("8}\n"), "t", {}).historyCacheBytes, 8u << 20);
    EXPECT_EQ(loadConfigText(sized + std::string("0}\n"), "t", {}).historyCacheBytes, 0u);
    EXPECT_THROW(loadConfigText(sized + std::string("-1}\n"), "t", {}), ConfigError);
    EXPECT_THROW(loadConfigText(sized + std::string("lots}\n"), "t", {}), ConfigError);
}

TEST_F(ConfigTest, BadValuesAreErrors) {
    EXPECT_THROW(loadConfig(write("auth: {jwt_secret: x}\nserver: {reactor_threads: many}\n"), {}), ConfigError);
    EXPECT_THROW(loadConfig(write("auth: {jwt_secret: x}\nserver: {listen: nowhere}\n"), {}), ConfigError);
    EXPECT_THROW(loadConfig(write("auth: {jwt_secret: x}\nlogging: {level: loud}\n"), {}), ConfigError);
    EXPECT_THROW(loadConfig(write("auth: {jwt_secret: x}\nchat: {default_provider: nobody}\n"), {}), ConfigError);
    // YAML allows a mapping or a list as a key (found by the fuzzer).
    EXPECT_THROW(loadConfig(write("auth: {jwt_secret: x}\n? {retry: 1}\n: x\n"), {}), ConfigError);
    EXPECT_THROW(loadConfig(write("auth: {jwt_secret: x}\nproviders: {[a, b]: {plugin: openai}}\n"), {}), ConfigError);
    EXPECT_THROW(loadConfigText("auth: {jwt_secret: x}\nstorage: {plugin: sqlite, options: {? [p]: x}}\n", "t", {}),
                 ConfigError);
}

TEST_F(ConfigTest, InvalidYamlNamesTheLine) {
    auto file = write("auth:\n  jwt_secret: x\nchat: [\n");
    try {
        loadConfig(file, {});
        FAIL() << "no error";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find(file + ":"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("invalid YAML"), std::string::npos) << e.what();
    }
}

// The README's configuration table is the settings table, rendered.
TEST(Settings, TheReadmeShowsTheTable) {
    std::ifstream file(OMNICHAT_README);
    std::stringstream readme;
    readme << file.rdbuf();
    EXPECT_NE(readme.str().find(settingsMarkdown()), std::string::npos)
        << "README.md's configuration table differs from `omnichat settings`:\n"
        << settingsMarkdown();
}

// Every setting's default passes its own checks, and each key is written in
// config/omnichat.yaml, which documents them all.
TEST(Settings, DefaultsAreValidAndEveryKeyIsInTheExampleFile) {
    std::ifstream file(OMNICHAT_EXAMPLE_CONFIG);
    std::stringstream example;
    example << file.rdbuf();
    for (const auto& s : settings()) {
        if (!s.defaultValue.empty()) {
            EXPECT_EQ(checkSetting(s, s.defaultValue), "") << s.key;
        }
        const auto leaf = s.key.substr(s.key.rfind('.') + 1);
        EXPECT_NE(example.str().find(leaf + ":"), std::string::npos) << s.key << " is not in config/omnichat.yaml";
    }
}

TEST(Dotenv, ParsesTheUsualForms) {
    auto env = parseDotenv("# comment\nA=1\nexport B = two \nC=\"quoted # not comment\"\nD='single'\nE=x # note\n\n");
    EXPECT_EQ(env.at("A"), "1");
    EXPECT_EQ(env.at("B"), "two");
    EXPECT_EQ(env.at("C"), "quoted # not comment");
    EXPECT_EQ(env.at("D"), "single");
    EXPECT_EQ(env.at("E"), "x");
}

TEST(Dotenv, RealEnvironmentWinsOverDotenv) {
    auto path = (std::filesystem::temp_directory_path() / "omnichat-test.env").string();
    std::ofstream(path) << "OMNICHAT_DOTENV_ONLY=from-file\nHOME=from-file\n";
    auto env = processEnvironment(path);
    std::filesystem::remove(path);
    EXPECT_EQ(env.at("OMNICHAT_DOTENV_ONLY"), "from-file");
    ASSERT_NE(std::getenv("HOME"), nullptr);
    EXPECT_EQ(env.at("HOME"), std::getenv("HOME"));
}

}  // namespace
}  // namespace omnichat
