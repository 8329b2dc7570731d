// The host's services as one plugin instance sees them: its options, the
// log, the clock and the host's HTTP client.
#pragma once

#include <omnichat/basics.hpp>

#include <cctype>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace omnichat {

struct HttpResponseHead {
    int32_t status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    // Case-insensitive lookup, as HTTP header names are.
    std::optional<std::string> header(std::string_view name) const {
        for (const auto& [k, v] : headers) {
            if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
                    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
                }))
                return v;
        }
        return std::nullopt;
    }
};

struct HttpRequest {
    std::string method = "POST";
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    int64_t connectTimeoutMs = 0;
    int64_t totalTimeoutMs = 0;
};

struct HttpHandlers {
    std::function<void(const HttpResponseHead&)> onHeaders;
    std::function<bool(std::string_view)> onBody;
    std::function<void(omnichat_http_transport_t, int32_t status, std::string_view message)> onComplete;
};

// The host's services, as seen by one plugin instance.
class Host {
public:
    Host(const omnichat_host_api_t* api, const omnichat_config_t* config) : api_(api), config_(config) {}

    const omnichat_host_api_t* api() const { return api_; }

    std::optional<std::string> option(const char* name) const {
        omnichat_str_t out{};
        if (!api_->config_get(config_, name, &out)) return std::nullopt;
        return std::string(view(out));
    }
    std::string option(const char* name, std::string fallback) const {
        auto v = option(name);
        return v ? *v : std::move(fallback);
    }
    int64_t intOption(const char* name, int64_t fallback) const {
        auto v = option(name);
        return v ? std::stoll(*v) : fallback;
    }
    bool boolOption(const char* name, bool fallback) const {
        auto v = option(name);
        return v ? (*v == "true") : fallback;
    }

    bool logEnabled(omnichat_log_level_t level) const { return api_->log_enabled(level); }
    void log(omnichat_log_level_t level, std::string_view message) const {
        if (api_->log_enabled(level)) api_->log(level, toC(message));
    }
    int64_t nowUnixMs() const { return api_->now_unix_ms(); }

    // Starts an HTTP exchange on the host's client. Returns the handle for
    // cancelHttp (valid until onComplete has returned), or nullptr when the
    // host refused it (no handler then runs). UpstreamCall
    // (omnichat/upstream_call.hpp) uses it with cancellation made safe.
    omnichat_http_exchange_t* http(const HttpRequest& request, HttpHandlers handlers) const {
        std::vector<omnichat_http_header_t> headers;
        headers.reserve(request.headers.size());
        for (const auto& [k, v] : request.headers) headers.push_back({toC(k), toC(v)});
        omnichat_http_request_t r{};
        r.struct_size = sizeof r;
        r.method = toC(request.method);
        r.url = toC(request.url);
        r.headers = headers.data();
        r.header_count = headers.size();
        r.body = toC(request.body);
        r.connect_timeout_ms = request.connectTimeoutMs;
        r.total_timeout_ms = request.totalTimeoutMs;
        auto* context = new HttpHandlers(std::move(handlers));
        auto* exchange = api_->http_start(&r, &kCallbacks, context);
        if (!exchange) delete context;
        return exchange;
    }
    void cancelHttp(omnichat_http_exchange_t* exchange) const { api_->http_cancel(exchange); }

private:
    static void onHeaders(void* ud, int32_t status, const omnichat_http_header_t* headers, size_t count) {
        auto* h = static_cast<HttpHandlers*>(ud);
        if (!h->onHeaders) return;
        HttpResponseHead head;
        head.status = status;
        for (size_t i = 0; i < count; ++i)
            head.headers.emplace_back(std::string(view(headers[i].name)), std::string(view(headers[i].value)));
        try {
            h->onHeaders(head);
        } catch (...) {
        }
    }
    static bool onBody(void* ud, omnichat_str_t chunk) {
        auto* h = static_cast<HttpHandlers*>(ud);
        if (!h->onBody) return true;
        try {
            return h->onBody(view(chunk));
        } catch (...) {
            return false;
        }
    }
    static void onComplete(void* ud, const omnichat_http_outcome_t* outcome) {
        std::unique_ptr<HttpHandlers> h(static_cast<HttpHandlers*>(ud));
        try {
            h->onComplete(outcome->transport, outcome->status, outcome->message ? outcome->message : "");
        } catch (...) {
        }
    }
    static constexpr omnichat_http_callbacks_t kCallbacks{sizeof(omnichat_http_callbacks_t), &onHeaders, &onBody,
                                                          &onComplete};

    const omnichat_host_api_t* api_;
    const omnichat_config_t* config_;
};

}  // namespace omnichat
