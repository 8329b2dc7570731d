#include "config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <functional>
#include <iterator>
#include <set>

extern char** environ;

namespace omnichat {
namespace {

std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t\r");
    if (b == std::string::npos) return "";
    size_t e = s.find_last_not_of(" \t\r");
    return s.substr(b, e - b + 1);
}

std::string where(const std::string& file, const YAML::Node& node) {
    return file + ":" + std::to_string(node.Mark().line + 1);
}

std::string scalar(const std::string& file, const YAML::Node& node, const std::string& key) {
    if (!node.IsScalar()) throw ConfigError(where(file, node) + ": '" + key + "' must be a single value");
    return node.as<std::string>();
}

// A mapping's key: YAML allows lists and mappings as keys, names are text.
std::string keyName(const std::string& file, const YAML::Node& key) {
    if (!key.IsScalar()) throw ConfigError(where(file, key) + ": a key must be a plain name");
    return key.as<std::string>();
}

// A section is a map whose keys must all be known.
void requireKnownKeys(const std::string& file, const YAML::Node& map, const std::string& section,
                      const std::set<std::string>& known) {
    if (!map.IsMap()) throw ConfigError(where(file, map) + ": '" + section + "' must be a mapping");
    for (const auto& kv : map) {
        auto key = keyName(file, kv.first);
        if (!known.count(key)) {
            std::string list;
            for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
            throw ConfigError(where(file, kv.first) + ": unknown key '" + key + "' in '" + section +
                              "' (known: " + list + ")");
        }
    }
}

template <class T>
T number(const std::string& file, const YAML::Node& node, const std::string& key, T min, T max) {
    auto text = scalar(file, node, key);
    try {
        size_t used = 0;
        long long v = std::stoll(text, &used);
        if (used != text.size() || v < static_cast<long long>(min) || v > static_cast<long long>(max))
            throw std::out_of_range(key);
        return static_cast<T>(v);
    } catch (const std::logic_error&) {
        throw ConfigError(where(file, node) + ": '" + key + "' must be an integer between " + std::to_string(min) +
                          " and " + std::to_string(max) + ", got '" + text + "'");
    }
}

ListenAddress parseListen(const std::string& value, const std::string& origin) {
    auto colon = value.rfind(':');
    if (colon == std::string::npos) throw ConfigError(origin + ": an address must be host:port, got '" + value + "'");
    std::string host = value.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    try {
        size_t used = 0;
        int port = std::stoi(value.substr(colon + 1), &used);
        if (used != value.size() - colon - 1 || port < 0 || port > 65535) throw std::out_of_range("port");
        return {host.empty() ? "0.0.0.0" : host, static_cast<uint16_t>(port)};
    } catch (const std::logic_error&) {
        throw ConfigError(origin + ": a port must be 0-65535, got '" + value + "'");
    }
}

PluginInstanceConfig pluginInstance(const std::string& file, const YAML::Node& node, const std::string& section,
                                    std::set<std::string> extraKeys = {}) {
    extraKeys.insert({"plugin", "options"});
    requireKnownKeys(file, node, section, extraKeys);
    PluginInstanceConfig out;
    out.origin = where(file, node);
    if (!node["plugin"]) throw ConfigError(where(file, node) + ": '" + section + "' needs a 'plugin'");
    out.plugin = scalar(file, node["plugin"], "plugin");
    if (auto opts = node["options"]) {
        if (!opts.IsMap() && !opts.IsNull())
            throw ConfigError(where(file, opts) + ": '" + section + ".options' must be a mapping");
        if (opts.IsMap())
            for (const auto& kv : opts) {
                auto key = keyName(file, kv.first);
                out.options[key] = {scalar(file, kv.second, key), where(file, kv.first)};
            }
    }
    return out;
}

void defaultProviders(Config& c) {
    const std::string origin = "built-in default";
    c.providers["echo"] = {"echo", {}, origin};
    c.providers["openai"] = {"openai", {}, origin};
    c.providers["openrouter"] = {"openrouter", {}, origin};
}

// `text` is the YAML document; `file` names it in messages.
void readYaml(const std::string& text, const std::string& file, Config& c, std::vector<std::string>& fallbackOrigins) {
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        throw ConfigError(file + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg);
    }
    if (root.IsNull()) return;
    requireKnownKeys(file, root, "top level",
                     {"server", "auth", "storage", "providers", "chat", "limits", "plugins", "logging"});

