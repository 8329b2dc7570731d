// One provider call carried by one HTTP exchange with an upstream, safe by
// construction (header-only, C++17). A provider says what to send and how
// to read the answer (UpstreamReader); UpstreamCall closes every race a
// plugin would otherwise close with its own mutex and flags:
//  - a cancel (Provider::cancelChat) may come from any thread at any time:
//    before the exchange starts (it then never starts), while the answer
//    streams (the exchange is abandoned), after the call ended (nothing);
//  - the call completes exactly once; whatever arrives after is dropped;
//  - a transport failure, a status outside 2xx, an answer over kMaxBody and
//    an answer that ends before the reader completed the call each fail it
//    with their category (omnichat/upstream_errors.hpp), Retry-After read.
// THREADING: the reader's handlers run on the host's I/O thread, one at a
// time, and are the only ones to touch result() and head().
#pragma once

#include <omnichat/call.hpp>
#include <omnichat/sse.hpp>
#include <omnichat/upstream_errors.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace omnichat {

class UpstreamCall;

// How to read the upstream's answer. A handler completes or fails the call
// when it knows how the reply ended; until then the answer is read on.
struct UpstreamReader {
    // Each event of a 2xx answer of type text/event-stream.
    std::function<void(UpstreamCall&, const SseEvent&)> onEvent;
    // The whole body of a 2xx answer of any other type.
    std::function<void(UpstreamCall&, std::string_view body)> onBody;
    // Optional: a 2xx answer ended and the call is still open. Without it
    // (or when it leaves the call open) the call fails BAD_RESPONSE: an
    // answer that stops before the reply did is cut, not complete.
    std::function<void(UpstreamCall&)> onEnd;
    // Optional: the body of an answer outside 2xx, to read the provider's
    // own error type. Without it (or when it leaves the call open) the call
    // fails with categoryForHttpStatus, the HTTP status and Retry-After.
    std::function<void(UpstreamCall&, int32_t status, std::string_view body)> onError;
};

class UpstreamCall : public std::enable_shared_from_this<UpstreamCall> {
public:
    // The largest answer kept whole (onBody, onError); beyond it the call
    // fails BAD_RESPONSE. An event stream is not kept, so it has no limit.
    static constexpr size_t kMaxBody = 16 * 1024 * 1024;

    UpstreamCall(const Host& host, std::shared_ptr<Call> call, UpstreamReader reader)
        : host_(host), call_(std::move(call)), reader_(std::move(reader)) {}

    // Sends `request`; `ended` runs once when the call is over (the provider
    // forgets the call then). Provider::callUpstream calls it.
    void start(const HttpRequest& request, std::function<void()> ended) {
        ended_ = std::move(ended);
        std::unique_lock lock(mutex_);
        if (cancelled_ || call_->cancelled()) {
            lock.unlock();
            return finish([this] { call_->fail(OMNICHAT_ERR_CANCELLED, "cancelled before it started"); });
        }
        HttpHandlers handlers;
        auto self = shared_from_this();
        handlers.onHeaders = [self](const HttpResponseHead& head) { self->onHeaders(head); };
        handlers.onBody = [self](std::string_view chunk) { return self->onBody(chunk); };
        handlers.onComplete = [self](omnichat_http_transport_t transport, int32_t status, std::string_view message) {
            self->onComplete(transport, status, message);
        };
        exchange_ = host_.http(request, std::move(handlers));
        if (exchange_) return;
        lock.unlock();
        finish([this] { call_->fail(OMNICHAT_ERR_UNAVAILABLE, "the host refused the request"); });
    }

    // --- For the reader's handlers -------------------------------------
    // Passes reply text on. False once the call is over or cancelled: the
    // answer is then abandoned and the call fails CANCELLED by itself.
    bool emit(std::string_view text) {
        if (call_->done()) return false;
        if (call_->emit(text)) return true;
        stopped_ = true;
        return false;
    }
    // What the reply says of itself so far, for complete().
    ChatResult& result() { return result_; }
    void complete() { call_->complete(result_); }
    void fail(omnichat_status_t status, std::string_view message, int32_t httpStatus = 0, int64_t retryAfterMs = -1) {
        call_->fail(status, message, httpStatus, retryAfterMs);
    }
    bool done() const { return call_->done(); }
    const HttpResponseHead& head() const { return head_; }
    // The answer's Retry-After or retry-after-ms (see retryAfterMs), -1: none.
    int64_t retryAfter() const { return retryAfterMs(head_, host_.nowUnixMs()); }

