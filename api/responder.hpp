#pragma once
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

namespace Pistache::Http {
class Request;
class ResponseWriter;
}  // namespace Pistache::Http
namespace Pistache::Tcp {
class Peer;
}

namespace omnichat {

class Metrics;
struct ConnectionSocket;
struct Failure;

// An error as the client sees it.
struct ApiError {
    int status;
    std::string code;
    std::string message;
    int retryAfterSeconds = -1;
};
// The HTTP status and code of a domain failure.
ApiError apiError(const Failure& f);

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
// server waits for it). It lives until its last bytes are written, so a
// drain does not close a connection under a queued answer.
//
// Bytes go straight to the socket from the thread that has them, with no
// hand-off to the reactor (in Pistache: an eventfd wake-up and an EPOLLOUT
// round per write), and never to a descriptor number Pistache closed and
// the kernel gave to a new client (see ConnectionSocket). What the socket
// does not take at once (a slow client, a large answer) goes to Pistache's
// write queue, and so does everything after it in the same response, in
// order.
class Responder : public std::enable_shared_from_this<Responder> {
public:
    Responder(const Pistache::Http::Request& request, Pistache::Http::ResponseWriter writer, RequestRecord record,
              Metrics& metrics, std::atomic<int>& openRequests);
    ~Responder();
    Responder(const Responder&) = delete;
    Responder& operator=(const Responder&) = delete;

    void json(int status, const std::string& body);
    void text(int status, const std::string& body, const std::string& contentType);
    void noContent();
    // {"error": {"code", "message", "request_id"}}; retryAfterSeconds >= 0
    // adds Retry-After.
    void error(int status, const std::string& code, const std::string& message, int retryAfterSeconds = -1);
    void failure(const Failure& f);
    // The error body for `f` (its detail goes to the log, with the request
    // id), for a response written by hand.
    std::string failureBody(const Failure& f);
    // A response written by hand (SSE) ended with `status`.
    void finished(int status);
    // Writes part of a response written by hand (SSE); false: the client is
    // gone. After the `last` part, ends the connection if the client asked
    // for that (Connection: close) or the server is draining.
    bool write(std::string bytes, bool last);
    bool keepAlive() const { return keepAlive_; }
    // Ask the client to close the connection (the server is draining).
    void closeAfterResponse() { keepAlive_ = false; }
    RequestRecord& record() { return record_; }

private:
    void send(int status, const std::string& body, const char* contentType, int retryAfterSeconds);
    std::string errorBody(const ApiError& e) const;
    // Logs the detail of `f` with the request id; returns the error body.
    std::string logged(const Failure& f, const ApiError& e) const;
    // Sends the FIN a client asked for, once the last bytes have left; with
    // the connection's lock held and the connection open.
    void endResponse();
    std::weak_ptr<Pistache::Tcp::Peer> peer_;
    std::shared_ptr<ConnectionSocket> socket_;  // null: everything through Pistache's queue
    bool http10_;
    bool keepAlive_;
    std::mutex writeMutex_;
    bool queued_ = false;  // part of this response waits in Pistache's queue
    RequestRecord record_;
    Metrics& metrics_;
    std::atomic<int>& openRequests_;
    std::atomic<bool> finished_{false};
};

using ResponderPtr = std::shared_ptr<Responder>;

// Pistache is about to close this connection's descriptor: writers must
// stop using its number. Call on the reactor, in Handler::onDisconnection.
void connectionClosing(Pistache::Tcp::Peer& peer);

}  // namespace omnichat
