// omnichat: `serve`, `token` and `check-config`.
#include <malloc.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include "api/http_server.hpp"
#include "auth/jwt.hpp"
#include "chat/chat_service.hpp"
#include "common/ids.hpp"
#include "config/config.hpp"
#include "config/settings.hpp"
#include "http/http_client.hpp"
#include "observability/metrics.hpp"
#include "plugins/plugin_loader.hpp"
#include "plugins/provider_setup.hpp"
#include "ports/host_table.hpp"
#include "ports/plugin_providers.hpp"
#include "ports/plugin_storage.hpp"
#include "runtime/timer.hpp"
#include "runtime/worker_pool.hpp"

namespace fs = std::filesystem;
using namespace omnichat;

namespace {

constexpr const char* kUsage =
    "usage: omnichat serve [--config FILE]\n"
    "       omnichat check-config [--config FILE]\n"
    "       omnichat token --sub USER [--ttl SECONDS] [--config FILE]\n"
    "       omnichat settings   (every setting, as the README's table)\n"
    "       omnichat --help | --version\n";

struct Args {
    std::string command;
    std::optional<std::string> config;
    std::string sub;
    int64_t ttl = 24 * 3600;
};

Args parseArgs(int argc, char** argv) {
    if (argc < 2) throw std::invalid_argument("missing command");
    Args a;
    a.command = argv[1];
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (flag == "--help" || flag == "-h" || flag == "help") return {"help", std::nullopt, "", 0};
        if (flag == "--version" || flag == "version") return {"version", std::nullopt, "", 0};
    }
    for (int i = 2; i < argc; ++i) {
        std::string k = argv[i];
        if (i + 1 >= argc) throw std::invalid_argument("missing value for " + k);
        std::string v = argv[++i];
        if (k == "--config")
            a.config = v;
        else if (k == "--sub")
            a.sub = v;
        else if (k == "--ttl")
            a.ttl = std::stoll(v);
        else
            throw std::invalid_argument("unknown option " + k);
    }
    return a;
}

// --config, else $OMNICHAT_CONFIG, else config/omnichat.yaml when run from
// the repository root, else the built-in defaults.
std::optional<std::string> configPath(const Args& args, const Environment& env) {
    if (args.config) return args.config;
    if (auto it = env.find("OMNICHAT_CONFIG"); it != env.end() && !it->second.empty()) return it->second;
    if (fs::exists("config/omnichat.yaml")) return std::string("config/omnichat.yaml");
    return std::nullopt;
}

// OMNICHAT_PLUGIN_PATH's directories, plugins.path's, then the built-in one:
// the first-party plugins beside the executable's folder (build/plugins).
std::vector<std::string> pluginSearchPath(const Config& config) {
    auto path = config.pluginPath;
    path.push_back((fs::read_symlink("/proc/self/exe").parent_path().parent_path() / "plugins").string());
    return path;
}

// The message as a JSON string's contents, for JSON log lines.
class JsonEscapedMessage : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& out) override {
        for (char c : std::string_view(msg.payload.data(), msg.payload.size())) {
            if (c == '"' || c == '\\') {
                out.push_back('\\');
                out.push_back(c);
            } else if (static_cast<unsigned char>(c) < 0x20) {
                char escaped[8];
                int n = std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
                out.append(escaped, escaped + n);
            } else {
                out.push_back(c);
            }
        }
    }
    std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonEscapedMessage>(); }
};

// logging.format: json, for log collectors: one object per line.
void useJsonLogLines() {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<JsonEscapedMessage>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","thread":%t,"message":"%*"})");
    spdlog::set_formatter(std::move(formatter));
}

// Swagger UI's files, put beside the build by scripts/build.sh: build/share/docs.
std::string docsDirectory() {
    return (fs::read_symlink("/proc/self/exe").parent_path().parent_path() / "share" / "docs").string();
}

