// The chat-completions protocol shared by OpenAI, OpenRouter and every
// OpenAI-compatible server (vLLM, llama.cpp, Ollama). Header-only and built
// into each provider plugin; the plugins differ only in defaults and extra
// headers.
#pragma once

#include <omnichat/json_reader.hpp>
#include <omnichat/json_text.hpp>
#include <omnichat/plugin.hpp>

#include "completion_chunk.hpp"

#include <algorithm>
#include <functional>
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
    if (auto temperature = request.temperature()) {
        out += ",\"temperature\":";
        omnichat::appendJsonNumber(out, *temperature);
    }
    if (auto maxTokens = request.maxTokens()) out += ",\"max_tokens\":" + std::to_string(*maxTokens);
    if (auto topP = request.topP()) {
        out += ",\"top_p\":";
        omnichat::appendJsonNumber(out, *topP);
    }
    for (size_t i = 0; i < request.stopCount(); ++i) {
        out += i ? "," : ",\"stop\":[";
        omnichat::appendJsonString(out, request.stop(i));
        if (i + 1 == request.stopCount()) out += ']';
    }
    if (auto seed = request.seed()) out += ",\"seed\":" + std::to_string(*seed);
    // JSON text the host checked: it goes as it came.
    if (!request.responseFormat().empty()) out.append(",\"response_format\":").append(request.responseFormat());
    if (!request.endUser().empty()) {
        out += ",\"user\":";
        omnichat::appendJsonString(out, request.endUser());
    }
    out += '}';
    return out;
}

inline void readUsage(const omnichat::JsonValue& usage, omnichat::Usage& out) {
    if (!usage.isObject()) return;
    out.promptTokens = usage["prompt_tokens"].integer().value_or(-1);
    out.completionTokens = usage["completion_tokens"].integer().value_or(-1);
    if (const auto& d = usage["prompt_tokens_details"]; d.isObject())
        out.cachedTokens = d["cached_tokens"].integer().value_or(-1);
    if (const auto& d = usage["completion_tokens_details"]; d.isObject())
        out.reasoningTokens = d["reasoning_tokens"].integer().value_or(-1);
    out.cost = usage["cost"].number();
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
    out.status = code ? omnichat::categoryForHttpStatus(code) : OMNICHAT_ERR_UPSTREAM;
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
    // Reads one event, passing its text to `onDelta` (bool(string_view):
    // false when the call was cancelled). Returns false once the stream
    // must stop: an error arrived or a delta was refused.
    template <class OnDelta>
    bool event(const omnichat::SseEvent& e, OnDelta&& onDelta) {
        if (!stopped_) read(e, onDelta);
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

    template <class OnDelta>
    void read(const omnichat::SseEvent& e, OnDelta& onDelta) {
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
        if (!chunk_.content.empty() && !onDelta(std::string_view(chunk_.content))) {
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

    CompletionChunk chunk_;  // reused, so that its strings keep their capacity
    omnichat::ChatResult result_;
    std::string finishReason_;
    std::optional<Outcome> failure_;
    bool sawDone_ = false;
    bool stopped_ = false;
};

// A whole (non-streamed) chat-completions response, for servers that ignore
// "stream": true. The text goes through `onDelta` as one piece.
inline Outcome parseCompletion(std::string_view body, const std::function<bool(std::string_view)>& onDelta) {
    Outcome out;
    auto fail = [&](omnichat_status_t status, const char* message) {
        out.status = status;
        out.message = message;
        return out;
    };
    auto json = omnichat::JsonValue::parse(body);
    if (!json || !json->isObject()) return fail(OMNICHAT_ERR_BAD_RESPONSE, "response is not a JSON object");
    if (const auto& error = (*json)["error"]; !error.isNull())
        return errorObject(static_cast<int32_t>(error["code"].integer().value_or(0)));
    const auto& choice = (*json)["choices"][0];
    if (!choice.isObject()) return fail(OMNICHAT_ERR_BAD_RESPONSE, "response has no choices");
    const auto finish = choice["finish_reason"].text();
    const auto& message = choice["message"];
    if (!message.isObject()) return fail(OMNICHAT_ERR_BAD_RESPONSE, "choice has no message");
    if (!message["content"].isString()) {
        if (finish == "content_filter") return fail(OMNICHAT_ERR_CONTENT_FILTERED, "content filtered");
        return fail(OMNICHAT_ERR_BAD_RESPONSE, "message has no text content");
    }
    if (!onDelta(message["content"].text())) return fail(OMNICHAT_ERR_CANCELLED, "cancelled");
    out.result.finishReason = finish.empty() ? "stop" : std::string(finish);
    out.result.model = std::string((*json)["model"].text());
    readUsage((*json)["usage"], out.result.usage);
    return out;
}

// Ends `call` with `outcome`.
inline void report(omnichat::UpstreamCall& call, Outcome outcome) {
    if (outcome.status != OMNICHAT_OK) return call.fail(outcome.status, outcome.message, outcome.httpStatus);
    call.result() = std::move(outcome.result);
    call.complete();
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

        // The reader's handlers run one at a time on the host's I/O thread.
        auto stream = std::make_shared<CompletionStream>();
        omnichat::UpstreamReader reader;
        reader.onEvent = [stream](omnichat::UpstreamCall& c, const omnichat::SseEvent& e) {
            // An error or a cancellation found mid-stream ends the call at once.
            if (!stream->event(e, [&c](std::string_view text) { return c.emit(text); })) report(c, stream->finish());
        };
        reader.onEnd = [stream](omnichat::UpstreamCall& c) { report(c, stream->finish()); };
        reader.onBody = [](omnichat::UpstreamCall& c, std::string_view body) {
            report(c, parseCompletion(body, [&c](std::string_view text) { return c.emit(text); }));
        };
        callUpstream(std::move(call), http, std::move(reader));
    }

private:
    Settings settings_;
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
