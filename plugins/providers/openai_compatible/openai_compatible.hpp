// The chat-completions protocol shared by OpenAI, OpenRouter and every
// OpenAI-compatible server (vLLM, llama.cpp, Ollama). Header-only and built
// into each provider plugin; the plugins differ only in defaults and extra
// headers.
#pragma once

#include <omnichat/plugin.hpp>

#include <algorithm>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>

namespace openai_compatible {

struct Settings {
    std::string apiKey;
    std::string baseUrl;
    std::string model;
    int64_t connectTimeoutMs = 10000;
    int64_t timeoutMs = 120000;
    std::vector<std::pair<std::string, std::string>> extraHeaders;
};

constexpr size_t kMaxResponseBytes = 16 * 1024 * 1024;

// Retry-After in seconds or as an HTTP date, and OpenAI's retry-after-ms.
inline int64_t retryAfterMs(const omnichat::HttpResponseHead& head, int64_t nowUnixMs) {
    if (auto ms = head.header("retry-after-ms")) {
        try {
            return static_cast<int64_t>(std::stod(*ms));
        } catch (...) {
        }
    }
    auto value = head.header("retry-after");
    if (!value) return -1;
    try {
        size_t used = 0;
        double seconds = std::stod(*value, &used);
        if (used == value->size()) return static_cast<int64_t>(seconds * 1000);
    } catch (...) {
    }
    std::tm tm{};
    if (strptime(value->c_str(), "%a, %d %b %Y %H:%M:%S", &tm))
        return std::max<int64_t>(0, timegm(&tm) * 1000LL - nowUnixMs);
    return -1;
}

inline omnichat_status_t statusForHttp(int32_t status) {
    if (status == 401 || status == 403) return OMNICHAT_ERR_AUTH;
    if (status == 429) return OMNICHAT_ERR_RATE_LIMITED;
    if (status == 408) return OMNICHAT_ERR_TIMEOUT;
    if (status == 400 || status == 404 || status == 413 || status == 422) return OMNICHAT_ERR_BAD_REQUEST;
    return OMNICHAT_ERR_UPSTREAM;
}

inline const char* roleName(omnichat_role_t role) {
    switch (role) {
        case OMNICHAT_ROLE_SYSTEM: return "system";
        case OMNICHAT_ROLE_ASSISTANT: return "assistant";
        default: return "user";
    }
}

inline std::string requestBody(const omnichat::ChatRequest& request, const std::string& model) {
    nlohmann::json messages = nlohmann::json::array();
    for (const auto& m : request.messages) messages.push_back({{"role", roleName(m.role)}, {"content", m.content}});
    nlohmann::json body = {{"model", model}, {"messages", std::move(messages)}};
    if (request.temperature) body["temperature"] = *request.temperature;
    if (request.maxTokens) body["max_tokens"] = *request.maxTokens;
    return body.dump();
}

inline int64_t tokens(const nlohmann::json& object, const char* key) {
    auto it = object.find(key);
    return it != object.end() && it->is_number_integer() ? it->get<int64_t>() : -1;
}

// Completes `call` from a whole (non-streamed) chat-completions response.
inline void completeFromBody(omnichat::Call& call, const std::string& body, const std::string& requestedModel) {
    auto json = nlohmann::json::parse(body, nullptr, false);
    if (json.is_discarded() || !json.is_object())
        return call.fail(OMNICHAT_ERR_BAD_RESPONSE, "response is not a JSON object");
    if (auto err = json.find("error"); err != json.end() && !err->is_null())
        return call.fail(OMNICHAT_ERR_UPSTREAM, "provider returned an error object");
    auto choices = json.find("choices");
    if (choices == json.end() || !choices->is_array() || choices->empty() || !(*choices)[0].is_object())
        return call.fail(OMNICHAT_ERR_BAD_RESPONSE, "response has no choices");
    const auto& choice = (*choices)[0];
    std::string finish = choice.value("finish_reason", nlohmann::json()).is_string()
                             ? choice["finish_reason"].get<std::string>()
                             : std::string();
    auto message = choice.find("message");
    if (message == choice.end() || !message->is_object())
        return call.fail(OMNICHAT_ERR_BAD_RESPONSE, "choice has no message");
    auto content = message->find("content");
    if (content == message->end() || !content->is_string()) {
        if (finish == "content_filter") return call.fail(OMNICHAT_ERR_CONTENT_FILTERED, "content filtered");
        return call.fail(OMNICHAT_ERR_BAD_RESPONSE, "message has no text content");
    }
    if (!call.emit(content->get<std::string>())) return call.fail(OMNICHAT_ERR_CANCELLED, "cancelled");

    omnichat::ChatResult result;
    result.finishReason = finish.empty() ? "stop" : finish;
    result.model =
        json.value("model", nlohmann::json()).is_string() ? json["model"].get<std::string>() : requestedModel;
    if (auto usage = json.find("usage"); usage != json.end() && usage->is_object()) {
        result.usage.promptTokens = tokens(*usage, "prompt_tokens");
        result.usage.completionTokens = tokens(*usage, "completion_tokens");
        if (auto d = usage->find("prompt_tokens_details"); d != usage->end() && d->is_object())
            result.usage.cachedTokens = tokens(*d, "cached_tokens");
        if (auto d = usage->find("completion_tokens_details"); d != usage->end() && d->is_object())
            result.usage.reasoningTokens = tokens(*d, "reasoning_tokens");
        if (auto cost = usage->find("cost"); cost != usage->end() && cost->is_number())
            result.usage.cost = cost->get<double>();
    }
    call.complete(result);
}

// A provider speaking chat completions through the host's HTTP client.
class Provider : public omnichat::Provider {
public:
    Provider(const omnichat::Host& host, Settings settings) : omnichat::Provider(host), settings_(std::move(settings)) {
        while (!settings_.baseUrl.empty() && settings_.baseUrl.back() == '/') settings_.baseUrl.pop_back();
    }

