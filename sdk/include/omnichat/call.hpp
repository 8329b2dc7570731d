// One chat call as a provider sees it: the request (ChatRequestView, or an
// owning ChatRequest) and the Call it answers through.
#pragma once

#include <omnichat/host.hpp>
#include <omnichat/records.hpp>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace omnichat {

struct ChatRequest;

// omnichat_chat_request_t read where the host put it: nothing is copied, so
// it is valid only until Provider::startChatInPlace returns (start_chat's
// OWNERSHIP). For providers that turn the request into bytes at once; a
// history is copied message by message otherwise.
class ChatRequestView {
public:
    explicit ChatRequestView(const omnichat_chat_request_t& raw) : raw_(raw) {}
    std::string_view model() const { return view(raw_.model); }
    size_t messageCount() const { return raw_.message_count; }
    omnichat_role_t role(size_t i) const { return raw_.messages[i]->role; }
    std::string_view content(size_t i) const { return view(raw_.messages[i]->content); }
    std::optional<double> temperature() const {
        return raw_.has_temperature ? std::optional<double>(raw_.temperature) : std::nullopt;
    }
    std::optional<int64_t> maxTokens() const {
        return raw_.has_max_tokens ? std::optional<int64_t>(raw_.max_tokens) : std::nullopt;
    }
    int64_t deadlineUnixMs() const { return raw_.deadline_unix_ms; }
    bool stream() const { return raw_.stream; }
    // 0: the plugin's own setting (and from hosts before 1.1).
    int64_t connectTimeoutMs() const { return OMNICHAT_HOLDS(raw_, connect_timeout_ms) ? raw_.connect_timeout_ms : 0; }
    // Since 1.7; nullopt or empty from older hosts, or when the client set none.
    std::optional<double> topP() const {
        return OMNICHAT_HOLDS(raw_, end_user) && raw_.has_top_p ? std::optional<double>(raw_.top_p) : std::nullopt;
    }
    size_t stopCount() const { return OMNICHAT_HOLDS(raw_, end_user) ? raw_.stop_count : 0; }
    std::string_view stop(size_t i) const { return view(raw_.stop[i]); }
    std::optional<int64_t> seed() const {
        return OMNICHAT_HOLDS(raw_, end_user) && raw_.has_seed ? std::optional<int64_t>(raw_.seed) : std::nullopt;
    }
    std::string_view responseFormat() const {
        return OMNICHAT_HOLDS(raw_, end_user) ? view(raw_.response_format) : std::string_view();
    }
    std::string_view endUser() const {
        return OMNICHAT_HOLDS(raw_, end_user) ? view(raw_.end_user) : std::string_view();
    }
    inline ChatRequest copy() const;

private:
    const omnichat_chat_request_t& raw_;
};

// An owning copy of omnichat_chat_request_t, safe to keep after start_chat.
struct ChatRequest {
    std::string model;
    std::vector<Message> messages;
    std::optional<double> temperature;
    std::optional<int64_t> maxTokens;
    int64_t deadlineUnixMs = 0;
    bool stream = false;
    int64_t connectTimeoutMs = 0;  // 0: the plugin's own setting
    // Since 1.7 (see ChatRequestView).
    std::optional<double> topP;
    std::vector<std::string> stop;
    std::optional<int64_t> seed;
    std::string responseFormat, endUser;

    static ChatRequest fromC(const omnichat_chat_request_t& r) { return ChatRequestView(r).copy(); }
};

inline ChatRequest ChatRequestView::copy() const {
    ChatRequest out;
    out.model = std::string(model());
    out.messages.reserve(messageCount());
    for (size_t i = 0; i < messageCount(); ++i) out.messages.push_back({role(i), std::string(content(i))});
    out.temperature = temperature();
    out.maxTokens = maxTokens();
    out.deadlineUnixMs = deadlineUnixMs();
    out.stream = stream();
    out.connectTimeoutMs = connectTimeoutMs();
    out.topP = topP();
    for (size_t i = 0; i < stopCount(); ++i) out.stop.emplace_back(stop(i));
    out.seed = seed();
    out.responseFormat = std::string(responseFormat());
    out.endUser = std::string(endUser());
    return out;
}

// One chat call. Completes exactly once; a Call destroyed without completing
// fails the call, so no code path can leave the host waiting forever.
class Call {
public:
    Call(const omnichat_host_api_t* api, omnichat_call_t* call) : api_(api), call_(call) {}
    Call(Call&& o) noexcept : api_(o.api_), call_(std::exchange(o.call_, nullptr)) {}
    Call& operator=(Call&&) = delete;
    Call(const Call&) = delete;
    ~Call() {
        if (call_) fail(OMNICHAT_ERR_INTERNAL, "provider dropped the call without completing it");
    }

    // Returns false once the call is cancelled: stop, then fail(CANCELLED).
    bool emit(std::string_view text) { return call_ && api_->call_emit_delta(call_, toC(text)); }
    bool cancelled() const { return !call_ || api_->call_is_cancelled(call_); }
    bool done() const { return call_ == nullptr; }
    omnichat_call_t* raw() const { return call_; }

    void complete(const ChatResult& r) {
        if (!call_) return;
        omnichat_chat_result_t c{};
        c.struct_size = sizeof c;
        c.finish_reason = toC(r.finishReason);
        c.model = toC(r.model);
        c.usage.struct_size = sizeof c.usage;
        c.usage.prompt_tokens = r.usage.promptTokens;
        c.usage.completion_tokens = r.usage.completionTokens;
        c.usage.cached_tokens = r.usage.cachedTokens;
        c.usage.reasoning_tokens = r.usage.reasoningTokens;
        c.usage.has_cost = r.usage.cost.has_value();
        c.usage.cost = r.usage.cost.value_or(0.0);
        api_->call_complete(std::exchange(call_, nullptr), &c, nullptr);
    }
    void fail(omnichat_status_t status, std::string_view message, int32_t httpStatus = 0, int64_t retryAfterMs = -1) {
        if (!call_) return;
        omnichat_error_t e = makeError(status, message, httpStatus, retryAfterMs);
        api_->call_complete(std::exchange(call_, nullptr), nullptr, &e);
    }

private:
    const omnichat_host_api_t* api_;
    omnichat_call_t* call_;
};

}  // namespace omnichat
