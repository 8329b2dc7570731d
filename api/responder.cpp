#include "responder.hpp"

#include <fcntl.h>
#include <pistache/http.h>
#include <pistache/peer.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "chat/chat_service.hpp"
#include "observability/metrics.hpp"

namespace omnichat {

using namespace Pistache;

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
    // The client asked us to end the connection after the response. Pistache
    // may close its descriptor once the client leaves, and the number can
    // then name a new client's connection: the FIN goes through a descriptor
    // of our own, taken here on the reactor while Pistache's is still valid.
    if (!keepAlive_)
        if (auto peer = peer_.lock()) finDescriptor_ = ::fcntl(peer->fd(), F_DUPFD_CLOEXEC, 0);
}

Responder::~Responder() {
    if (finDescriptor_ >= 0) ::close(finDescriptor_);
    --openRequests_;
}

void Responder::send(int status, const std::string& body, const char* contentType, int retryAfterSeconds) {
    // Recorded before the answer leaves: a client that reads /metrics next
    // sees its request counted.
    finished(status);
    auto peer = peer_.lock();
    if (!peer) return;  // the client left
    // Written by hand rather than with ResponseWriter::send: the promise
    // that returns is resolved on the reactor without its lock, so waiting on
    // it from a worker thread crashed under load; Peer::send's is locked.
    // By hand we also keep raw headers (Pistache drops them) and decide
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
    sendRaw(peer, std::move(response), true);
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

void Responder::sendRaw(const std::shared_ptr<Tcp::Peer>& peer, std::string bytes, bool last) {
    auto size = bytes.size();
    auto written = peer->send(RawBuffer(std::move(bytes), size));
    if (!last) return;
    // The connection may now be closed by the keep-alive timeout, as
    // Pistache's own send marks it.
    peer->setIdle(true);
    // Holds this responder until the last bytes have left or failed, so a
    // draining server does not close the connection under them; then sends
    // the FIN a client asked for (Pistache closes the socket when the client
    // closes its side).
    auto self = shared_from_this();
    written.then(
        [self](ssize_t) {
            if (self->finDescriptor_ >= 0) ::shutdown(self->finDescriptor_, SHUT_WR);
        },
        [self](std::exception_ptr) {});
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
