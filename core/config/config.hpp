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
    std::string plugin;
    std::map<std::string, OptionValue> options;
    std::string origin;
    // Providers only: models a conversation may choose; empty: any.
    std::vector<std::string> models;
};

// The official OpenAI SDK's policy, with its defaults.
struct RetrySettings {
    unsigned maxAttempts = 3;  // per route, the first try included
    int64_t initialBackoffMs = 500;
    int64_t maxBackoffMs = 8000;
    int64_t maxRetryAfterMs = 60000;  // a longer Retry-After is not waited for
};

struct ListenAddress {
    std::string host;
    uint16_t port = 0;  // 0: any free port
};

struct Config {
    std::string source;  // the YAML file read, for messages

    // server
    ListenAddress listen{"0.0.0.0", 8002};
    // GET /metrics on an address of its own (kept off the public one);
    // none: on the public address.
    std::optional<ListenAddress> metricsListen;
    unsigned reactorThreads = 2;
    unsigned workerThreads = 8;
    size_t queueDepth = 1024;
    size_t maxBodyBytes = 1024 * 1024;
    size_t maxHeaderBytes = 16 * 1024;  // request line and headers; beyond: 431
    // Client connections at once, in all and from one address (0: no cap);
    // beyond: 503 and the connection closed.
    size_t maxConnections = 10000;
    size_t maxConnectionsPerAddress = 1024;
    size_t maxInFlight = 10000;         // provider calls at once; beyond: 503
    int64_t shutdownGraceSeconds = 30;  // SIGTERM: how long open requests may run on
    // Slow or silent clients: the request line and headers, then the body,
    // must arrive within these; an idle keep-alive connection is closed after
    // the last.
    int64_t headerTimeoutSeconds = 30;
    int64_t bodyTimeoutSeconds = 60;
    int64_t keepaliveTimeoutSeconds = 300;
    // A client that takes none of its answer for this long is dropped.
    int64_t sendTimeoutSeconds = 60;

    // auth
    std::string jwtSecret;
    int64_t maxTokenLifetimeSeconds = 0;  // exp at most this far ahead (and after iat); 0: no bound

    // per user; 0: no limit
    struct Limits {
        unsigned requestsPerMinute = 0;
        unsigned burst = 0;  // requests at once before the rate applies; 0: a tenth of a minute's
        unsigned concurrentStreams = 0;
        // What a user may keep: beyond them 409 (too_many_conversations,
        // conversation_full).
        size_t maxConversationsPerUser = 10000;
        size_t maxMessagesPerConversation = 10000;
        size_t maxConversationBytes = 16 << 20;  // the text of its messages
    } limits;

    // storage
    PluginInstanceConfig storage;
    unsigned storageStartupTimeoutSeconds = 10;
    // Histories held in memory so a send reads only what was appended
    // since; 0: none.
    size_t historyCacheBytes = 64 << 20;

    // providers and chat
    std::map<std::string, PluginInstanceConfig> providers;
    std::string defaultProvider;  // resolved: never empty after loading
    std::string defaultModel;     // empty: the provider's own default
    std::string systemPrompt;
    std::vector<domain::Route> fallbacks;  // tried in order after the default fails
    RetrySettings retry;
    int64_t connectTimeoutMs = 10000;
    int64_t firstTokenTimeoutMs = 60000;
    int64_t idleTimeoutMs = 60000;
    int64_t totalTimeoutMs = 300000;  // the whole exchange, retries included
    int64_t heartbeatMs = 15000;      // SSE comment after this much silence
    // Context budget: history sent upstream per request, oldest dropped
    // first (the system prompt is always kept); 0: no limit. A long history
    // does not go upstream whole on every turn unless the operator says so.
    size_t contextMaxMessages = 200;
    size_t contextMaxChars = 400000;

    // plugins and logging
    std::string pluginDirectory;  // empty: <executable dir>/../plugins
    std::string logLevel = "info";
    bool logJson = false;  // one JSON object per line instead of text
};

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