    void startChat(omnichat::ChatRequest request, std::shared_ptr<omnichat::Call> call) override {
        std::string model = request.model.empty() ? settings_.model : request.model;
        omnichat::HttpRequest http;
        http.url = settings_.baseUrl + "/chat/completions";
        http.headers = {{"Authorization", "Bearer " + settings_.apiKey}, {"Content-Type", "application/json"}};
        http.headers.insert(http.headers.end(), settings_.extraHeaders.begin(), settings_.extraHeaders.end());
        http.body = requestBody(request, model);
        http.connectTimeoutMs = settings_.connectTimeoutMs;
        http.totalTimeoutMs = settings_.timeoutMs;
        if (request.deadlineUnixMs > 0)
            http.totalTimeoutMs =
                std::clamp<int64_t>(request.deadlineUnixMs - host().nowUnixMs(), 1, settings_.timeoutMs);

        struct State {
            omnichat::HttpResponseHead head;
            std::string body;
            bool tooLarge = false;
        };
        auto state = std::make_shared<State>();
        const omnichat::Host& h = host();
        omnichat::HttpHandlers handlers;
        handlers.onHeaders = [state](const omnichat::HttpResponseHead& head) { state->head = head; };
        handlers.onBody = [state](std::string_view chunk) {
            if (state->body.size() + chunk.size() > kMaxResponseBytes) return !(state->tooLarge = true);
            state->body.append(chunk);
            return true;
        };
        handlers.onComplete = [state, call, model, &h](omnichat_http_transport_t transport, int32_t status,
                                                       std::string_view message) {
            switch (transport) {
                case OMNICHAT_HTTP_OK: break;
                case OMNICHAT_HTTP_TIMEOUT: return call->fail(OMNICHAT_ERR_TIMEOUT, "upstream timed out");
                case OMNICHAT_HTTP_CANCELLED:
                    if (state->tooLarge) return call->fail(OMNICHAT_ERR_BAD_RESPONSE, "response too large");
                    return call->fail(OMNICHAT_ERR_CANCELLED, "cancelled");
                default:
                    return call->fail(OMNICHAT_ERR_UNAVAILABLE,
                                      std::string("upstream unreachable: ") + std::string(message));
            }
            if (status < 200 || status > 299) {
                int64_t retry = retryAfterMs(state->head, h.nowUnixMs());
                return call->fail(statusForHttp(status), "upstream answered HTTP " + std::to_string(status), status,
                                  retry);
            }
            completeFromBody(*call, state->body, model);
        };
        if (!host().http(http, std::move(handlers))) call->fail(OMNICHAT_ERR_UNAVAILABLE, "host refused the request");
    }

private:
    Settings settings_;
};

// Options both plugins declare, with their own defaults.
#define OPENAI_COMPATIBLE_OPTIONS(defaultBaseUrl, defaultModel, keyVariable)                                \
    omnichat::option("api_key", OMNICHAT_OPTION_SECRET, nullptr, true, "API key (or " keyVariable ")."),    \
        omnichat::option("base_url", OMNICHAT_OPTION_STRING, defaultBaseUrl, false,                         \
                         "Base URL of an OpenAI-compatible API."),                                          \
        omnichat::option("model", OMNICHAT_OPTION_STRING, defaultModel, false,                              \
                         "Model used when the chat configuration names none."),                             \
        omnichat::option("connect_timeout_ms", OMNICHAT_OPTION_INT, "10000", false, "Connection timeout."), \
        omnichat::option("timeout_ms", OMNICHAT_OPTION_INT, "120000", false, "Timeout of a whole request.")

inline Settings commonSettings(const omnichat::Host& host) {
    Settings s;
    s.apiKey = host.option("api_key", "");
    s.baseUrl = host.option("base_url", "");
    s.model = host.option("model", "");
    s.connectTimeoutMs = host.intOption("connect_timeout_ms", 10000);
    s.timeoutMs = host.intOption("timeout_ms", 120000);
    return s;
}

}  // namespace openai_compatible