std::unique_ptr<PluginStorage> openStorage(const Config& config, PluginLibraries& plugins, Metrics& metrics) {
    auto storage = std::make_unique<PluginStorage>(
        plugins.createInstance(config.storage, "storage", OMNICHAT_PLUGIN_STORAGE), &metrics);
    // The database may still be starting (containers, CI): retry a bounded
    // time, then fail with the last reason.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(config.storageStartupTimeoutSeconds);
    for (;;) {
        try {
            storage->migrate();
            return storage;
        } catch (const StorageError& e) {
            if (e.status() != OMNICHAT_ERR_UNAVAILABLE || std::chrono::steady_clock::now() >= deadline)
                throw StorageError(e.status(), std::string("storage (") + config.storage.plugin + "): " + e.what());
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
        }
    }
}

struct ProviderInstances {
    std::map<std::string, std::unique_ptr<PluginInstance>> started;
    std::vector<std::string> missing;  // optional instances that did not start
};

// Every configured provider instance. The default and fallback instances
// must start. The others: one whose required option is unset (an API key
// not given) is not started; one that fails otherwise (its plugin cannot be
// loaded, an option is wrong, create() refuses) stops startup with the
// reason, unless it is optional or a built-in default.
ProviderInstances startProviders(const Config& config, PluginLibraries& plugins) {
    ProviderInstances out;
    std::vector<std::string> used{config.defaultProvider};
    for (const auto& f : config.fallbacks) used.push_back(f.provider);
    for (const auto& name : used)
        if (!out.started.count(name))
            out.started[name] =
                plugins.createInstance(config.providers.at(name), "providers." + name, OMNICHAT_PLUGIN_PROVIDER);
    for (const auto& [name, instance] : config.providers) {
        if (out.started.count(name)) continue;
        try {
            out.started[name] = plugins.createInstance(instance, "providers." + name, OMNICHAT_PLUGIN_PROVIDER);
        } catch (const MissingOptionError& e) {
            spdlog::info("provider instance '{}' not started: {}", name, e.what());
        } catch (const std::exception& e) {
            if (instance.origin == kBuiltInOrigin) {
                spdlog::info("provider instance '{}' not started: {}", name, e.what());
            } else if (instance.optional) {
                spdlog::warn("optional provider instance '{}' not started: {}", name, e.what());
                out.missing.push_back(name);
            } else {
                throw;
            }
        }
    }
    return out;
}

// Every setting, its value and where the value came from; secrets masked.
void printSettings(const Config& config) {
    for (const auto& setting : settings()) {
        const auto& w = config.written.at(setting.key);
        std::string value = setting.kind == Setting::Kind::Secret ? (w.text.empty() ? "(none)" : "(set)")
                            : w.text.empty()                      ? "(none)"
                                                                  : w.text;
        std::cout << setting.key << " = " << value << "  (" << w.origin << ")\n";
    }
}