    if (auto s = root["server"]) {
        requireKnownKeys(file, s, "server",
                         {"listen", "metrics_listen", "reactor_threads", "worker_threads", "queue_depth",
                          "max_body_bytes", "max_in_flight", "shutdown_grace_seconds", "header_timeout_seconds",
                          "body_timeout_seconds", "keepalive_timeout_seconds", "send_timeout_seconds",
                          "max_header_bytes", "max_connections", "max_connections_per_address"});
        if (s["listen"]) c.listen = parseListen(scalar(file, s["listen"], "listen"), where(file, s["listen"]));
        if (s["metrics_listen"] && !s["metrics_listen"].IsNull())
            c.metricsListen =
                parseListen(scalar(file, s["metrics_listen"], "metrics_listen"), where(file, s["metrics_listen"]));
        if (s["reactor_threads"])
            c.reactorThreads = number<unsigned>(file, s["reactor_threads"], "reactor_threads", 1, 256);
        if (s["worker_threads"])
            c.workerThreads = number<unsigned>(file, s["worker_threads"], "worker_threads", 1, 1024);
        if (s["queue_depth"]) c.queueDepth = number<size_t>(file, s["queue_depth"], "queue_depth", 1, 1000000);
        if (s["max_in_flight"]) c.maxInFlight = number<size_t>(file, s["max_in_flight"], "max_in_flight", 1, 1000000);
        for (auto [key, target] : {std::pair{"header_timeout_seconds", &c.headerTimeoutSeconds},
                                   {"body_timeout_seconds", &c.bodyTimeoutSeconds},
                                   {"keepalive_timeout_seconds", &c.keepaliveTimeoutSeconds},
                                   {"send_timeout_seconds", &c.sendTimeoutSeconds}})
            if (s[key]) *target = number<int64_t>(file, s[key], key, 1, 3600);
        if (s["shutdown_grace_seconds"])
            c.shutdownGraceSeconds =
                number<int64_t>(file, s["shutdown_grace_seconds"], "shutdown_grace_seconds", 0, 3600);
        if (s["max_body_bytes"])
            c.maxBodyBytes = number<size_t>(file, s["max_body_bytes"], "max_body_bytes", 1024, 64 * 1024 * 1024);
        if (s["max_header_bytes"])
            c.maxHeaderBytes = number<size_t>(file, s["max_header_bytes"], "max_header_bytes", 1024, 1024 * 1024);
        if (s["max_connections"])
            c.maxConnections = number<size_t>(file, s["max_connections"], "max_connections", 1, 1000000);
        if (s["max_connections_per_address"])
            c.maxConnectionsPerAddress =
                number<size_t>(file, s["max_connections_per_address"], "max_connections_per_address", 0, 1000000);
    }
    if (auto a = root["auth"]) {
        requireKnownKeys(file, a, "auth", {"jwt_secret", "max_token_lifetime_seconds"});
        if (a["jwt_secret"]) c.jwtSecret = scalar(file, a["jwt_secret"], "jwt_secret");
        if (a["max_token_lifetime_seconds"])
            c.maxTokenLifetimeSeconds = number<int64_t>(file, a["max_token_lifetime_seconds"],
                                                        "max_token_lifetime_seconds", 0, 100LL * 365 * 86400);
    }
    if (auto s = root["storage"]) {
        c.storage = pluginInstance(file, s, "storage", {"startup_timeout_seconds", "history_cache_mb"});
        if (s["startup_timeout_seconds"])
            c.storageStartupTimeoutSeconds =
                number<unsigned>(file, s["startup_timeout_seconds"], "startup_timeout_seconds", 0, 3600);
        if (s["history_cache_mb"])
            c.historyCacheBytes = number<size_t>(file, s["history_cache_mb"], "history_cache_mb", 0, 1 << 20) << 20;
    }
    if (auto p = root["providers"]) {
        if (!p.IsMap()) throw ConfigError(where(file, p) + ": 'providers' must be a mapping of named instances");
        c.providers.clear();
        for (const auto& kv : p) {
            auto name = keyName(file, kv.first);
            auto instance = pluginInstance(file, kv.second, "providers." + name, {"models"});
            if (auto models = kv.second["models"]) {
                if (!models.IsSequence())
                    throw ConfigError(where(file, models) + ": 'providers." + name + ".models' must be a list");
                for (const auto& m : models) instance.models.push_back(scalar(file, m, "models"));
            }
            c.providers[name] = std::move(instance);
        }
    }
    if (auto l = root["limits"]) {
        requireKnownKeys(file, l, "limits",
                         {"requests_per_minute", "burst", "concurrent_streams", "max_conversations_per_user",
                          "max_messages_per_conversation", "max_conversation_bytes"});
        for (auto [key, target] : {std::pair{"max_conversations_per_user", &c.limits.maxConversationsPerUser},
                                   {"max_messages_per_conversation", &c.limits.maxMessagesPerConversation},
                                   {"max_conversation_bytes", &c.limits.maxConversationBytes}})
            if (l[key]) *target = number<size_t>(file, l[key], key, 0, size_t{1} << 40);
        if (l["requests_per_minute"])
            c.limits.requestsPerMinute =
                number<unsigned>(file, l["requests_per_minute"], "requests_per_minute", 0, 1000000);
        if (l["burst"]) c.limits.burst = number<unsigned>(file, l["burst"], "burst", 0, 1000000);
        if (l["concurrent_streams"])
            c.limits.concurrentStreams =
                number<unsigned>(file, l["concurrent_streams"], "concurrent_streams", 0, 1000000);
    }

