#include "http_server.hpp"

#include <netinet/in.h>
#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/peer.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "auth/jwt.hpp"
#include "chat/chat_service.hpp"
#include "common/ids.hpp"
#include "config/config.hpp"
#include "request_bodies.hpp"
#include "routes.hpp"

namespace omnichat {

using namespace Pistache;

namespace {

// Room for the request line and headers on top of the body limit; bodies
// between the limit and twice the limit get our JSON 413, larger ones
// Pistache's own 413.
constexpr size_t kHeaderAllowance = 64 * 1024;

using Handler = void (*)(RouteContext&);

struct Route {
    Http::Method method;
    const char* pattern;  // "{id}" (any name in braces) matches one segment
    Handler handler;
    bool authenticated = true;
};

std::vector<std::string> splitPath(const std::string& resource) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < resource.size()) {
        size_t j = resource.find('/', i);
        if (j == std::string::npos) j = resource.size();
        if (j > i) out.push_back(resource.substr(i, j - i));
        i = j + 1;
    }
    return out;
}

// Routes with their patterns split into segments once.
struct RouteTable {
    explicit RouteTable(std::vector<Route> table) : routes(std::move(table)) {
        for (const auto& r : routes) patterns.push_back(splitPath(r.pattern));
    }
    std::vector<Route> routes;
    std::vector<std::vector<std::string>> patterns;  // by index in routes
};

// Everything on the public address; /metrics too unless it has one of its
// own.
std::shared_ptr<const RouteTable> publicRoutes(bool withMetrics) {
    std::vector<Route> table{
        {Http::Method::Post, "/conversations", &createConversation},
        {Http::Method::Get, "/conversations/project/{project_id}", &listProjectConversations},
        {Http::Method::Get, "/conversations/{id}", &getConversation},
        {Http::Method::Delete, "/conversations/{id}", &deleteConversation},
        {Http::Method::Get, "/conversations/{id}/messages", &listMessages},
        {Http::Method::Post, "/conversations/{id}/messages", &sendMessage},
        // For probes and scrapers, which hold no token.
        {Http::Method::Get, "/healthz", &healthz, false},
        {Http::Method::Get, "/readyz", &readyz, false},
        {Http::Method::Get, "/openapi.json", &openApiDocument, false},
        {Http::Method::Get, "/docs", &docsPage, false},
        {Http::Method::Get, "/docs/{file}", &docsFile, false},
    };
    if (withMetrics) table.push_back({Http::Method::Get, "/metrics", &metrics, false});
    return std::make_shared<RouteTable>(std::move(table));
}

std::shared_ptr<const RouteTable> metricsRoutes() {
    return std::make_shared<RouteTable>(std::vector<Route>{{Http::Method::Get, "/metrics", &metrics, false}});
}

// Fills `params` with the segments matched by {} when `pattern` matches.
bool matches(const std::vector<std::string>& pattern, const std::vector<std::string>& segments,
             std::vector<std::string>& params) {
    if (pattern.size() != segments.size()) return false;
    std::vector<std::string> captured;
    for (size_t i = 0; i < segments.size(); ++i) {
        if (pattern[i].front() == '{')
            captured.push_back(segments[i]);
        else if (pattern[i] != segments[i])
            return false;
    }
    params = std::move(captured);
    return true;
}

// A client's X-Request-Id is kept when it is a plain token; otherwise, or
// without one, we make one.
std::string requestId(const Http::Request& request) {
    if (auto raw = request.headers().tryGetRaw("X-Request-Id")) {
        const std::string& v = raw->value();
        bool plain = !v.empty() && v.size() <= 128 && std::all_of(v.begin(), v.end(), [](unsigned char c) {
            return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':';
        });
        if (plain) return v;
    }
    return newUuid();
}

std::optional<std::string> bearerToken(const Http::Request& request) {
    auto raw = request.headers().tryGetRaw("Authorization");
    if (!raw) return std::nullopt;
    const std::string& v = raw->value();
    if (v.size() < 7) return std::nullopt;
    std::string scheme = v.substr(0, 7);
    std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
    if (scheme != "bearer ") return std::nullopt;
    auto token = v.substr(7);
    token.erase(0, token.find_first_not_of(' '));
    return token;
}

class RestHandler : public Http::Handler {
public:
    HTTP_PROTOTYPE(RestHandler)