// glibc gives each thread that allocates under contention an arena of its
// own, up to eight per core. The held histories churn (least recently used
// out, new in) through every worker's arena, and each arena keeps its own
// half-used pages: in the ten-minute soak resident memory crept up 13% with
// the heap in use flat. One arena per core: +1%, and no slower. An operator's
// MALLOC_ARENA_MAX still decides.
void limitMallocArenas() {
    if (std::getenv("MALLOC_ARENA_MAX")) return;
    mallopt(M_ARENA_MAX, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

int serve(Config config, const Environment& env, bool checkOnly) {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    // Blocked before any thread starts, so every thread inherits the mask
    // and sigwait below is the only receiver.
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    limitMallocArenas();
    // Each client connection holds a descriptor and each provider call
    // another: the soft limit a shell hands down (often 1,024) would cap
    // connections long before memory does.
    rlimit files{};
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        setrlimit(RLIMIT_NOFILE, &files);
    }
    // The descriptors left after the process's own (storage connections,
    // listeners, logs) are shared by halves: one per client connection, one
    // per provider connection. When both run short, a provider call waits
    // for a connection instead of failing to open one, and a client beyond
    // its half is answered 503 instead of failing to be accepted.
    constexpr rlim_t kReservedDescriptors = 256;
    const auto descriptors = getrlimit(RLIMIT_NOFILE, &files) == 0 ? files.rlim_cur : 1024;
    const size_t share = descriptors == RLIM_INFINITY
                             ? config.maxInFlight
                             : std::max<size_t>(16, (descriptors - std::min(descriptors, kReservedDescriptors)) / 2);
    const size_t providerConnections = descriptors == RLIM_INFINITY ? config.maxInFlight : share;
    if (descriptors != RLIM_INFINITY) config.maxConnections = std::min(config.maxConnections, share);
    spdlog::debug("descriptor limit {}: at most {} client and {} provider connections open at once", descriptors,
                  config.maxConnections, providerConnections);

    PluginLibraries plugins(pluginSearchPath(config), hostTable());
    resolveProviders(config, plugins, env);
    HttpClient http(config.maxInFlight, providerConnections);
    attachHttpClient(&http);
    Metrics metrics;
    auto storage = openStorage(config, plugins, metrics);
    auto instances = startProviders(config, plugins);
    PluginProviders providers(std::move(instances.started), std::move(instances.missing));
    if (checkOnly) {
        printSettings(config);
        for (const auto& directory : pluginSearchPath(config)) std::cout << "plugin directory " << directory << "\n";
        std::cout << "configuration OK (" << config.source << ")\n";
        return 0;
    }
    {
        // The timer outlives the pool: replies drained by the pool at the end
        // of this scope still cancel their timers.
        Timer timer;
        WorkerPool pool(config.workerThreads, config.queueDepth, metrics);
        ChatService chat(config, *storage, providers, pool, timer, metrics);
        JwtAuthenticator auth(config.jwtSecret, JwtPolicy{config.maxTokenLifetimeSeconds});
        HttpServer server(config, chat, auth, timer, metrics, docsDirectory());
        metrics.addGauge("omnichat_sends_in_flight", "Sends admitted and not yet answered.",
                         [&chat] { return static_cast<double>(chat.sendsInFlight()); });
        metrics.addGauge("omnichat_worker_queue_depth", "Storage tasks waiting for a worker thread.",
                         [&pool] { return static_cast<double>(pool.queued()); });
        metrics.addGauge("omnichat_open_requests", "HTTP requests accepted and not yet answered.",
                         [&server] { return static_cast<double>(server.openRequests()); });
        metrics.addGauge("omnichat_connections", "Client connections open on the public address.",
                         [&server] { return static_cast<double>(server.connections()); });
        metrics.addGauge("omnichat_history_cache_bytes", "Memory of the conversation histories held (estimated).",
                         [&chat] { return static_cast<double>(chat.histories().bytes()); });
        metrics.addGauge("omnichat_history_cache_entries", "Conversation histories held in memory.",
                         [&chat] { return static_cast<double>(chat.histories().entries()); });
        // The storage plugin's pool, when it reports one (ABI 1.3).
        if (storage->stats().connectionsOpen >= 0) {
            metrics.addGauge("omnichat_storage_connections", "Storage connections held, idle or in use.",
                             [&storage] { return static_cast<double>(storage->stats().connectionsOpen); });
            metrics.addGauge("omnichat_storage_connections_in_use", "Storage connections lent to a call now.",
                             [&storage] { return static_cast<double>(storage->stats().connectionsInUse); });
            metrics.addSampledCounter("omnichat_storage_connection_waits_total",
                                      "Storage calls that found every connection busy and waited.",
                                      [&storage] { return static_cast<double>(storage->stats().connectionWaits); });
        }
        metrics.addGauge("omnichat_heap_bytes", "Heap memory allocated and not freed.", heapBytesInUse);
        metrics.addGauge("process_resident_memory_bytes", "Resident memory size in bytes.", residentBytes);
        metrics.addGauge("process_open_fds", "Number of open file descriptors.", openDescriptors);
        metrics.addGauge("omnichat_threads", "Threads of the process.", threadCount);
        server.start();
        // On stdout whatever the log level: scripts and tests wait for it.
        if (config.metricsListen)
            std::cout << "omnichat metrics on http://" << config.metricsListen->host << ":" << server.metricsPort()
                      << "/metrics" << std::endl;
        std::cout << "omnichat listening on http://" << config.listen.host << ":" << server.port() << " (storage "
                  << config.storage.plugin << ", provider " << config.defaultProvider << ")" << std::endl;
        int sig = 0;
        sigwait(&signals, &sig);
        server.drain();
        // After drain(): a reader of this line finds the server draining.
        spdlog::warn("signal {} received: draining (up to {} s)", sig, config.shutdownGraceSeconds);
        // What was accepted runs on, up to the grace period; a send whose
        // client is gone (now or while draining) has no one to wait for and
        // is cancelled at once. Polled: the main thread has nothing else to
        // do, and this happens once.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(config.shutdownGraceSeconds);
        while (server.openRequests() > 0 && std::chrono::steady_clock::now() < deadline) {
            if (size_t n = chat.cancelSends(ChatService::Cancel::ClientGone))
                spdlog::info("cancelled {} send(s) whose client is gone; nothing of theirs is stored", n);
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        if (int open = server.openRequests(); open > 0) {
            spdlog::warn("grace period over: cancelling {} open request(s); nothing of theirs is stored", open);
            // Their clients get a 503 (or an error event) before the sockets
            // close, even from a provider that never completes its calls.
            chat.cancelSends(ChatService::Cancel::All);
            http.stop();
            const auto last = std::chrono::steady_clock::now() + std::chrono::seconds(2);
            while (server.openRequests() > 0 && std::chrono::steady_clock::now() < last)
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        server.shutdown();
        http.stop();
    }
    attachHttpClient(nullptr);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Args args;
    try {
        args = parseArgs(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "omnichat: " << e.what() << "\n" << kUsage;
        return 2;
    }
    try {
        if (args.command == "help") {
            std::cout << "omnichat: a chat service for applications\n" << kUsage;
            return 0;
        }
        if (args.command == "version") {
            std::cout << "omnichat " << OMNICHAT_VERSION << " (plugin ABI " << OMNICHAT_ABI_MAJOR << "."
                      << OMNICHAT_ABI_MINOR << ")\n";
            return 0;
        }
        if (args.command == "settings") {
            std::cout << settingsMarkdown();
            return 0;
        }
        auto env = processEnvironment();
        auto config = loadConfig(configPath(args, env), env);
        auto logger = spdlog::stderr_color_mt("omnichat");
        spdlog::set_default_logger(logger);
        spdlog::set_level(spdlog::level::from_str(config.logLevel));
        if (config.logJson) useJsonLogLines();
        if (args.command == "serve" || args.command == "check-config")
            return serve(std::move(config), env, args.command == "check-config");
        if (args.command == "token") {
            if (args.sub.empty()) throw std::invalid_argument("token needs --sub USER");
            std::cout << JwtAuthenticator(config.jwtSecret).mint(args.sub, args.ttl, nowUnixMs() / 1000) << "\n";
            return 0;
        }
        std::cerr << "omnichat: unknown command '" << args.command << "'\n" << kUsage;
        return 2;
    } catch (const std::exception& e) {
        // One line naming the problem: ConfigError, PluginError, StorageError.
        std::string line = e.what();
        std::replace(line.begin(), line.end(), '\n', ' ');
        line.erase(line.find_last_not_of(' ') + 1);
        std::cerr << "omnichat: error: " << line << "\n";
        return 1;
    }
}
