#include "config/config.hpp"

#include "config/settings.hpp"

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

// The structured defaults: the storage and the provider instances a host
// has when its configuration names none. A default provider is the first
// of the candidates whose plugin's required options are all set.
void structuredDefaults(Config& c) {
    const std::string origin = kBuiltInOrigin;
    c.storage = {"sqlite", {{"path", {"data/omnichat.db", origin}}}, origin};
    for (const char* name : {"echo", "openai", "openrouter", "anthropic"}) c.providers[name] = {name, {}, origin};
    c.defaultProviderCandidates = {"openrouter", "openai", "anthropic", "echo"};
}

// The settings whose key begins with `prefix` (a section, with its dot).
bool anySettingUnder(const std::string& prefix) {
    for (const auto& s : settings())
        if (s.key.rfind(prefix, 0) == 0) return true;
    return false;
}

const Setting* settingNamed(const std::string& key) {
    for (const auto& s : settings())
        if (s.key == key) return &s;
    return nullptr;
}

void store(Config& c, const Setting& setting, const std::string& value, const std::string& origin) {
    if (auto problem = checkSetting(setting, value); !problem.empty())
        throw ConfigError(origin + ": '" + setting.key + "' must be " + problem);
    setting.store(c, value);
    c.written[setting.key] = {value, origin};
}

// Keys of a section that are not settings of the table.
const std::map<std::string, std::set<std::string>>& structuredKeys() {
    static const std::map<std::string, std::set<std::string>> keys{
        {"", {"providers", "plugins"}}, {"storage.", {"plugin", "options"}}, {"chat.", {"fallbacks", "aliases"}}};
    return keys;
}

void readStructured(const std::string& file, const std::string& path, const YAML::Node& node, Config& c,
                    std::vector<std::string>& fallbackOrigins);

// A mapping of the document at `prefix` ("" for the top, "server." ...):
// every key a setting, a section of settings, or a structured part.
void readSection(const std::string& file, const YAML::Node& map, const std::string& prefix, Config& c,
                 std::vector<std::string>& fallbackOrigins) {
    const std::string section = prefix.empty() ? "top level" : prefix.substr(0, prefix.size() - 1);
    if (!map.IsMap()) throw ConfigError(where(file, map) + ": '" + section + "' must be a mapping");
    // Another plugin's default options do not carry over to the one named.
    if (prefix == "storage." && map["plugin"])
        c.storage = {scalar(file, map["plugin"], "plugin"), {}, where(file, map)};
    auto structured = structuredKeys().find(prefix);
    for (const auto& kv : map) {
        const auto name = keyName(file, kv.first);
        const auto path = prefix + name;
        if (const auto* setting = settingNamed(path)) {
            if (kv.second.IsNull()) continue;  // written empty: the default stands
            store(c, *setting, scalar(file, kv.second, name), where(file, kv.second));
        } else if (structured != structuredKeys().end() && structured->second.count(name)) {
            readStructured(file, path, kv.second, c, fallbackOrigins);
        } else if (anySettingUnder(path + ".")) {
            readSection(file, kv.second, path + ".", c, fallbackOrigins);
        } else {
            std::set<std::string> known;
            for (const auto& s : settings())
                if (s.key.rfind(prefix, 0) == 0)
                    known.insert(s.key.substr(prefix.size(), s.key.find('.', prefix.size()) - prefix.size()));
            if (structured != structuredKeys().end())
                known.insert(structured->second.begin(), structured->second.end());
            std::string list;
            for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
            throw ConfigError(where(file, kv.first) + ": unknown key '" + name + "' in '" + section +
                              "' (known: " + list + ")");
        }
    }
}