    RestHandler(ServerState& state, std::shared_ptr<const RouteTable> routes)
        : state_(state), routes_(std::move(routes)) {}

    void onDisconnection(const std::shared_ptr<Tcp::Peer>& peer) override {
        connectionClosing(*peer);
        Http::Handler::onDisconnection(peer);
    }

    void onRequest(const Http::Request& request, Http::ResponseWriter writer) override {
        // Deferred responses outlive Pistache's header and body timers;
        // marking the peer idle puts the connection under the keep-alive
        // timeout instead of answering 408 mid-way.
        if (auto peer = writer.peer()) peer->setIdle(true);
        RequestRecord record{requestId(request), Http::methodString(request.method()), "-", "-"};
        auto respond =
            std::make_shared<Responder>(request, std::move(writer), std::move(record), state_.metrics, state_.open);
        try {
            dispatch(request, respond);
        } catch (const std::exception& e) {
            spdlog::error("request {}: unhandled error in {}: {}", respond->record().id, respond->record().route,
                          e.what());
            respond->error(500, "internal_error", "internal error");
        }
    }

private:
    void dispatch(const Http::Request& request, const ResponderPtr& respond) {
        auto segments = splitPath(request.resource());
        std::vector<std::string> params;
        const Route* found = nullptr;
        std::vector<std::string> allowed;
        for (size_t i = 0; i < routes_->routes.size(); ++i) {
            const auto& r = routes_->routes[i];
            std::vector<std::string> p;
            if (!matches(routes_->patterns[i], segments, p)) continue;
            // A literal route ("project/{}") wins over a parameter one.
            if (r.method == request.method() && !found) {
                respond->record().route = r.pattern;
                found = &r;
                params = std::move(p);
            }
            allowed.push_back(Http::methodString(r.method));
        }
        if (!found) {
            if (allowed.empty()) return respond->error(404, "not_found", "no such route");
            return respond->error(405, "method_not_allowed", "method not allowed on this route");
        }
        std::string userId;
        if (found->authenticated) {
            if (state_.draining) {
                respond->closeAfterResponse();
                return respond->error(503, "shutting_down", "the server is shutting down, try again", 1);
            }
            auto token = bearerToken(request);
            auto user = token ? state_.auth.verify(*token, nowUnixMs() / 1000) : std::nullopt;
            if (!user) return respond->error(401, "unauthorized", "a valid bearer token is required");
            userId = std::move(*user);
            respond->record().user = userId;
            if (int wait = state_.limiter.admitRequest(userId, nowUnixMs()))
                return respond->error(429, "rate_limited", "too many requests, slow down", wait);
        }
        if (request.body().size() > state_.config.maxBodyBytes)
            return respond->error(413, "payload_too_large",
                                  "request body exceeds " + std::to_string(state_.config.maxBodyBytes) + " bytes");
        RouteContext ctx{request,     respond,       std::move(userId), std::move(params),
                         state_.chat, state_.config, state_.timer,      state_};
        found->handler(ctx);
    }

    ServerState& state_;
    std::shared_ptr<const RouteTable> routes_;
};

// Pistache 0.0.5 listens with a queue of 128 connections and ignores its
// own backlog option. A burst of clients connecting at once (2,000 in the
// benchmark) overflowed it: the kernel fell back to SYN cookies and dropped
// handshakes that clients retried up to seconds later. listen() on a
// listening socket sets a new queue length; the kernel caps it at
// net.core.somaxconn. The endpoint does not expose its socket, so it is
// found by port among the first descriptors, where a server opens it.
void widenAcceptQueue(uint16_t port) {
    for (int fd = 0; fd < 1024; ++fd) {
        int listening = 0;
        socklen_t size = sizeof listening;
        sockaddr_storage address{};
        socklen_t length = sizeof address;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) != 0 || !listening ||
            getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
            continue;
        uint16_t bound = address.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(address).sin6_port
                                                       : reinterpret_cast<sockaddr_in&>(address).sin_port;
        if ((address.ss_family == AF_INET || address.ss_family == AF_INET6) && ntohs(bound) == port)
            ::listen(fd, SOMAXCONN);
    }
}

}  // namespace

void overloaded(RouteContext& ctx) { ctx.respond->error(503, "overloaded", "the server is busy, try again", 1); }

bool requireUuidParam(RouteContext& ctx, size_t index) {
    if (isUuid(ctx.params[index])) return true;
    ctx.respond->error(400, "invalid_id", "the id in the path must be a UUID");
    return false;
}

