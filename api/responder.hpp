#pragma once
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace omnichat {

class Connection;
class Metrics;
namespace domain {
struct Failure;
}

// An error as the client sees it.
struct ApiError {
    int status;
    std::string code;
    std::string message;
    int retryAfterSeconds = -1;
};
// OpenAI's error `type` for an HTTP status (invalid_request_error, ...).
const char* errorType(int status);
// The HTTP status and code of a domain failure.
ApiError apiError(const domain::Failure& f);

// What the access log and the metrics say about one request.
struct RequestRecord {
    std::string id;      // X-Request-Id: the client's, or one we made
    std::string method;  // GET, POST, ...
    std::string route;   // the route's pattern, "-" when none matched
    std::string user;    // the token's subject, "-" before authentication
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

// Sends one response, from any thread, exactly once, on the connection the
// request came in on, so the reactor is free while work runs.
// When the response is complete it writes the access log line and the
// request metrics; while it exists the request counts as open (a draining
// server waits for it). It lives until its last bytes have left, so a
// drain does not close a connection under a queued answer. The bytes go
// through the Connection (api/transport), which owns what the socket has
// not taken yet.
class Responder : public std::enable_shared_from_this<Responder> {
public:
    Responder(std::shared_ptr<Connection> connection, bool http10, bool headRequest, RequestRecord record,
              Metrics& metrics, std::atomic<int>& openRequests);
    ~Responder();
    Responder(const Responder&) = delete;
    Responder& operator=(const Responder&) = delete;

    void json(int status, const std::string& body);
    void text(int status, const std::string& body, const std::string& contentType);
    // A body shared between responses (a document served as is).
    void shared(int status, std::shared_ptr<const std::string> body, const std::string& contentType);
    // A JSON body made a piece at a time while the client reads it, so a
    // large one (a long history) holds one piece in memory, not all of it:
    // `next` appends the next piece and returns false after the last.
    void jsonPieces(int status, std::function<bool(std::string&)> next);
    void noContent();
    // {"error": {"code", "message", "request_id"}}; retryAfterSeconds >= 0
    // adds Retry-After.
    void error(int status, const std::string& code, const std::string& message, int retryAfterSeconds = -1);
    void failure(const domain::Failure& f);
    // The error body for `f` (its detail goes to the log, with the request
    // id), for a response written by hand.
    std::string failureBody(const domain::Failure& f);
    // A response written by hand (SSE) ended with `status`.
    void finished(int status);
    // Writes part of a response written by hand (SSE); false: the client is
    // gone, or reads so slowly that it counts as gone. After the `last`
    // part, the connection serves the next request or ends.
    bool write(std::string bytes, bool last);
    bool keepAlive() const;
    // The client closed its connection: no one reads the answer.
    bool clientGone() const;
    // clientGone() as a function for ChatService, holding this weakly: a
    // responder already gone means its client is too.
    std::function<bool()> goneCheck() {
        return [weak = weak_from_this()] {
            auto self = weak.lock();
            return !self || self->clientGone();
        };
    }
    // Ask the client to close the connection (the server is draining).
    void closeAfterResponse() { closeAfter_ = true; }
    RequestRecord& record() { return record_; }
    // The route runs now: from here on, a responder dropped without an
    // answer ends the connection rather than leave the client waiting.
    void routed() { routed_ = true; }

private:
    // The status line and headers, up to and including the empty line.
    std::string head(int status, const char* contentType, int64_t contentLength, int retryAfterSeconds) const;
    void send(int status, const std::string& body, const char* contentType, int retryAfterSeconds);
    void end();
    std::string errorBody(const ApiError& e) const;
    // Logs the detail of `f` with the request id; returns the error body.
    std::string logged(const domain::Failure& f, const ApiError& e) const;
    std::shared_ptr<Connection> connection_;
    const bool http10_;
    const bool headRequest_;  // HEAD: the headers of the answer, not its body
    bool closeAfter_ = false;
    bool routed_ = false;
    std::atomic<bool> ended_{false};
    RequestRecord record_;
    Metrics& metrics_;
    std::atomic<int>& openRequests_;
    std::atomic<bool> finished_{false};
};

using ResponderPtr = std::shared_ptr<Responder>;

}  // namespace omnichat
