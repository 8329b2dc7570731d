#include "host/host_api.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>

#include "chat/provider_call.hpp"
#include "common/ids.hpp"
#include "host/http_client.hpp"
#include "plugins/plugin_config.hpp"

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

// A plugin may end a piece inside a character, or emit bytes that are no
// UTF-8 at all: deltas carry whole characters only, and none after bytes
// that are not UTF-8 (that reply then fails its check before it is stored,
// and the client gets the error).
bool callEmitDelta(omnichat_call_t* call, omnichat_str_t text) {
    auto& control = *call->control;
    if (control.cancelled.load(std::memory_order_relaxed)) return false;
    call->text.append(text.data ? text.data : "", text.len);
    if (!control.onDelta || call->garbled) return true;
    const size_t whole = utf8WholePrefix(call->text);
    std::string_view piece(call->text.data() + call->forwarded, whole - call->forwarded);
    if (piece.empty()) return true;
    if (!isStorableText(piece)) {
        call->garbled = true;
        return true;
    }
    call->forwarded = whole;
    if (!control.onDelta(piece)) {
        control.cancelled = true;
        return false;
    }
    return true;
}

void callComplete(omnichat_call_t* call, const omnichat_chat_result_t* result, const omnichat_error_t* error) {
    std::unique_ptr<omnichat_call> owned(call);
    auto control = owned->control;
    {
        std::lock_guard lock(control->mutex);
        control->completed = true;
    }
    ProviderOutcome outcome;
    auto str = [](omnichat_str_t s) { return std::string(s.data ? s.data : "", s.len); };
    if (error && error->struct_size >= sizeof(omnichat_error_t) && error->status != OMNICHAT_OK) {
        outcome.status = error->status;
        outcome.httpStatus = error->http_status;
        outcome.retryAfterMs = error->retry_after_ms;
        outcome.message.assign(error->message, strnlen(error->message, sizeof(error->message)));
    } else if (!result) {
        outcome.status = OMNICHAT_ERR_INTERNAL;
        outcome.message = "provider completed without a result or an error";
    } else {
        // Copy what the plugin's (possibly older, smaller) struct holds.
        omnichat_chat_result_t r{};
        std::memcpy(&r, result, std::min<size_t>(result->struct_size, sizeof r));
        outcome.status = OMNICHAT_OK;
        outcome.text = std::move(owned->text);
        outcome.finishReason = str(r.finish_reason);
        outcome.model = str(r.model);
        if (r.usage.struct_size >= sizeof(omnichat_usage_t)) {
            outcome.promptTokens = r.usage.prompt_tokens;
            outcome.completionTokens = r.usage.completion_tokens;
            outcome.cachedTokens = r.usage.cached_tokens;
            outcome.reasoningTokens = r.usage.reasoning_tokens;
            if (r.usage.has_cost) outcome.cost = r.usage.cost;
        }
    }
    owned.reset();
    // Moved out: `done` usually holds its owner, which holds `control`.
    auto done = std::move(control->done);
    control->done = nullptr;
    done(std::move(outcome));
}

bool callIsCancelled(const omnichat_call_t* call) { return call->control->cancelled.load(std::memory_order_relaxed); }

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

const omnichat_host_api_t kHostApi{
    sizeof(omnichat_host_api_t),
    OMNICHAT_ABI_VERSION,
    &logEnabled,
    &log,
    &configGet,
    &callEmitDelta,
    &callComplete,
    &callIsCancelled,
    &httpStart,
    &httpCancel,
    &now,
};

}  // namespace

const omnichat_host_api_t* hostApi() { return &kHostApi; }

void attachHttpClient(HttpClient* client) { g_http.store(client); }

}  // namespace omnichat