std::optional<nlohmann::json> readJsonObject(RouteContext& ctx, bool required) {
    auto type = ctx.request.headers().tryGetRaw("Content-Type");
    auto parsed = parseJsonObject(ctx.request.body(), type ? type->value() : std::string_view(), required);
    if (auto* e = std::get_if<ApiError>(&parsed)) {
        ctx.respond->error(e->status, e->code, e->message);
        return std::nullopt;
    }
    return std::move(std::get<nlohmann::json>(parsed));
}

struct HttpServer::Impl {
    ServerState state;
    std::unique_ptr<Http::Endpoint> endpoint;
    std::unique_ptr<Http::Endpoint> metricsEndpoint;  // with server.metrics_listen
};

HttpServer::HttpServer(const Config& config, ChatService& chat, const JwtAuthenticator& auth, Timer& timer,
                       Metrics& metrics, const std::string& docsDirectory)
    : impl_(
          new Impl{{config, chat, auth, timer, metrics,
                    RateLimiter(config.limits.requestsPerMinute, config.limits.burst, config.limits.concurrentStreams)},
                   nullptr,
                   nullptr}) {
    // Read once here: serving them must not touch the disk on a reactor.
    for (const auto& [name, type] : {std::pair<const char*, const char*>{"swagger-ui.css", "text/css"},
                                     {"swagger-ui-bundle.js", "application/javascript"}}) {
        std::ifstream file(docsDirectory + "/" + name, std::ios::binary);
        if (!file) {
            spdlog::info("no {} in {}: /docs is not served", name, docsDirectory);
            impl_->state.docsFiles.clear();
            return;
        }
        std::ostringstream content;
        content << file.rdbuf();
        impl_->state.docsFiles[name] = {content.str(), type};
    }
}

HttpServer::~HttpServer() { shutdown(); }

void HttpServer::drain() { impl_->state.draining = true; }

int HttpServer::openRequests() const { return impl_->state.open.load(); }

void HttpServer::start() {
    const Config& config = impl_->state.config;
    // Pistache counts the keep-alive timeout from the start of a
    // connection's last request, and a request being answered counts as
    // idle (see onRequest): an exchange may run for the whole total timeout
    // before the connection's idle time begins.
    auto keepalive = std::chrono::milliseconds(config.keepaliveTimeoutSeconds * 1000 + config.totalTimeoutMs);
    impl_->endpoint = std::make_unique<Http::Endpoint>(Address(config.listen.host, Port(config.listen.port)));
    auto opts = Http::Endpoint::options()
                    .threads(static_cast<int>(config.reactorThreads))
                    .flags(Tcp::Options::ReuseAddr)
                    .maxRequestSize(2 * config.maxBodyBytes + kHeaderAllowance)
                    .headerTimeout(std::chrono::seconds(config.headerTimeoutSeconds))
                    .bodyTimeout(std::chrono::seconds(config.bodyTimeoutSeconds))
                    .keepaliveTimeout(keepalive);
    impl_->endpoint->init(opts);
    impl_->endpoint->setHandler(Http::make_handler<RestHandler>(impl_->state, publicRoutes(!config.metricsListen)));
    if (config.metricsListen) {
        // One reactor is plenty for a scraper every few seconds.
        impl_->metricsEndpoint =
            std::make_unique<Http::Endpoint>(Address(config.metricsListen->host, Port(config.metricsListen->port)));
        impl_->metricsEndpoint->init(opts.threads(1));
        impl_->metricsEndpoint->setHandler(Http::make_handler<RestHandler>(impl_->state, metricsRoutes()));
        impl_->metricsEndpoint->serveThreaded();
    }
    impl_->endpoint->serveThreaded();
    widenAcceptQueue(port());
}

uint16_t HttpServer::port() const { return impl_->endpoint ? static_cast<uint16_t>(impl_->endpoint->getPort()) : 0; }

uint16_t HttpServer::metricsPort() const {
    return impl_->metricsEndpoint ? static_cast<uint16_t>(impl_->metricsEndpoint->getPort()) : 0;
}

void HttpServer::shutdown() {
    for (auto* endpoint : {&impl_->endpoint, &impl_->metricsEndpoint})
        if (*endpoint) {
            (*endpoint)->shutdown();
            endpoint->reset();
        }
}

}  // namespace omnichat