    if (auto ch = root["chat"]) {
        requireKnownKeys(file, ch, "chat",
                         {"default_provider", "default_model", "system_prompt", "fallbacks", "retry", "timeouts",
                          "heartbeat_ms", "context"});
        if (auto ctx = ch["context"]) {
            requireKnownKeys(file, ctx, "chat.context", {"max_messages", "max_chars"});
            if (ctx["max_messages"])
                c.contextMaxMessages = number<size_t>(file, ctx["max_messages"], "max_messages", 0, 1000000);
            if (ctx["max_chars"])
                c.contextMaxChars = number<size_t>(file, ctx["max_chars"], "max_chars", 0, 1000000000);
        }
        if (ch["default_provider"]) c.defaultProvider = scalar(file, ch["default_provider"], "default_provider");
        if (ch["default_model"]) c.defaultModel = scalar(file, ch["default_model"], "default_model");
        if (ch["system_prompt"]) c.systemPrompt = scalar(file, ch["system_prompt"], "system_prompt");
        if (ch["heartbeat_ms"]) c.heartbeatMs = number<int64_t>(file, ch["heartbeat_ms"], "heartbeat_ms", 10, 600000);
        if (auto f = ch["fallbacks"]) {
            if (!f.IsSequence()) throw ConfigError(where(file, f) + ": 'chat.fallbacks' must be a list");
            for (const auto& item : f) {
                requireKnownKeys(file, item, "chat.fallbacks", {"provider", "model"});
                if (!item["provider"]) throw ConfigError(where(file, item) + ": a fallback needs a 'provider'");
                domain::Route r{scalar(file, item["provider"], "provider"),
                                item["model"] ? scalar(file, item["model"], "model") : ""};
                c.fallbacks.push_back(r);
                fallbackOrigins.push_back(where(file, item));
            }
        }
        if (auto r = ch["retry"]) {
            requireKnownKeys(file, r, "chat.retry",
                             {"max_attempts", "initial_backoff_ms", "max_backoff_ms", "max_retry_after_ms"});
            if (r["max_attempts"])
                c.retry.maxAttempts = number<unsigned>(file, r["max_attempts"], "max_attempts", 1, 10);
            if (r["initial_backoff_ms"])
                c.retry.initialBackoffMs =
                    number<int64_t>(file, r["initial_backoff_ms"], "initial_backoff_ms", 0, 600000);
            if (r["max_backoff_ms"])
                c.retry.maxBackoffMs = number<int64_t>(file, r["max_backoff_ms"], "max_backoff_ms", 0, 600000);
            if (r["max_retry_after_ms"])
                c.retry.maxRetryAfterMs =
                    number<int64_t>(file, r["max_retry_after_ms"], "max_retry_after_ms", 0, 3600000);
        }
        if (auto t = ch["timeouts"]) {
            requireKnownKeys(file, t, "chat.timeouts", {"connect_ms", "first_token_ms", "idle_ms", "total_ms"});
            auto ms = [&](const char* key, int64_t& out) {
                if (t[key]) out = number<int64_t>(file, t[key], key, 1, 3600000);
            };
            ms("connect_ms", c.connectTimeoutMs);
            ms("first_token_ms", c.firstTokenTimeoutMs);
            ms("idle_ms", c.idleTimeoutMs);
            ms("total_ms", c.totalTimeoutMs);
        }
    }
    if (auto pl = root["plugins"]) {
        requireKnownKeys(file, pl, "plugins", {"directory"});
        if (pl["directory"]) c.pluginDirectory = scalar(file, pl["directory"], "directory");
    }
    if (auto l = root["logging"]) {
        requireKnownKeys(file, l, "logging", {"level", "format"});
        if (l["format"]) {
            auto format = scalar(file, l["format"], "format");
            if (format != "text" && format != "json")
                throw ConfigError(where(file, l["format"]) + ": logging.format must be text or json");
            c.logJson = format == "json";
        }
        if (l["level"]) {
            c.logLevel = scalar(file, l["level"], "level");
            static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error", "off"};
            if (!levels.count(c.logLevel))
                throw ConfigError(where(file, l["level"]) +
                                  ": logging.level must be one of trace, debug, info, "
                                  "warn, error, off");
        }
    }
}

