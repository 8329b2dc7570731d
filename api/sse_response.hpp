#pragma once
#include <memory>
#include <mutex>
#include <string>

#include "chat/chat_service.hpp"
#include "chat/stream_sink.hpp"
#include "responder.hpp"
#include "runtime/timer.hpp"

namespace omnichat {

// What a stream's events say: omnichat's own (`event: delta` per piece of
// text, then `event: done` or `event: error`), or another API's. Each
// returns the text of whole events.
class SseEvents {
public:
    virtual ~SseEvents() = default;
    virtual std::string delta(std::string_view text) = 0;
    virtual std::string done(const domain::StoredMessage& reply) = 0;
    // `body`: the error's JSON body, as a response without a stream has it.
    virtual std::string error(const std::string& body) = 0;
};
std::unique_ptr<SseEvents> omnichatEvents();

// A reply streamed as Server-Sent Events, with heartbeat comments in long
// silences. Pistache 0.0.5's ResponseStream crashes when written from
// other threads, so the status line, headers and chunked framing are
// written by hand, through the Responder.
class SseResponse : public StreamSink, public std::enable_shared_from_this<SseResponse> {
public:
    SseResponse(ResponderPtr responder, Timer& timer, int64_t heartbeatMs,
                std::unique_ptr<SseEvents> events = omnichatEvents());
    ~SseResponse() override;

    void started(std::function<void()> abort) override;
    bool delta(std::string_view text) override;
    // The final event; a plain JSON response when the stream never started
    // (the request failed before the provider was called).
    void complete(const domain::Outcome<domain::StoredMessage>& outcome);

private:
    // false: the client is gone. The `last` write keeps the responder (and
    // the request open) until it has left.
    bool writeChunk(const std::string& payload, bool last = false);
    void heartbeat();

    ResponderPtr responder_;
    std::unique_ptr<SseEvents> events_;
    Timer& timer_;
    int64_t heartbeatMs_;
    std::mutex mutex_;
    bool open_ = false;
    bool closed_ = false;
    int64_t lastWriteMs_ = 0;
    std::function<void()> abort_;
    Timer::Id heartbeatTimer_ = 0;
};

}  // namespace omnichat