    // --- For Provider::cancelChat, from any thread ----------------------
    void cancel() {
        std::lock_guard lock(mutex_);
        cancelled_ = true;
        if (exchange_) host_.cancelHttp(exchange_);
    }

private:
    void onHeaders(const HttpResponseHead& head) {
        head_ = head;
        const bool ok = head.status >= 200 && head.status < 300;
        if (ok && reader_.onEvent && head.header("content-type").value_or("").find("text/event-stream") == 0)
            sse_.emplace([this](const SseEvent& e) {
                if (!call_->done()) reader_.onEvent(*this, e);
            });
    }

    // A call the reader completed still reads its answer to the end, so the
    // connection can carry the next call; a cancelled one stops.
    bool onBody(std::string_view chunk) {
        if (stopped_) return false;
        if (sse_) {
            sse_->feed(chunk);
            return !stopped_;
        }
        if (body_.size() + chunk.size() > kMaxBody) {
            tooLarge_ = true;
            return false;
        }
        body_.append(chunk);
        return true;
    }

    void onComplete(omnichat_http_transport_t transport, int32_t status, std::string_view message) {
        {
            std::lock_guard lock(mutex_);
            exchange_ = nullptr;
        }
        if (!call_->done()) read(transport, status, message);
        finish([] {});
    }

    void read(omnichat_http_transport_t transport, int32_t status, std::string_view message) {
        switch (transport) {
            case OMNICHAT_HTTP_OK: break;
            case OMNICHAT_HTTP_TIMEOUT: return fail(OMNICHAT_ERR_TIMEOUT, "the upstream did not answer in time");
            case OMNICHAT_HTTP_CONNECT_TIMEOUT:
                return fail(OMNICHAT_ERR_CONNECT_TIMEOUT, "no connection to the upstream in time");
            case OMNICHAT_HTTP_CANCELLED:
                if (tooLarge_) return fail(OMNICHAT_ERR_BAD_RESPONSE, "the upstream's answer is too large");
                return fail(OMNICHAT_ERR_CANCELLED, "cancelled");
            default: return fail(OMNICHAT_ERR_UNAVAILABLE, "upstream connection failed: " + std::string(message));
        }
        if (status < 200 || status > 299) {
            if (reader_.onError) reader_.onError(*this, status, body_);
            if (!done())
                fail(categoryForHttpStatus(status), "the upstream answered HTTP " + std::to_string(status), status,
                     retryAfter());
            return;
        }
        if (!sse_ && reader_.onBody) reader_.onBody(*this, body_);
        if (!done() && !stopped_ && reader_.onEnd) reader_.onEnd(*this);
        if (done()) return;
        if (stopped_) return fail(OMNICHAT_ERR_CANCELLED, "cancelled");
        fail(OMNICHAT_ERR_BAD_RESPONSE, "the answer ended before the reply did");
    }

    // Once: `last`, then the provider forgets the call.
    template <class F>
    void finish(F last) {
        {
            std::lock_guard lock(mutex_);
            if (finished_) return;
            finished_ = true;
        }
        last();
        if (ended_) ended_();
    }

    Host host_;
    std::shared_ptr<Call> call_;
    UpstreamReader reader_;
    std::function<void()> ended_;
    std::mutex mutex_;  // exchange_, cancelled_, finished_
    omnichat_http_exchange_t* exchange_ = nullptr;
    bool cancelled_ = false;
    bool finished_ = false;
    // The I/O thread's, after start().
    HttpResponseHead head_;
    std::optional<SseParser> sse_;
    std::string body_;
    ChatResult result_;
    bool tooLarge_ = false;
    bool stopped_ = false;
};

}  // namespace omnichat
