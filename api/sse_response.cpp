#include "sse_response.hpp"

#include <omnichat/json_text.hpp>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/ids.hpp"
#include "json_mapping.hpp"

namespace omnichat {
namespace {

class OmnichatEvents : public SseEvents {
public:
    std::string delta(std::string_view text) override {
        // The host passes whole UTF-8 characters only (see callEmitDelta).
        std::string event = "event: delta\ndata: {\"content\":";
        event.reserve(event.size() + text.size() + 8);
        appendJsonString(event, text);
        return event += "}\n\n";
    }
    std::string done(const domain::StoredMessage& m) override {
        auto tokens = [](int64_t v) { return v < 0 ? nlohmann::json(nullptr) : nlohmann::json(v); };
        nlohmann::json done = {{"message_id", m.id},
                               {"response", m.content},
                               {"created_at", formatIsoMillis(m.createdAtMs)},
                               {"finish_reason", m.finishReason},
                               {"provider", m.provider},
                               {"model", m.model},
                               {"usage",
                                {{"prompt_tokens", tokens(m.usage.promptTokens)},
                                 {"completion_tokens", tokens(m.usage.completionTokens)}}}};
        return "event: done\ndata: " + done.dump() + "\n\n";
    }
    std::string error(const std::string& body) override { return "event: error\ndata: " + body + "\n\n"; }
};

}  // namespace

std::unique_ptr<SseEvents> omnichatEvents() { return std::make_unique<OmnichatEvents>(); }

SseResponse::SseResponse(ResponderPtr responder, Timer& timer, int64_t heartbeatMs, std::unique_ptr<SseEvents> events)
    : responder_(std::move(responder)), events_(std::move(events)), timer_(timer), heartbeatMs_(heartbeatMs) {}

SseResponse::~SseResponse() { timer_.cancel(heartbeatTimer_); }

void SseResponse::started(std::function<void()> abort) {
    std::lock_guard lock(mutex_);
    abort_ = std::move(abort);
    open_ = true;
    std::string head =
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: text/event-stream\r\n"
        "Cache-Control: no-cache\r\n"
        "X-Accel-Buffering: no\r\n"
        "Transfer-Encoding: chunked\r\n"
        "X-Request-Id: " +
        responder_->record().id + "\r\n";
    head += responder_->keepAlive() ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
    responder_->write(std::move(head), false);  // a client already gone: the next write finds out
    lastWriteMs_ = nowUnixMs();
    std::weak_ptr<SseResponse> weak = shared_from_this();
    heartbeatTimer_ = timer_.after(std::chrono::milliseconds(heartbeatMs_), [weak] {
        if (auto self = weak.lock()) self->heartbeat();
    });
}

bool SseResponse::writeChunk(const std::string& payload, bool last) {
    char size[24];
    int n = std::snprintf(size, sizeof size, "%zx\r\n", payload.size());
    std::string frame;
    frame.reserve(payload.size() + 32);
    frame.append(size, static_cast<size_t>(n)).append(payload).append("\r\n");
    if (!responder_->write(std::move(frame), last)) return false;
    lastWriteMs_ = nowUnixMs();
    return true;
}

bool SseResponse::delta(std::string_view text) {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    return writeChunk(events_->delta(text));
}

void SseResponse::heartbeat() {
    std::function<void()> abort;
    {
        std::lock_guard lock(mutex_);
        if (closed_) return;
        bool alive = nowUnixMs() - lastWriteMs_ < heartbeatMs_ || writeChunk(": keep-alive\n\n");
        if (alive) {
            std::weak_ptr<SseResponse> weak = shared_from_this();
            heartbeatTimer_ = timer_.after(std::chrono::milliseconds(heartbeatMs_), [weak] {
                if (auto self = weak.lock()) self->heartbeat();
            });
            return;
        }
        abort = abort_;  // the client left while the provider was silent
    }
    if (abort) abort();
}

void SseResponse::complete(const domain::Outcome<domain::StoredMessage>& outcome) {
    std::lock_guard lock(mutex_);
    if (!open_) {
        if (auto* f = std::get_if<domain::Failure>(&outcome)) return responder_->failure(*f);
        return;  // a reply is always streamed once started
    }
    if (closed_) return;
    closed_ = true;
    timer_.cancel(heartbeatTimer_);
    std::string event;
    if (auto* f = std::get_if<domain::Failure>(&outcome))
        event = events_->error(responder_->failureBody(*f));
    else
        event = events_->done(std::get<domain::StoredMessage>(outcome));
    bool delivered = writeChunk(event) && writeChunk("", true);  // "0\r\n\r\n" ends the chunked body
    // A stream's status is 200 once started; 499 records a client that left.
    responder_->finished(delivered ? 200 : 499);
}

}  // namespace omnichat