// SQLAlchemy's URL forms of the service omnichat replaces.
PluginInstanceConfig storageFromDatabaseUrl(const std::string& url) {
    const std::string origin = "environment DATABASE_URL";
    PluginInstanceConfig out;
    out.origin = origin;
    auto starts = [&](const char* p) { return url.rfind(p, 0) == 0; };
    if (starts("postgresql://") || starts("postgres://") || starts("postgresql+psycopg2://") ||
        starts("postgresql+asyncpg://")) {
        out.plugin = "postgres";
        std::string normalized = "postgresql://" + url.substr(url.find("://") + 3);
        out.options["url"] = {normalized, origin};
    } else if (starts("sqlite:///")) {
        out.plugin = "sqlite";
        // sqlite:///relative.db and sqlite:////absolute.db
        out.options["path"] = {url.substr(std::string("sqlite:///").size()), origin};
    } else if (starts("sqlite+aiosqlite:///")) {
        out.plugin = "sqlite";
        out.options["path"] = {url.substr(std::string("sqlite+aiosqlite:///").size()), origin};
    } else {
        throw ConfigError("environment DATABASE_URL: unsupported URL scheme (use postgresql://... or sqlite:///...)");
    }
    return out;
}

void applyEnvironment(const Environment& env, Config& c) {
    auto get = [&](const char* k) -> const std::string* {
        auto it = env.find(k);
        return it == env.end() || it->second.empty() ? nullptr : &it->second;
    };
    if (auto v = get("DATABASE_URL")) c.storage = storageFromDatabaseUrl(*v);
    if (auto v = get("JWT_SECRET")) c.jwtSecret = *v;
    if (auto v = get("LLM_PROVIDER")) c.defaultProvider = *v;
    if (auto v = get("LLM_MODEL")) c.defaultModel = *v;
    if (auto v = get("OMNICHAT_LISTEN")) c.listen = parseListen(*v, "environment OMNICHAT_LISTEN");
    if (auto v = get("OMNICHAT_METRICS_LISTEN"))
        c.metricsListen = parseListen(*v, "environment OMNICHAT_METRICS_LISTEN");
    struct Mapping {
        const char* var;
        const char* instance;
        const char* option;
    };
    for (auto m : {Mapping{"OPENAI_API_KEY", "openai", "api_key"}, Mapping{"OPENAI_BASE_URL", "openai", "base_url"},
                   Mapping{"OPENROUTER_API_KEY", "openrouter", "api_key"},
                   Mapping{"OPENROUTER_BASE_URL", "openrouter", "base_url"}}) {
        auto v = get(m.var);
        if (!v) continue;
        auto it = c.providers.find(m.instance);
        if (it == c.providers.end()) c.providers[m.instance] = {m.instance, {}, std::string("environment ") + m.var};
        c.providers[m.instance].options[m.option] = {*v, std::string("environment ") + m.var};
    }
    // Without an explicit choice, the first provider that has a key, else the
    // offline echo provider.
    if (c.defaultProvider.empty()) {
        if (get("OPENROUTER_API_KEY"))
            c.defaultProvider = "openrouter";
        else if (get("OPENAI_API_KEY"))
            c.defaultProvider = "openai";
        else
            c.defaultProvider = "echo";
    }
}

}  // namespace

