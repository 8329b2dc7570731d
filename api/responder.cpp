#include "responder.hpp"

#include <pistache/http.h>
#include <pistache/peer.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>

#include "chat/chat_service.hpp"
#include "observability/metrics.hpp"

namespace omnichat {

using namespace Pistache;

namespace {

// Pistache 0.0.5 drops raw headers from responses; only typed ones are
// written, so the few we need get a type.
template <const char* HeaderName>
class TextHeader : public Http::Header::Header {
public:
    TextHeader() = default;
    explicit TextHeader(std::string value) : value_(std::move(value)) {}
    static constexpr const char* Name = HeaderName;
    const char* name() const override { return Name; }
    uint64_t hash() const override { return Http::Header::detail::hash(HeaderName); }
    void parse(const std::string& data) override { value_ = data; }
    void write(std::ostream& os) const override { os << value_; }

private:
    std::string value_;
};

constexpr char kRetryAfter[] = "Retry-After";
constexpr char kWwwAuthenticate[] = "WWW-Authenticate";
constexpr char kRequestId[] = "X-Request-Id";

}  // namespace

Responder::Responder(const Http::Request& request, Http::ResponseWriter writer, RequestRecord record, Metrics& metrics,
                     std::atomic<int>& openRequests)
    : writer_(std::make_shared<Http::ResponseWriter>(std::move(writer))),
      record_(std::move(record)),
      metrics_(metrics),
      openRequests_(openRequests) {
    ++openRequests_;
    // Pistache answers "Connection: Close" to requests without a Connection
    // header although it keeps the socket: decide from the request instead.
    auto connection = request.headers().tryGet<Http::Header::Connection>();
    if (connection)
        keepAlive_ = connection->control() != Http::ConnectionControl::Close;
    else
        keepAlive_ = request.version() == Http::Version::Http11;
}

Responder::~Responder() { --openRequests_; }

void Responder::send(int status, const std::string& body, const char* contentType, int retryAfterSeconds) {
    auto& headers = writer_->headers();
    // Collection::add keeps an existing header: replace Pistache's default.
    headers.remove<Http::Header::Connection>();
    headers.add<Http::Header::Connection>(keepAlive_ ? Http::ConnectionControl::KeepAlive
                                                     : Http::ConnectionControl::Close);
    headers.add<TextHeader<kRequestId>>(record_.id);
    if (retryAfterSeconds >= 0) headers.add<TextHeader<kRetryAfter>>(std::to_string(retryAfterSeconds));
    if (status == 401) headers.add<TextHeader<kWwwAuthenticate>>("Bearer");
    // Recorded before the answer leaves: a client that reads /metrics next
    // sees its request counted.
    finished(status);
    if (contentType)
        keepUntilWritten(
            writer_->send(static_cast<Http::Code>(status), body, Http::Mime::MediaType::fromString(contentType)));
    else
        keepUntilWritten(writer_->send(static_cast<Http::Code>(status), body));
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

std::weak_ptr<Tcp::Peer> Responder::peer() const { return writer_->getPeer(); }

void Responder::closeConnection() {
    // shutdown, not close: the descriptor stays Pistache's to close, so it
    // cannot be reused under the reactor.
    if (auto p = peer().lock()) ::shutdown(p->fd(), SHUT_WR);
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
