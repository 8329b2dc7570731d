// The chat-completions protocol shared by OpenAI, OpenRouter and every
// OpenAI-compatible server (vLLM, llama.cpp, Ollama). Header-only and built
// into each provider plugin; the plugins differ only in defaults and extra
// headers.
#pragma once

#include <omnichat/json_text.hpp>
#include <omnichat/plugin.hpp>
#include <omnichat/sse.hpp>

#include "completion_chunk.hpp"

#include <algorithm>
#include <ctime>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
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

// A header's number of milliseconds, or -1 unless it is one. Capped at a
// year: whatever a server sends, the cast must stay defined (and the core
// caps the wait far lower anyway).
inline int64_t headerMs(const std::string& text, double unitMs) {
    try {
        size_t used = 0;
        double ms = std::stod(text, &used) * unitMs;
        if (used != text.size() || !(ms >= 0)) return -1;
        return static_cast<int64_t>(std::min(ms, 365.0 * 24 * 3600 * 1000));
    } catch (...) {
        return -1;
    }
}

// Retry-After in seconds or as an HTTP date, and OpenAI's retry-after-ms.
inline int64_t retryAfterMs(const omnichat::HttpResponseHead& head, int64_t nowUnixMs) {
    if (auto text = head.header("retry-after-ms"))
        if (auto ms = headerMs(*text, 1); ms >= 0) return ms;
    auto value = head.header("retry-after");
    if (!value) return -1;
    if (auto ms = headerMs(*value, 1000); ms >= 0) return ms;
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

// Written as text: the history goes upstream on every turn, and a JSON DOM
// of it was the largest cost of a send in the profile.
inline std::string requestBody(const omnichat::ChatRequestView& request, std::string_view model) {
    size_t size = 128 + model.size();
    for (size_t i = 0; i < request.messageCount(); ++i) size += 40 + request.content(i).size() * 9 / 8;
    std::string out;
    out.reserve(size);
    out += "{\"model\":";
    omnichat::appendJsonString(out, model);
    out += ",\"messages\":[";
    for (size_t i = 0; i < request.messageCount(); ++i) {
        out += i ? ",{\"role\":\"" : "{\"role\":\"";
        out += roleName(request.role(i));
        out += "\",\"content\":";
        omnichat::appendJsonString(out, request.content(i));
        out += '}';
    }
    out += "],\"stream\":true,\"stream_options\":{\"include_usage\":true}";
    if (auto temperature = request.temperature()) out += ",\"temperature\":" + nlohmann::json(*temperature).dump();
    if (auto maxTokens = request.maxTokens()) out += ",\"max_tokens\":" + std::to_string(*maxTokens);
    out += '}';
    return out;
}

inline int64_t tokens(const nlohmann::json& object, const char* key) {
    auto it = object.find(key);
    return it != object.end() && it->is_number_integer() ? it->get<int64_t>() : -1;
}

inline void readUsage(const nlohmann::json& usage, omnichat::Usage& out) {
    if (!usage.is_object()) return;
    out.promptTokens = tokens(usage, "prompt_tokens");
    out.completionTokens = tokens(usage, "completion_tokens");
    if (auto d = usage.find("prompt_tokens_details"); d != usage.end() && d->is_object())
        out.cachedTokens = tokens(*d, "cached_tokens");
    if (auto d = usage.find("completion_tokens_details"); d != usage.end() && d->is_object())
        out.reasoningTokens = tokens(*d, "reasoning_tokens");
    if (auto cost = usage.find("cost"); cost != usage.end() && cost->is_number()) out.cost = cost->get<double>();
}

inline std::string stringField(const nlohmann::json& object, const char* key) {
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// How a response ended, before it is reported to the host.
struct Outcome {
    omnichat_status_t status = OMNICHAT_OK;
    std::string message;     // for logs
    int32_t httpStatus = 0;  // the error's code, when it gave one
    omnichat::ChatResult result;
};

// An error object in a 200 response (OpenRouter sends these mid-stream),
// by its code: an HTTP status, or 0 when it gave none.
inline Outcome errorObject(int32_t code) {
    Outcome out;
    out.status = code ? statusForHttp(code) : OMNICHAT_ERR_UPSTREAM;
    out.httpStatus = code;
    out.message = "provider reported an error" + (code ? " (code " + std::to_string(code) + ")" : std::string());
    return out;
}

// Turns a chat-completions event stream into text deltas and an outcome:
// OpenAI's chunks and its usage chunk (empty choices), OpenRouter's comment
// keep-alives, its usage chunk repeating finish_reason and its error events.
// A stream that ends before a finish reason is a failure, not a reply.
class CompletionStream {
public:
    explicit CompletionStream(std::function<bool(std::string_view)> onDelta)
        : onDelta_(std::move(onDelta)), parser_([this](const omnichat::SseEvent& e) { onEvent(e); }) {}

    // Returns false once the stream must stop: an error arrived or the
    // delta was refused (the call was cancelled).
    bool feed(std::string_view bytes) {
        if (stopped_) return false;
        parser_.feed(bytes);
        return !stopped_;
    }

    Outcome finish() {
        if (failure_) return *failure_;
        Outcome out;
        if (finishReason_.empty()) {
            out.status = OMNICHAT_ERR_BAD_RESPONSE;
            out.message = sawDone_ ? "stream ended without a finish reason" : "stream cut before it finished";
            return out;
        }
        result_.finishReason = finishReason_;
        out.result = result_;
        return out;
    }

private:
    void fail(Outcome o) {
        if (!failure_) failure_ = std::move(o);
        stopped_ = true;
    }

    void onEvent(const omnichat::SseEvent& e) {
        if (stopped_) return;
        if (e.data == "[DONE]") {
            sawDone_ = true;
            return;
        }
        if (!readCompletionChunk(e.data, chunk_)) {
            Outcome o;
            o.status = OMNICHAT_ERR_BAD_RESPONSE;
            o.message = "stream chunk is not a JSON object";
            return fail(std::move(o));
        }
        if (chunk_.error) return fail(errorObject(chunk_.errorCode));
        if (!chunk_.model.empty()) result_.model = chunk_.model;
        if (chunk_.usage) {
            auto& usage = result_.usage;
            usage.promptTokens = chunk_.promptTokens;
            usage.completionTokens = chunk_.completionTokens;
            if (chunk_.cachedTokens) usage.cachedTokens = *chunk_.cachedTokens;
            if (chunk_.reasoningTokens) usage.reasoningTokens = *chunk_.reasoningTokens;
            if (chunk_.cost) usage.cost = chunk_.cost;
        }
        if (!chunk_.content.empty() && !onDelta_(chunk_.content)) {
            Outcome o;
            o.status = OMNICHAT_ERR_CANCELLED;
            o.message = "cancelled";
            return fail(std::move(o));
        }
        // The first finish reason counts; OpenRouter repeats it with usage.
        if (const auto& reason = chunk_.finishReason; !reason.empty() && finishReason_.empty()) {
            if (reason == "error") {
                Outcome o;
                o.status = OMNICHAT_ERR_UPSTREAM;
                o.message = "provider ended the stream with an error";
                return fail(std::move(o));
            }
            finishReason_ = reason;
        }
    }

    std::function<bool(std::string_view)> onDelta_;
    omnichat::SseParser parser_;
    CompletionChunk chunk_;  // reused, so that its strings keep their capacity
    omnichat::ChatResult result_;
    std::string finishReason_;
    std::optional<Outcome> failure_;
    bool sawDone_ = false;
    bool stopped_ = false;
};

// A whole (non-streamed) chat-completions response, for servers that ignore
// "stream": true. The text goes through `onDelta` as one piece.
inline Outcome parseCompletion(const std::string& body, const std::function<bool(std::string_view)>& onDelta) {
    Outcome out;
    auto fail = [&](omnichat_status_t status, const char* message) {
        out.status = status;
        out.message = message;
        return out;
    };
    auto json = nlohmann::json::parse(body, nullptr, false);
    if (json.is_discarded() || !json.is_object())
        return fail(OMNICHAT_ERR_BAD_RESPONSE, "response is not a JSON object");
    if (auto err = json.find("error"); err != json.end() && !err->is_null()) {
        auto code = err->is_object() ? err->find("code") : err->end();
        return errorObject(code != err->end() && code->is_number_integer() ? code->get<int32_t>() : 0);
    }
    auto choices = json.find("choices");
    if (choices == json.end() || !choices->is_array() || choices->empty() || !(*choices)[0].is_object())
        return fail(OMNICHAT_ERR_BAD_RESPONSE, "response has no choices");
    const auto& choice = (*choices)[0];
    std::string finish = stringField(choice, "finish_reason");
    auto message = choice.find("message");
    if (message == choice.end() || !message->is_object())
        return fail(OMNICHAT_ERR_BAD_RESPONSE, "choice has no message");
    auto content = message->find("content");
    if (content == message->end() || !content->is_string()) {
        if (finish == "content_filter") return fail(OMNICHAT_ERR_CONTENT_FILTERED, "content filtered");
        return fail(OMNICHAT_ERR_BAD_RESPONSE, "message has no text content");
    }
    if (!onDelta(content->get<std::string>())) return fail(OMNICHAT_ERR_CANCELLED, "cancelled");
    out.result.finishReason = finish.empty() ? "stop" : finish;
    out.result.model = stringField(json, "model");
    if (auto usage = json.find("usage"); usage != json.end()) readUsage(*usage, out.result.usage);
    return out;
}

// A provider speaking chat completions through the host's HTTP client.
class Provider : public omnichat::Provider {
public:
    Provider(const omnichat::Host& host, Settings settings) : omnichat::Provider(host), settings_(std::move(settings)) {
        while (!settings_.baseUrl.empty() && settings_.baseUrl.back() == '/') settings_.baseUrl.pop_back();
    }

    // In place: the request body is the only copy of the history it needs.
    void startChatInPlace(const omnichat::ChatRequestView& request, std::shared_ptr<omnichat::Call> call) override {
        std::string model = request.model().empty() ? settings_.model : std::string(request.model());
        omnichat::HttpRequest http;
        http.url = settings_.baseUrl + "/chat/completions";
        http.headers = {{"Authorization", "Bearer " + settings_.apiKey},
                        {"Content-Type", "application/json"},
                        {"Accept", "text/event-stream"}};
        http.headers.insert(http.headers.end(), settings_.extraHeaders.begin(), settings_.extraHeaders.end());
        http.body = requestBody(request, model);
        http.connectTimeoutMs =
            request.connectTimeoutMs() > 0 ? request.connectTimeoutMs() : settings_.connectTimeoutMs;
        http.totalTimeoutMs = settings_.timeoutMs;
        if (request.deadlineUnixMs() > 0)
            http.totalTimeoutMs =
                std::clamp<int64_t>(request.deadlineUnixMs() - host().nowUnixMs(), 1, settings_.timeoutMs);

        // Lives on the host's I/O thread: every handler runs there, in turn.
        struct Exchange {
            omnichat::HttpResponseHead head;
            bool streaming = false;
            std::string body;  // error bodies and non-streamed replies
            bool tooLarge = false;
            std::optional<CompletionStream> stream;
        };
        auto ex = std::make_shared<Exchange>();
        auto emit = [call](std::string_view text) { return call->emit(text); };
        const omnichat::Host& h = host();
        omnichat::HttpHandlers handlers;
        handlers.onHeaders = [ex, emit](const omnichat::HttpResponseHead& head) {
            ex->head = head;
            auto type = head.header("content-type").value_or("");
            ex->streaming = head.status >= 200 && head.status < 300 && type.find("text/event-stream") == 0;
            if (ex->streaming) ex->stream.emplace(emit);
        };
        handlers.onBody = [ex](std::string_view chunk) {
            if (ex->streaming) return ex->stream->feed(chunk);
            if (ex->body.size() + chunk.size() > kMaxResponseBytes) return !(ex->tooLarge = true);
            ex->body.append(chunk);
            return true;
        };
        handlers.onComplete = [this, ex, call, model, emit, &h](omnichat_http_transport_t transport, int32_t status,
                                                                std::string_view message) {
            forget(call->raw());
            std::optional<Outcome> streamed;
            if (ex->streaming) {
                // An error or a cancellation found mid-stream ends it first.
                streamed = ex->stream->finish();
                if (streamed->status != OMNICHAT_OK && streamed->status != OMNICHAT_ERR_BAD_RESPONSE)
                    return call->fail(streamed->status, streamed->message, streamed->httpStatus);
            }
            switch (transport) {
                case OMNICHAT_HTTP_OK: break;
                case OMNICHAT_HTTP_TIMEOUT: return call->fail(OMNICHAT_ERR_TIMEOUT, "upstream timed out");
                case OMNICHAT_HTTP_CONNECT_TIMEOUT:
                    return call->fail(OMNICHAT_ERR_CONNECT_TIMEOUT, "upstream connection timed out");
                case OMNICHAT_HTTP_CANCELLED:
                    if (ex->tooLarge) return call->fail(OMNICHAT_ERR_BAD_RESPONSE, "response too large");
                    return call->fail(OMNICHAT_ERR_CANCELLED, "cancelled");
                default:
                    return call->fail(OMNICHAT_ERR_UNAVAILABLE, "upstream connection failed: " + std::string(message));
            }
            if (status < 200 || status > 299) {
                int64_t retry = retryAfterMs(ex->head, h.nowUnixMs());
                return call->fail(statusForHttp(status), "upstream answered HTTP " + std::to_string(status), status,
                                  retry);
            }
            auto outcome = streamed ? std::move(*streamed) : parseCompletion(ex->body, emit);
            if (outcome.status != OMNICHAT_OK) return call->fail(outcome.status, outcome.message, outcome.httpStatus);
            if (outcome.result.model.empty()) outcome.result.model = model;
            call->complete(outcome.result);
        };
        // Registered before the exchange can complete, so forget() in
        // onComplete always finds what it removes.
        std::lock_guard lock(mutex_);
        auto* exchange = host().http(http, std::move(handlers));
        if (!exchange) return call->fail(OMNICHAT_ERR_UNAVAILABLE, "host refused the request");
        if (!call->done()) running_[call->raw()] = exchange;
    }

    void cancelChat(omnichat_call_t* raw) override {
        std::lock_guard lock(mutex_);
        if (auto it = running_.find(raw); it != running_.end()) host().cancelHttp(it->second);
    }

private:
    void forget(omnichat_call_t* raw) {
        std::lock_guard lock(mutex_);
        running_.erase(raw);
    }

    Settings settings_;
    // Upstream exchange of each running call, for cancelChat. An entry
    // leaves before its exchange's handle stops being valid.
    std::mutex mutex_;
    std::map<omnichat_call_t*, omnichat_http_exchange_t*> running_;
};

// Options both plugins declare, with their own defaults and environment
// variables (PREFIX_API_KEY, PREFIX_BASE_URL).
#define OPENAI_COMPATIBLE_OPTIONS(defaultBaseUrl, defaultModel, variablePrefix)                                \
    omnichat::option("api_key", OMNICHAT_OPTION_SECRET, nullptr, true, "API key.", variablePrefix "_API_KEY"), \
        omnichat::option("base_url", OMNICHAT_OPTION_STRING, defaultBaseUrl, false,                            \
                         "Base URL of an OpenAI-compatible API.", variablePrefix "_BASE_URL"),                 \
        omnichat::option("model", OMNICHAT_OPTION_STRING, defaultModel, false,                                 \
                         "Model used when the chat configuration names none."),                                \
        omnichat::option("connect_timeout_ms", OMNICHAT_OPTION_INT, "10000", false, "Connection timeout."),    \
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
