#include "ports/host_table.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <string_view>

#include "common/ids.hpp"
#include "http/http_client.hpp"
#include "plugins/plugin_config.hpp"
#include "ports/plugin_providers.hpp"

namespace omnichat {
namespace {

std::atomic<HttpClient*> g_http{nullptr};

spdlog::level::level_enum toSpd(omnichat_log_level_t level) {
    switch (level) {
        case OMNICHAT_LOG_TRACE: return spdlog::level::trace;
        case OMNICHAT_LOG_DEBUG: return spdlog::level::debug;
        case OMNICHAT_LOG_INFO: return spdlog::level::info;
        case OMNICHAT_LOG_WARN: return spdlog::level::warn;
        default: return spdlog::level::err;
    }
}

bool logEnabled(omnichat_log_level_t level) { return spdlog::should_log(toSpd(level)); }

void log(omnichat_log_level_t level, omnichat_str_t message) {
    spdlog::log(toSpd(level), "plugin: {}", std::string_view(message.data ? message.data : "", message.len));
}

bool configGet(const omnichat_config_t* config, const char* name, omnichat_str_t* out) {
    if (!config || !name || !out) return false;
    auto it = config->values.find(name);
    if (it == config->values.end()) return false;
    *out = {it->second.data(), it->second.size()};
    return true;
}

omnichat_http_exchange_t* httpStart(const omnichat_http_request_t* request, const omnichat_http_callbacks_t* callbacks,
                                    void* userData) {
    HttpClient* http = g_http.load();
    if (!http || !request || !callbacks) return nullptr;
    return http->start(*request, *callbacks, userData);
}

void httpCancel(omnichat_http_exchange_t* exchange) {
    if (HttpClient* http = g_http.load(); http && exchange) http->cancel(exchange);
}

int64_t now() { return nowUnixMs(); }

const omnichat_host_api_t kHostTable{
    sizeof(omnichat_host_api_t),
    OMNICHAT_ABI_VERSION,
    &logEnabled,
    &log,
    &configGet,
    &PluginProviders::emitDelta,
    &PluginProviders::complete,
    &PluginProviders::isCancelled,
    &httpStart,
    &httpCancel,
    &now,
};

}  // namespace

const omnichat_host_api_t* hostTable() { return &kHostTable; }

void attachHttpClient(HttpClient* client) { g_http.store(client); }

}  // namespace omnichat