Environment parseDotenv(const std::string& text) {
    Environment out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        line = trim(line);
        if (line.empty() || line[0] == '#') continue;
        if (line.rfind("export ", 0) == 0) line = trim(line.substr(7));
        auto eq = line.find('=');
        if (eq == std::string::npos) continue;
        std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
        if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front())
            value = value.substr(1, value.size() - 2);
        else if (auto hash = value.find(" #"); hash != std::string::npos)
            value = trim(value.substr(0, hash));
        if (!key.empty()) out[key] = value;
    }
    return out;
}

Environment processEnvironment(const std::string& dotenvPath) {
    Environment env;
    if (std::ifstream f{dotenvPath}) {
        std::stringstream ss;
        ss << f.rdbuf();
        env = parseDotenv(ss.str());
    }
    for (char** e = environ; e && *e; ++e) {
        std::string kv(*e);
        auto eq = kv.find('=');
        if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    return env;
}

namespace {

Config buildConfig(const std::optional<std::string>& yamlText, const std::string& source, const Environment& env) {
    Config c;
    c.source = source;
    c.storage = {"sqlite", {{"path", {"data/omnichat.db", "built-in default"}}}, "built-in default"};
    defaultProviders(c);
    std::vector<std::string> fallbackOrigins;
    if (yamlText) readYaml(*yamlText, source, c, fallbackOrigins);
    applyEnvironment(env, c);

    if (c.jwtSecret.empty())
        throw ConfigError(c.source + ": no JWT secret: set auth.jwt_secret or the JWT_SECRET environment variable");
    if (!c.providers.count(c.defaultProvider))
        throw ConfigError(c.source + ": default provider '" + c.defaultProvider +
                          "' is not a configured provider instance");
    for (size_t i = 0; i < c.fallbacks.size(); ++i)
        if (!c.providers.count(c.fallbacks[i].provider))
            throw ConfigError(fallbackOrigins[i] + ": fallback provider '" + c.fallbacks[i].provider +
                              "' is not a configured provider instance");
    if (c.storage.plugin.empty()) throw ConfigError(c.source + ": storage needs a plugin");
    if (c.metricsListen && c.metricsListen->port != 0 && c.metricsListen->port == c.listen.port)
        throw ConfigError(c.source + ": server.metrics_listen needs a port other than server.listen's");
    return c;
}

}  // namespace

Config loadConfig(const std::optional<std::string>& path, const Environment& env) {
    if (!path) return buildConfig(std::nullopt, "built-in defaults", env);
    std::ifstream file(*path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    if (!file.is_open() || file.bad()) throw ConfigError(*path + ": cannot read the configuration file");
    return buildConfig(text, *path, env);
}

Config loadConfigText(const std::string& yaml, const std::string& source, const Environment& env) {
    return buildConfig(yaml, source, env);
}

}  // namespace omnichat
