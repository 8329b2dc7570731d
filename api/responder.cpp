#include "responder.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pistache/http.h>
#include <pistache/peer.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>

#include <nlohmann/json.hpp>

#include "chat/chat_service.hpp"
#include "observability/metrics.hpp"

namespace omnichat {

using namespace Pistache;

// A client connection as our writers see it. Pistache closes the
// descriptor when the client leaves, and the kernel may hand the number to
// the next client at once: a writer on another thread holds the lock for
// each write and writes only while the connection is open, and Pistache
// marks it closed (onDisconnection, under the same lock) before it closes
// the descriptor. Pistache's other closes (idle keep-alive connections, and
// clients too slow to send a request) happen with no request in progress:
// see HttpServer::start for the keep-alive timeout.
struct ConnectionSocket {
    explicit ConnectionSocket(int descriptor) : fd(descriptor) {}
    const int fd;
    std::mutex mutex;
    bool open = true;
};

namespace {

const std::string kSocketKey = "omnichat.socket";

// The connection's state, made at its first request. Only on the reactor:
// Pistache's peer data is not guarded.
std::shared_ptr<ConnectionSocket> connectionSocket(Tcp::Peer& peer) {
    if (auto existing = peer.tryGetData(kSocketKey)) return std::static_pointer_cast<ConnectionSocket>(existing);
    // A streamed reply is many small writes; Nagle's algorithm would hold
    // each one back until the client acknowledged the previous one.
    int on = 1;
    ::setsockopt(peer.fd(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    auto socket = std::make_shared<ConnectionSocket>(peer.fd());
    peer.putData(kSocketKey, socket);
    return socket;
}

}  // namespace

void connectionClosing(Tcp::Peer& peer) {
    if (auto existing = peer.tryGetData(kSocketKey)) {
        auto socket = std::static_pointer_cast<ConnectionSocket>(existing);
        std::lock_guard lock(socket->mutex);
        socket->open = false;
    }
}

Responder::Responder(const Http::Request& request, Http::ResponseWriter writer, RequestRecord record, Metrics& metrics,
                     std::atomic<int>& openRequests)
    : peer_(writer.getPeer()),
      http10_(request.version() == Http::Version::Http10),
      record_(std::move(record)),
      metrics_(metrics),
      openRequests_(openRequests) {
    ++openRequests_;
    auto connection = request.headers().tryGet<Http::Header::Connection>();
    if (connection)
        keepAlive_ = connection->control() != Http::ConnectionControl::Close;
    else
        keepAlive_ = !http10_;
    if (auto peer = peer_.lock()) socket_ = connectionSocket(*peer);  // on the reactor
}

Responder::~Responder() { --openRequests_; }

void Responder::send(int status, const std::string& body, const char* contentType, int retryAfterSeconds) {
    // Recorded before the answer leaves: a client that reads /metrics next
    // sees its request counted.
    finished(status);
    // Written by hand rather than with ResponseWriter::send: that goes
    // through the reactor, and its promise is resolved there without its
    // lock, so waiting on it from a worker thread crashed under load. By
    // hand we also keep raw headers (Pistache drops them) and decide
    // Connection from the request (Pistache says "Close" to a keep-alive
    // HTTP/1.1 request without a Connection header, then keeps the socket).
    std::string response;
    response.reserve(192 + body.size());
    response.append(http10_ ? "HTTP/1.0 " : "HTTP/1.1 ")
        .append(std::to_string(status))
        .append(" ")
        .append(Http::codeString(static_cast<Http::Code>(status)))
        .append("\r\n");
    if (contentType) response.append("Content-Type: ").append(contentType).append("\r\n");
    if (status != 204) response.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    response.append(keepAlive_ ? "Connection: Keep-Alive\r\n" : "Connection: Close\r\n");
    response.append("X-Request-Id: ").append(record_.id).append("\r\n");
    if (retryAfterSeconds >= 0)
        response.append("Retry-After: ").append(std::to_string(retryAfterSeconds)).append("\r\n");
    if (status == 401) response.append("WWW-Authenticate: Bearer\r\n");
    response.append("\r\n").append(body);
    write(std::move(response), true);
}

void Responder::finished(int status) {
    if (finished_.exchange(true)) return;
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - record_.started).count();
    metrics_.observeRequest(record_.method, record_.route, status, seconds);
    spdlog::info("access method={} route={} status={} ms={:.2f} user={} request_id={}", record_.method, record_.route,
                 status, seconds * 1000, record_.user, record_.id);
}

void Responder::json(int status, const std::string& body) { send(status, body, "application/json", -1); }

void Responder::text(int status, const std::string& body, const std::string& contentType) {
    send(status, body, contentType.c_str(), -1);
}

bool Responder::write(std::string bytes, bool last) {
    std::lock_guard lock(writeMutex_);
    size_t sent = 0;
    if (socket_ && !queued_) {
        std::lock_guard open(socket_->mutex);
        if (!socket_->open) return false;  // the client is gone
        while (sent < bytes.size()) {
            ssize_t n = ::send(socket_->fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0)
                sent += static_cast<size_t>(n);
            else if (n < 0 && errno == EINTR)
                continue;
            else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            else
                return false;  // the client is gone
        }
        if (sent == bytes.size()) {
            if (last) endResponse();
            return true;
        }
    }
    auto peer = peer_.lock();
    if (!peer) return false;
    queued_ = true;
    bytes.erase(0, sent);
    auto size = bytes.size();
    auto written = peer->send(RawBuffer(std::move(bytes), size));
    if (last) {
        // Peer::send's promise is resolved under its lock: safe to wait on
        // from here. Holds this responder (the request stays open for a
        // drain) until the bytes have left.
        auto self = shared_from_this();
        written.then(
            [self](ssize_t) {
                if (!self->socket_) return;
                std::lock_guard open(self->socket_->mutex);
                if (self->socket_->open) self->endResponse();
            },
            [self](std::exception_ptr) {});
    }
    return true;
}

void Responder::endResponse() {
    // shutdown, not close: Pistache closes the connection when the client
    // closes its side. The caller holds the connection open.
    if (!keepAlive_) ::shutdown(socket_->fd, SHUT_WR);
}

void Responder::noContent() { send(204, "", nullptr, -1); }

void Responder::error(int status, const std::string& code, const std::string& message, int retryAfterSeconds) {
    send(status, errorBody({status, code, message, retryAfterSeconds}), "application/json", retryAfterSeconds);
}

ApiError apiError(const Failure& f) {
    using S = Failure::Source;
    int retry = f.retryAfterMs >= 0 ? static_cast<int>((f.retryAfterMs + 999) / 1000) : -1;
    auto error = [](int status, std::string code, std::string message, int retryAfter = -1) {
        return ApiError{status, std::move(code), std::move(message), retryAfter};
    };
    if (f.source == S::Storage) {
        switch (f.status) {
            case OMNICHAT_ERR_NOT_FOUND: return error(404, "not_found", "conversation not found");
            case OMNICHAT_ERR_BAD_REQUEST:
                return error(400, "invalid_content", "the content cannot be stored as given");
            case OMNICHAT_ERR_UNAVAILABLE:
                return error(503, "storage_unavailable", "storage is unavailable, try again", 1);
            default: return error(500, "internal_error", "internal error");
        }
    }
    if (f.source == S::Provider) {
        switch (f.status) {
            case OMNICHAT_ERR_TIMEOUT:
                return error(504, f.code.empty() ? "provider_timeout" : f.code, "the provider did not answer in time");
            case OMNICHAT_ERR_CONNECT_TIMEOUT:
                return error(504, "provider_timeout_connect", "the provider could not be reached in time");
            case OMNICHAT_ERR_RATE_LIMITED:
                return error(502, "provider_rate_limited", "the provider is rate limiting requests", retry);
            case OMNICHAT_ERR_AUTH: return error(502, "provider_auth_failed", "the provider rejected our credentials");
            case OMNICHAT_ERR_BAD_RESPONSE:
                return error(502, "provider_bad_response", "the provider sent a response that could not be used");
            case OMNICHAT_ERR_UNAVAILABLE:
                return error(502, "provider_unavailable", "the provider could not be reached");
            case OMNICHAT_ERR_BAD_REQUEST:
                return error(502, "provider_rejected_request", "the provider rejected the request");
            case OMNICHAT_ERR_CONTENT_FILTERED:
                return error(502, "provider_content_filtered", "the provider refused the content");
            case OMNICHAT_ERR_CANCELLED: return error(503, "cancelled", "the request was cancelled", 1);
            default: return error(502, "provider_error", "the provider failed");
        }
    }
    if (f.status == OMNICHAT_ERR_CANCELLED) return error(499, "client_closed", "the client went away");
    return error(500, "internal_error", "internal error");
}

std::string Responder::errorBody(const ApiError& e) const {
    return nlohmann::json{{"error", {{"code", e.code}, {"message", e.message}, {"request_id", record_.id}}}}.dump();
}

std::string Responder::failureBody(const Failure& f) { return logged(f, apiError(f)); }

std::string Responder::logged(const Failure& f, const ApiError& e) const {
    // The detail (which may name a library or a host) stays in the log.
    if (e.status >= 500 && e.status != 503)
        spdlog::error("request {} failed ({}): {}", record_.id, e.code, f.detail);
    else
        spdlog::warn("request {} failed ({}): {}", record_.id, e.code, f.detail);
    return errorBody(e);
}

void Responder::failure(const Failure& f) {
    auto e = apiError(f);
    send(e.status, logged(f, e), "application/json", e.retryAfterSeconds);
}

}  // namespace omnichat