void readStructured(const std::string& file, const std::string& path, const YAML::Node& node, Config& c,
                    std::vector<std::string>& fallbackOrigins) {
    if (path == "storage.plugin") {
        return;  // read with its section (readSection)
    } else if (path == "storage.options") {
        if (!node.IsMap() && !node.IsNull())
            throw ConfigError(where(file, node) + ": 'storage.options' must be a mapping");
        if (node.IsMap())
            for (const auto& kv : node) {
                auto key = keyName(file, kv.first);
                c.storage.options[key] = {scalar(file, kv.second, key), where(file, kv.first)};
            }
    } else if (path == "providers") {
        if (!node.IsMap()) throw ConfigError(where(file, node) + ": 'providers' must be a mapping of named instances");
        c.providers.clear();
        for (const auto& kv : node) {
            auto name = keyName(file, kv.first);
            auto instance = pluginInstance(file, kv.second, "providers." + name, {"models", "optional"});
            if (auto optional = kv.second["optional"]) {
                auto value = scalar(file, optional, "optional");
                if (value != "true" && value != "false")
                    throw ConfigError(where(file, optional) + ": 'providers." + name +
                                      ".optional' must be true or false");
                instance.optional = value == "true";
            }
            if (auto models = kv.second["models"]) {
                if (!models.IsSequence())
                    throw ConfigError(where(file, models) + ": 'providers." + name + ".models' must be a list");
                for (const auto& m : models) instance.models.push_back(scalar(file, m, "models"));
            }
            c.providers[name] = std::move(instance);
        }
    } else if (path == "plugins") {
        if (node.IsNull()) return;
        requireKnownKeys(file, node, "plugins", {"path"});
        const auto list = node["path"];
        if (!list || list.IsNull()) return;
        if (!list.IsSequence()) throw ConfigError(where(file, list) + ": 'plugins.path' must be a list of directories");
        for (const auto& directory : list) c.pluginPath.push_back(scalar(file, directory, "path"));
    } else if (path == "chat.aliases") {
        if (node.IsNull()) return;
        if (!node.IsMap())
            throw ConfigError(where(file, node) + ": 'chat.aliases' must map names to models (instance/model)");
        for (const auto& kv : node) c.aliases[keyName(file, kv.first)] = scalar(file, kv.second, "alias");
    } else if (path == "chat.fallbacks") {
        if (!node.IsSequence()) throw ConfigError(where(file, node) + ": 'chat.fallbacks' must be a list");
        for (const auto& item : node) {
            requireKnownKeys(file, item, "chat.fallbacks", {"provider", "model"});
            if (!item["provider"]) throw ConfigError(where(file, item) + ": a fallback needs a 'provider'");
            c.fallbacks.push_back({scalar(file, item["provider"], "provider"),
                                   item["model"] ? scalar(file, item["model"], "model") : ""});
            fallbackOrigins.push_back(where(file, item));
        }
    }
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
    readSection(file, root, "", c, fallbackOrigins);
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
    for (const auto& setting : settings()) {
        if (setting.env.empty()) continue;
        auto it = env.find(setting.env);
        if (it != env.end() && !it->second.empty()) store(c, setting, it->second, "environment " + setting.env);
    }
    if (auto it = env.find("DATABASE_URL"); it != env.end() && !it->second.empty())
        c.storage = storageFromDatabaseUrl(it->second);
    // In front of plugins.path, as PATH is searched: colon-separated.
    if (auto it = env.find("OMNICHAT_PLUGIN_PATH"); it != env.end()) {
        std::vector<std::string> front;
        std::istringstream in(it->second);
        for (std::string directory; std::getline(in, directory, ':');)
            if (!directory.empty()) front.push_back(directory);
        c.pluginPath.insert(c.pluginPath.begin(), front.begin(), front.end());
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
    Config c = defaultConfig();
    c.source = source;
    std::vector<std::string> fallbackOrigins;
    if (yamlText) readYaml(*yamlText, source, c, fallbackOrigins);
    applyEnvironment(env, c);

    for (const auto& setting : settings())
        if (setting.required && c.written[setting.key].origin == "default")
            throw ConfigError(c.source + ": '" + setting.key + "' is required" +
                              (setting.env.empty() ? "" : " (or the " + setting.env + " environment variable)"));
    if (!c.defaultProvider.empty() && !c.providers.count(c.defaultProvider))
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

Config defaultConfig() {
    Config c;
    for (const auto& setting : settings()) {
        c.written[setting.key] = {setting.defaultValue, "default"};
        if (!setting.defaultValue.empty()) setting.store(c, setting.defaultValue);
    }
    structuredDefaults(c);
    return c;
}

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
