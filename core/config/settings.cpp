#include "config/settings.hpp"

#include <algorithm>
#include <cstdint>

#include "config/config.hpp"

namespace omnichat {
namespace {

using Kind = Setting::Kind;

// A field of Config, reached from the whole.
#define FIELD(member) \
    [](Config & c) -> auto& { return c.member; }

template <class F>
Setting integer(const char* key, int64_t value, int64_t min, int64_t max, F field, const char* description,
                const char* env = "") {
    return {key,
            Kind::Integer,
            std::to_string(value),
            false,
            min,
            max,
            {},
            env,
            description,
            [field](Config& c, const std::string& text) {
                auto& target = field(c);
                target = static_cast<std::remove_reference_t<decltype(target)>>(std::stoll(text));
            }};
}

template <class F>
Setting text(const char* key, const char* value, F field, const char* description, const char* env = "") {
    return {key, Kind::Text, value, false,       0,
            0,   {},         env,   description, [field](Config& c, const std::string& v) { field(c) = v; }};
}

constexpr int64_t kMaxTimeoutMs = 3600000;

std::vector<Setting> table() {
    std::vector<Setting> t{
        {"server.listen",
         Kind::Address,
         "0.0.0.0:8002",
         false,
         0,
         0,
         {},
         "OMNICHAT_LISTEN",
         "address the API listens on",
         [](Config& c, const std::string& v) { c.listen = parseListen(v, ""); }},
        {"server.metrics_listen",
         Kind::Address,
         "",
         false,
         0,
         0,
         {},
         "OMNICHAT_METRICS_LISTEN",
         "address serving `/metrics` alone (none: `/metrics` is on `server.listen`)",
         [](Config& c, const std::string& v) { c.metricsListen = parseListen(v, ""); }},
        integer("server.reactor_threads", 2, 1, 256, FIELD(reactorThreads), "threads reading client connections"),
        integer("server.worker_threads", 8, 1, 1024, FIELD(workerThreads), "threads running storage work"),
        integer("server.queue_depth", 1024, 1, 1000000, FIELD(queueDepth), "queued storage work; beyond it 503"),
        integer("server.max_in_flight", 10000, 1, 1000000, FIELD(maxInFlight),
                "provider calls at once; beyond it 503. Also how many idle upstream connections are kept"),
        integer("server.max_body_bytes", 1 << 20, 1024, 64 << 20, FIELD(maxBodyBytes),
                "larger request bodies get 413, before they are read"),
        integer("server.max_header_bytes", 16 << 10, 1024, 1 << 20, FIELD(maxHeaderBytes),
                "a larger request line and headers get 431"),
        integer("server.max_connections", 10000, 1, 1000000, FIELD(maxConnections),
                "client connections at once (also at most half of the descriptors left after the process's "
                "own); beyond them 503"),
        integer("server.max_connections_per_address", 1024, 0, 1000000, FIELD(maxConnectionsPerAddress),
                "client connections from one address (0: no cap; raise it behind a proxy); beyond them 503"),
        integer("server.shutdown_grace_seconds", 30, 0, 3600, FIELD(shutdownGraceSeconds),
                "after SIGTERM, how long open requests may run on"),
        integer("server.header_timeout_seconds", 30, 1, 3600, FIELD(headerTimeoutSeconds),
                "a client must send its request line and headers within this (408)"),
        integer("server.body_timeout_seconds", 60, 1, 3600, FIELD(bodyTimeoutSeconds),
                "then its body within this (408)"),
        integer("server.keepalive_timeout_seconds", 300, 1, 3600, FIELD(keepaliveTimeoutSeconds),
                "an idle keep-alive connection is closed this long after its last answer"),
        integer("server.send_timeout_seconds", 60, 1, 3600, FIELD(sendTimeoutSeconds),
                "a client that takes none of its answer this long is dropped"),
        {"auth.jwt_secret",
         Kind::Secret,
         "",
         true,
         0,
         0,
         {},
         "JWT_SECRET",
         "the HS256 secret tokens are signed with",
         [](Config& c, const std::string& v) { c.jwtSecret = v; }},
        integer("auth.max_token_lifetime_seconds", 0, 0, 100LL * 365 * 86400, FIELD(maxTokenLifetimeSeconds),
                "a token's `exp` at most this far ahead, and after its `iat` (0: no bound)"),
        integer("storage.startup_timeout_seconds", 10, 0, 3600, FIELD(storageStartupTimeoutSeconds),
                "retry an unreachable database this long at startup"),
        {"storage.history_cache_mb",
         Kind::Integer,
         "64",
         false,
         0,
         1 << 20,
         {},
         "",
         "histories held in memory, so a send or a whole-history read asks storage only for what is new (0: "
         "none). One a send or read still uses is not dropped for the bound, so while all are in use it holds "
         "more",
         [](Config& c, const std::string& v) { c.historyCacheBytes = static_cast<size_t>(std::stoll(v)) << 20; }},
        integer("limits.requests_per_minute", 0, 0, 1000000, FIELD(limits.requestsPerMinute),
                "per user; beyond it 429 (0: off)"),
        integer("limits.burst", 0, 0, 1000000, FIELD(limits.burst),
                "requests a user may make at once before the rate applies (0: a tenth of the rate)"),
        integer("limits.concurrent_streams", 0, 0, 1000000, FIELD(limits.concurrentStreams),
                "streams a user may hold open; beyond it 429 (0: off)"),
        integer("limits.max_conversations_per_user", 10000, 0, 1LL << 40, FIELD(limits.maxConversationsPerUser),
                "beyond it 409 `too_many_conversations` (0: no cap)"),
        integer("limits.max_messages_per_conversation", 10000, 0, 1LL << 40, FIELD(limits.maxMessagesPerConversation),
                "beyond it 409 `conversation_full` (0: no cap)"),
        integer("limits.max_conversation_bytes", 16 << 20, 0, 1LL << 40, FIELD(limits.maxConversationBytes),
                "a conversation's message text; beyond it 409 `conversation_full` (0: no cap)"),
        text("chat.default_provider", "", FIELD(defaultProvider),
             "instance used for replies (none: the first of `openrouter`, `openai`, `anthropic`, `echo` whose required "
             "options "
             "are all set)",
             "LLM_PROVIDER"),
        text("chat.default_model", "", FIELD(defaultModel), "model of the default instance (none: its `model` option)",
             "LLM_MODEL"),
        text("chat.system_prompt", "", FIELD(systemPrompt), "sent first on every turn"),
        integer("chat.retry.max_attempts", 3, 1, 10, FIELD(retry.maxAttempts), "per provider, the first try included"),
        integer("chat.retry.initial_backoff_ms", 500, 0, 600000, FIELD(retry.initialBackoffMs),
                "doubled per retry, up to 25% jitter"),
        integer("chat.retry.max_backoff_ms", 8000, 0, 600000, FIELD(retry.maxBackoffMs), "the longest backoff"),
        integer("chat.retry.max_retry_after_ms", 60000, 0, kMaxTimeoutMs, FIELD(retry.maxRetryAfterMs),
                "longest `Retry-After` honoured"),
        integer("chat.timeouts.connect_ms", 10000, 1, kMaxTimeoutMs, FIELD(connectTimeoutMs),
                "opening the upstream connection (504 `provider_timeout_connect`)"),
        integer("chat.timeouts.first_token_ms", 60000, 1, kMaxTimeoutMs, FIELD(firstTokenTimeoutMs),
                "until the first text (504 `provider_timeout_first_token`)"),
        integer("chat.timeouts.idle_ms", 60000, 1, kMaxTimeoutMs, FIELD(idleTimeoutMs),
                "between two chunks (504 `provider_timeout_idle`)"),
        integer("chat.timeouts.total_ms", 300000, 1, kMaxTimeoutMs, FIELD(totalTimeoutMs),
                "the whole exchange, retries and fallbacks included (504 `provider_timeout`)"),
        integer("chat.heartbeat_ms", 15000, 10, 600000, FIELD(heartbeatMs), "SSE comment after this much silence"),
        integer("chat.context.max_messages", 200, 0, 1000000, FIELD(contextMaxMessages),
                "history messages sent upstream each turn; oldest dropped first, the system prompt kept (0: all)"),
        integer("chat.context.max_chars", 400000, 0, 1000000000, FIELD(contextMaxChars),
                "characters of history and message sent upstream each turn (0: all)"),
        {"logging.level",
         Kind::Choice,
         "info",
         false,
         0,
         0,
         {"trace", "debug", "info", "warn", "error", "off"},
         "",
         "the least severe level logged",
         [](Config& c, const std::string& v) { c.logLevel = v; }},
        {"logging.format",
         Kind::Choice,
         "text",
         false,
         0,
         0,
         {"text", "json"},
         "",
         "`json`: one JSON object per line (`time`, `level`, `thread`, `message`)",
         [](Config& c, const std::string& v) { c.logJson = v == "json"; }},
    };
    return t;
}

#undef FIELD

}  // namespace

const std::vector<Setting>& settings() {
    static const std::vector<Setting> all = table();
    return all;
}

std::string checkSetting(const Setting& setting, const std::string& text) {
    switch (setting.kind) {
        case Kind::Integer: {
            try {
                size_t used = 0;
                long long v = std::stoll(text, &used);
                if (used == text.size() && v >= setting.min && v <= setting.max) return "";
            } catch (const std::logic_error&) {
            }
            return "an integer between " + std::to_string(setting.min) + " and " + std::to_string(setting.max) +
                   ", got '" + text + "'";
        }
        case Kind::Address:
            try {
                parseListen(text, "");
                return "";
            } catch (const ConfigError&) {
                return "host:port with a port of 0-65535, got '" + text + "'";
            }
        case Kind::Choice:
            if (std::find(setting.choices.begin(), setting.choices.end(), text) != setting.choices.end()) return "";
            {
                std::string list;
                for (const auto& c : setting.choices) list += (list.empty() ? "" : ", ") + c;
                return "one of " + list + ", got '" + text + "'";
            }
        case Kind::Text:
        case Kind::Secret: return "";
    }
    return "";
}

std::string settingsMarkdown() {
    std::string out = "| key | default | environment | |\n| --- | --- | --- | --- |\n";
    for (const auto& s : settings()) {
        std::string value = s.required ? "required" : s.defaultValue.empty() ? "none" : "`" + s.defaultValue + "`";
        if (s.kind == Setting::Kind::Choice) {
            std::string list;
            for (const auto& c : s.choices) list += (list.empty() ? "" : ", ") + c;
            value += " (" + list + ")";
        }
        out += "| `" + s.key + "` | " + value + " | " + (s.env.empty() ? "" : "`" + s.env + "`") + " | " +
               s.description + " |\n";
    }
    return out;
}

}  // namespace omnichat
