#include "responder.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "chat/chat_service.hpp"
#include "common/ids.hpp"
#include "observability/metrics.hpp"
#include "transport/connection.hpp"

namespace omnichat {
namespace {

const char* reasonPhrase(int status) {
    switch (status) {
        case 200: return "OK";
        case 201: return "Created";
        case 204: return "No Content";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 413: return "Content Too Large";
        case 415: return "Unsupported Media Type";
        case 422: return "Unprocessable Content";
        case 429: return "Too Many Requests";
        case 431: return "Request Header Fields Too Large";
        case 499: return "Client Closed Request";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        case 505: return "HTTP Version Not Supported";
        default: return "Unknown";
    }
}

// head()'s contentLength when there is none to send.
constexpr int64_t kChunked = -1;  // the body comes in chunks (HTTP/1.1), or until the end (1.0)
constexpr int64_t kNoBody = -2;   // 204

// One piece of a chunked body.
void appendChunk(std::string& out, std::string_view piece) {
    char size[24];
    int n = std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    out.append(size, static_cast<size_t>(n)).append(piece).append("\r\n");
}

}  // namespace

Responder::Responder(std::shared_ptr<Connection> connection, bool http10, bool headRequest, RequestRecord record,
                     Metrics& metrics, std::atomic<int>& openRequests)
    : connection_(std::move(connection)),
      http10_(http10),
      headRequest_(headRequest),
      record_(std::move(record)),
      metrics_(metrics),
      openRequests_(openRequests) {
    ++openRequests_;
}

Responder::~Responder() {
    // A route that never answered: the client must not wait for ever, and
    // the connection cannot serve another request.
    if (routed_ && !ended_) connection_->abort();
    --openRequests_;
}

bool Responder::keepAlive() const { return !closeAfter_ && connection_->keepAlive(); }

bool Responder::clientGone() const { return connection_->gone(); }

std::string Responder::head(int status, const char* contentType, int64_t contentLength, int retryAfterSeconds) const {
    // Written by hand: the Connection header follows the request (HTTP/1.1
    // keeps the connection unless asked not to), and every header is ours.
    std::string out;
    out.reserve(192);
    out.append(http10_ ? "HTTP/1.0 " : "HTTP/1.1 ")
        .append(std::to_string(status))
        .append(" ")
        .append(reasonPhrase(status))
        .append("\r\n");
    if (contentType) out.append("Content-Type: ").append(contentType).append("\r\n");
    if (contentLength >= 0)
        out.append("Content-Length: ").append(std::to_string(contentLength)).append("\r\n");
    else if (contentLength == kChunked && !http10_)
        out.append("Transfer-Encoding: chunked\r\n");
    out.append(keepAlive() ? "Connection: Keep-Alive\r\n" : "Connection: Close\r\n");
    out.append("X-Request-Id: ").append(record_.id).append("\r\n");
    if (retryAfterSeconds >= 0) out.append("Retry-After: ").append(std::to_string(retryAfterSeconds)).append("\r\n");
    if (status == 401) out.append("WWW-Authenticate: Bearer\r\n");
    out.append("\r\n");
    return out;
}

void Responder::send(int status, const std::string& body, const char* contentType, int retryAfterSeconds) {
    // Recorded before the answer leaves: a client that reads /metrics next
    // sees its request counted.
    finished(status);
    std::string response =
        head(status, contentType, status == 204 ? kNoBody : static_cast<int64_t>(body.size()), retryAfterSeconds);
    if (!headRequest_) response.append(body);
    connection_->write(std::move(response));
    end();
}

void Responder::end() {
    if (ended_.exchange(true)) return;
    if (closeAfter_) connection_->endAfterAnswer();
    // Holds this responder (the request stays open for a drain) until the
    // bytes have left.
    connection_->endResponse([self = shared_from_this()] {});
}

void Responder::finished(int status) {
    if (finished_.exchange(true)) return;
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - record_.started).count();
    metrics_.observeRequest(record_.method, record_.route, status, seconds);
    spdlog::info("access method={} route={} status={} ms={:.2f} user={} request_id={}", record_.method, record_.route,
                 status, seconds * 1000, loggable(record_.user), record_.id);
}

void Responder::json(int status, const std::string& body) { send(status, body, "application/json", -1); }

void Responder::text(int status, const std::string& body, const std::string& contentType) {
    send(status, body, contentType.c_str(), -1);
}

void Responder::shared(int status, std::shared_ptr<const std::string> body, const std::string& contentType) {
    finished(status);
    connection_->write(head(status, contentType.c_str(), static_cast<int64_t>(body->size()), -1));
    if (!headRequest_) connection_->write(std::move(body));
    end();
}

void Responder::jsonPieces(int status, std::function<bool(std::string&)> next) {
    std::string first;
    bool more = next(first);
    if (!more) return json(status, first);  // small enough to be one piece: a plain answer
    finished(status);
    if (http10_) closeAfter_ = true;  // no chunks in HTTP/1.0: the end of the connection ends the body
    std::string start = head(status, "application/json", kChunked, -1);
    if (headRequest_) {
        connection_->write(std::move(start));
        return end();
    }
    if (http10_)
        start.append(first);
    else
        appendChunk(start, first);
    connection_->write(std::move(start));
    const bool chunked = !http10_;
    connection_->writeFrom([next = std::move(next), chunked](std::string& out) {
        std::string piece;
        bool more = next(piece);
        if (!chunked) {
            out = std::move(piece);
            return more;
        }
        if (!piece.empty()) appendChunk(out, piece);
        if (!more) out.append("0\r\n\r\n");
        return more;
    });
    end();
}

bool Responder::write(std::string bytes, bool last) {
    bool written = connection_->write(std::move(bytes), true);
    if (last) end();
    return written;
}

void Responder::noContent() { send(204, "", nullptr, -1); }

void Responder::error(int status, const std::string& code, const std::string& message, int retryAfterSeconds) {
    send(status, errorBody({status, code, message, retryAfterSeconds}), "application/json", retryAfterSeconds);
}

ApiError apiError(const domain::Failure& f) {
    using S = domain::Failure::Source;
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
    if (f.source == S::Refused) return error(f.status == OMNICHAT_ERR_CONFLICT ? 409 : 400, f.code, f.message);
    if (f.status == OMNICHAT_ERR_CANCELLED) return error(499, "client_closed", "the client went away");
    return error(500, "internal_error", "internal error");
}

// OpenAI's error types, by status: with them every error body is also in
// the shape the OpenAI client libraries read.
const char* errorType(int status) {
    switch (status) {
        case 401: return "authentication_error";
        case 403: return "permission_error";
        case 429: return "rate_limit_error";
        default: return status < 500 ? "invalid_request_error" : "server_error";
    }
}

std::string Responder::errorBody(const ApiError& e) const {
    return nlohmann::json{
        {"error",
         {{"code", e.code}, {"message", e.message}, {"type", errorType(e.status)}, {"request_id", record_.id}}}}
        .dump();
}

std::string Responder::failureBody(const domain::Failure& f) { return logged(f, apiError(f)); }

std::string Responder::logged(const domain::Failure& f, const ApiError& e) const {
    // The detail (which may name a library or a host) stays in the log.
    if (e.status >= 500 && e.status != 503)
        spdlog::error("request {} failed ({}): {}", record_.id, e.code, f.detail);
    else
        spdlog::warn("request {} failed ({}): {}", record_.id, e.code, f.detail);
    return errorBody(e);
}

void Responder::failure(const domain::Failure& f) {
    auto e = apiError(f);
    send(e.status, logged(f, e), "application/json", e.retryAfterSeconds);
}

}  // namespace omnichat
