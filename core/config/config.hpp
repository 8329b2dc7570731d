#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "domain/records.hpp"

namespace omnichat {

// A startup problem, worded for one log line: "file:line: what is wrong".
class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A plugin option as written, with where it was written, so the host can
// report an unknown or ill-typed option against its line.
struct OptionValue {
    std::string value;
    std::string origin;  // "config/omnichat.yaml:12" or "environment OPENAI_API_KEY"
};

struct PluginInstanceConfig {
    PluginInstanceConfig(std::string plugin = "", std::map<std::string, OptionValue> options = {},
                         std::string origin = "", std::vector<std::string> models = {})
        : plugin(std::move(plugin)),
          options(std::move(options)),
          origin(std::move(origin)),
          models(std::move(models)) {}
    std::string plugin;  // a name looked up on the plugin path, or a file's path
    std::map<std::string, OptionValue> options;
    std::string origin;
    // Providers only: models a conversation may choose; empty: any.
    std::vector<std::string> models;
    // Providers only: an instance that fails to start is reported (a warning,
    // and /readyz) instead of stopping startup.
    bool optional = false;
};

// Where the instances a host has without configuration come from.
inline constexpr const char* kBuiltInOrigin = "built-in default";

// The official OpenAI SDK's retry policy.
struct RetrySettings {
    unsigned maxAttempts = 0;  // per route, the first try included
    int64_t initialBackoffMs = 0;
    int64_t maxBackoffMs = 0;
    int64_t maxRetryAfterMs = 0;  // a longer Retry-After is not waited for
};

struct ListenAddress {
    std::string host;
    uint16_t port = 0;  // 0: any free port
};

// The host's configuration. Each scalar is a row of the settings table
// (config/settings.cpp), which says its key, default, range, environment
// variable and meaning; the loader fills every one from there. The
// structured parts (storage and provider instances, fallbacks) are read
// here, their defaults written beside them in config.cpp.
struct Config {
    std::string source;  // the YAML file read, for messages
    // Each setting as it was written, and where ("file:line",
    // "environment X", "default"), by key.
    struct Written {
        std::string text, origin;
    };
    std::map<std::string, Written> written;

    // server
    ListenAddress listen;
    std::optional<ListenAddress> metricsListen;  // none: /metrics on `listen`
    unsigned reactorThreads = 0;
    unsigned workerThreads = 0;
    size_t queueDepth = 0;
    size_t maxBodyBytes = 0;
    size_t maxHeaderBytes = 0;
    size_t maxConnections = 0;
    size_t maxConnectionsPerAddress = 0;
    size_t maxInFlight = 0;
    int64_t shutdownGraceSeconds = 0;
    int64_t headerTimeoutSeconds = 0;
    int64_t bodyTimeoutSeconds = 0;
    int64_t keepaliveTimeoutSeconds = 0;
    int64_t sendTimeoutSeconds = 0;

    // auth
    std::string jwtSecret;
    int64_t maxTokenLifetimeSeconds = 0;

    // per user; 0: no limit
    struct Limits {
        unsigned requestsPerMinute = 0;
        unsigned burst = 0;
        unsigned concurrentStreams = 0;
        size_t maxConversationsPerUser = 0;
        size_t maxMessagesPerConversation = 0;
        size_t maxConversationBytes = 0;
    } limits;

    // storage
    PluginInstanceConfig storage;
    unsigned storageStartupTimeoutSeconds = 0;
    size_t historyCacheBytes = 0;

    // providers and chat
    std::map<std::string, PluginInstanceConfig> providers;
    // Tried in this order for a default provider when none is chosen.
    std::vector<std::string> defaultProviderCandidates;
    std::string defaultProvider;  // empty until chosen (see plugins/provider_setup)
    std::string defaultModel;     // empty: the provider's own default
    std::string systemPrompt;
    std::vector<domain::Route> fallbacks;  // tried in order after the default fails
    // Names the OpenAI-compatible API accepts for models: each names an
    // allowed model as that API does (`instance/model` or a bare model of
    // the default instance).
    std::map<std::string, std::string> aliases;
    RetrySettings retry;
    int64_t connectTimeoutMs = 0;
    int64_t firstTokenTimeoutMs = 0;
    int64_t idleTimeoutMs = 0;
    int64_t totalTimeoutMs = 0;
    int64_t heartbeatMs = 0;
    size_t contextMaxMessages = 0;  // 0: no limit
    size_t contextMaxChars = 0;

    // Directories searched for plugins, in order: OMNICHAT_PLUGIN_PATH's,
    // then plugins.path's (the built-in directory comes after them all).
    std::vector<std::string> pluginPath;

    // logging
    std::string logLevel;
    bool logJson = false;
};

// "host:port" (also "[v6]:port", ":port"); throws ConfigError naming
// `origin`.
ListenAddress parseListen(const std::string& value, const std::string& origin);

// Every setting at its default, nothing read: what a test starts from.
Config defaultConfig();

using Environment = std::map<std::string, std::string>;

// The process environment, completed by a .env file in the working directory
// (real variables win over .env, as in the service omnichat replaces).
Environment processEnvironment(const std::string& dotenvPath = ".env");
// Parses .env text: KEY=VALUE lines, optional quotes, # comments, `export `.
Environment parseDotenv(const std::string& text);

// Reads the YAML file (none: built-in defaults), applies the environment and
// validates. Throws ConfigError.
Config loadConfig(const std::optional<std::string>& path, const Environment& env);
// The same for YAML already in memory; `source` names it in messages.
Config loadConfigText(const std::string& yaml, const std::string& source, const Environment& env);

}  // namespace omnichat
