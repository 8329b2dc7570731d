#include "http_server.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "auth/jwt.hpp"
#include "chat/chat_service.hpp"
#include "common/ids.hpp"
#include "config/config.hpp"
#include "observability/metrics.hpp"
#include "request_bodies.hpp"
#include "routes.hpp"
#include "transport/edge.hpp"

namespace omnichat {

namespace {

using Handler = void (*)(RouteContext&);

struct Route {
    const char* method;
    const char* pattern;  // "{id}" (any name in braces) matches one segment
    Handler handler;
    bool authenticated = true;
    bool readsBody = false;
};

// The path's segments, percent-decoded; nullopt when an escape is malformed.
std::optional<std::vector<std::string>> splitPath(std::string_view path, bool decode) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < path.size()) {
        size_t j = path.find('/', i);
        if (j == std::string_view::npos) j = path.size();
        if (j > i) {
            auto segment = path.substr(i, j - i);
            if (!decode) {
                out.emplace_back(segment);
            } else if (auto decoded = percentDecode(segment, false)) {
                out.push_back(std::move(*decoded));
            } else {
                return std::nullopt;
            }
        }
        i = j + 1;
    }
    return out;
}

// Routes with their patterns split into segments once.
struct RouteTable {
    explicit RouteTable(std::vector<Route> table) : routes(std::move(table)) {
        for (const auto& r : routes) patterns.push_back(*splitPath(r.pattern, false));
    }
    std::vector<Route> routes;
    std::vector<std::vector<std::string>> patterns;  // by index in routes
};

// Everything on the public address; /metrics too unless it has one of its
// own.
RouteTable publicRoutes(bool withMetrics) {
    std::vector<Route> table{
        {"POST", "/conversations", &createConversation, true, true},
        {"GET", "/conversations/project/{project_id}", &listProjectConversations},
        {"GET", "/conversations/{id}", &getConversation},
        {"DELETE", "/conversations/{id}", &deleteConversation},
        {"GET", "/conversations/{id}/messages", &listMessages},
        {"POST", "/conversations/{id}/messages", &sendMessage, true, true},
        {"POST", "/v1/chat/completions", &chatCompletions, true, true},
        {"GET", "/v1/models", &listModels},
        // For probes and scrapers, which hold no token.
        {"GET", "/healthz", &healthz, false},
        {"GET", "/readyz", &readyz, false},
        {"GET", "/openapi.json", &openApiDocument, false},
        {"GET", "/docs", &docsPage, false},
        {"GET", "/docs/{file}", &docsFile, false},
    };
    if (withMetrics) table.push_back({"GET", "/metrics", &metrics, false});
    return RouteTable(std::move(table));
}

RouteTable metricsRoutes() { return RouteTable({{"GET", "/metrics", &metrics, false}}); }

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
std::string requestId(const IncomingRequest& request) {
    if (const auto* v = request.header("x-request-id")) {
        bool plain = !v->empty() && v->size() <= 128 && std::all_of(v->begin(), v->end(), [](unsigned char c) {
            return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':';
        });
        if (plain) return *v;
    }
    return newUuid();
}

// The method as a metrics label: the ones a client of this API sends, else
// "other", so no client-chosen text becomes a series.
const char* methodLabel(std::string_view method) {
    for (const char* known : {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
        if (method == known) return known;
    return "other";
}

std::optional<std::string> bearerToken(const IncomingRequest& request) {
    const auto* v = request.header("authorization");
    if (!v || v->size() < 7) return std::nullopt;
    std::string scheme = v->substr(0, 7);
    std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
    if (scheme != "bearer ") return std::nullopt;
    auto token = v->substr(7);
    token.erase(0, token.find_first_not_of(' '));
    return token;
}

// Routes requests of one listening address: finds the route, checks the
// token and the limits as soon as the head is in (before any body is read),
// and runs the route once the body is.
class Router : public Dispatcher {
public:
    Router(ServerState& state, RouteTable routes) : state_(state), routes_(std::move(routes)) {}

    std::optional<Admitted> admit(const std::shared_ptr<Connection>& connection, const IncomingRequest& head) override {
        RequestRecord record{requestId(head), methodLabel(head.method), "-", "-"};
        auto respond = std::make_shared<Responder>(connection, head.http10, head.method == "HEAD", std::move(record),
                                                   state_.metrics, state_.open);
        try {
            return route(head, respond);
        } catch (const std::exception& e) {
            spdlog::error("request {}: unhandled error in {}: {}", respond->record().id, respond->record().route,
                          e.what());
            respond->error(500, "internal_error", "internal error");
            return std::nullopt;
        }
    }

    void refuse(const std::shared_ptr<Connection>& connection, const ParseError& error) override {
        RequestRecord record{newUuid(), "-", "-", "-"};
        auto respond =
            std::make_shared<Responder>(connection, false, false, std::move(record), state_.metrics, state_.open);
        spdlog::warn("request {} refused by the edge ({}): {}", respond->record().id, error.code, error.message);
        respond->error(error.status, error.code, error.message);
    }

    std::string connectionRefusal() override {
        state_.metrics.observeRequest("-", "-", 503, 0);
        auto id = newUuid();
        spdlog::info("access method=- route=- status=503 ms=0.00 user=- request_id={} (too many connections)", id);
        std::string body = R"({"error":{"code":"too_many_connections","message":"the server holds as many )"
                           R"(connections as it may, try again","request_id":")" +
                           id + "\"}}";
        return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\nConnection: close\r\nRetry-After: 1\r\nX-Request-Id: " + id +
               "\r\n\r\n" + body;
    }

private:
    std::optional<Admitted> route(const IncomingRequest& head, const ResponderPtr& respond) {
        auto segments = splitPath(head.path, true);
        if (!segments) {
            respond->error(400, "invalid_path", "the path holds a malformed %-escape");
            return std::nullopt;
        }
        std::vector<std::string> params;
        const Route* found = nullptr;
        bool pathKnown = false;
        for (size_t i = 0; i < routes_.routes.size(); ++i) {
            const auto& r = routes_.routes[i];
            std::vector<std::string> p;
            if (!matches(routes_.patterns[i], *segments, p)) continue;
            pathKnown = true;
            // A literal route ("project/{}") wins over a parameter one.
            if (head.method == r.method && !found) {
                respond->record().route = r.pattern;
                found = &r;
                params = std::move(p);
            }
        }
        if (!found) {
            if (!pathKnown)
                respond->error(404, "not_found", "no such route");
            else
                respond->error(405, "method_not_allowed", "method not allowed on this route");
            return std::nullopt;
        }
        std::string userId;
        if (found->authenticated) {
            if (state_.draining) {
                respond->closeAfterResponse();
                respond->error(503, "shutting_down", "the server is shutting down, try again", 1);
                return std::nullopt;
            }
            auto token = bearerToken(head);
            auto user = token ? state_.auth.verify(*token, nowUnixMs() / 1000) : std::nullopt;
            if (!user) {
                respond->error(401, "unauthorized", "a valid bearer token is required");
                return std::nullopt;
            }
            userId = std::move(*user);
            respond->record().user = userId;
            if (int wait = state_.limiter.admitRequest(userId, nowUnixMs())) {
                respond->error(429, "rate_limited", "too many requests, slow down", wait);
                return std::nullopt;
            }
        }
        Handler handler = found->handler;
        return Admitted{found->readsBody, [this, respond, handler, userId = std::move(userId),
                                           params = std::move(params)](IncomingRequest&& request) mutable {
                            RouteContext ctx{request,     respond,       std::move(userId), std::move(params),
                                             state_.chat, state_.config, state_.timer,      state_};
                            respond->routed();
                            try {
                                handler(ctx);
                            } catch (const std::exception& e) {
                                spdlog::error("request {}: unhandled error in {}: {}", respond->record().id,
                                              respond->record().route, e.what());
                                respond->error(500, "internal_error", "internal error");
                            }
                        }};
    }

    ServerState& state_;
    RouteTable routes_;
};

}  // namespace

void overloaded(RouteContext& ctx) { ctx.respond->error(503, "overloaded", "the server is busy, try again", 1); }

bool requireUuidParam(RouteContext& ctx, size_t index) {
    if (isUuid(ctx.params[index])) return true;
    ctx.respond->error(400, "invalid_id", "the id in the path must be a UUID");
    return false;
}

std::optional<nlohmann::json> readJsonObject(RouteContext& ctx, bool required) {
    const auto* type = ctx.request.header("content-type");
    auto parsed = parseJsonObject(ctx.request.body, type ? std::string_view(*type) : std::string_view(), required);
    if (auto* e = std::get_if<ApiError>(&parsed)) {
        ctx.respond->error(e->status, e->code, e->message);
        return std::nullopt;
    }
    return std::move(std::get<nlohmann::json>(parsed));
}

namespace {

EdgeSettings edgeSettings(const Config& config, unsigned reactorThreads) {
    EdgeSettings s;
    s.limits.maxHeaderBytes = config.maxHeaderBytes;
    s.limits.maxBodyBytes = config.maxBodyBytes;
    s.maxConnections = config.maxConnections;
    s.maxConnectionsPerAddress = config.maxConnectionsPerAddress;
    s.headerTimeout = std::chrono::seconds(config.headerTimeoutSeconds);
    s.bodyTimeout = std::chrono::seconds(config.bodyTimeoutSeconds);
    s.keepaliveTimeout = std::chrono::seconds(config.keepaliveTimeoutSeconds);
    s.sendTimeout = std::chrono::seconds(config.sendTimeoutSeconds);
    s.reactorThreads = reactorThreads;
    return s;
}

}  // namespace

struct HttpServer::Impl {
    ServerState state;
    std::unique_ptr<Router> router, metricsRouter;
    std::unique_ptr<Edge> edge, metricsEdge;  // metricsEdge: with server.metrics_listen
    uint16_t port = 0, metricsPort = 0;
};

HttpServer::HttpServer(const Config& config, ChatService& chat, const JwtAuthenticator& auth, Timer& timer,
                       Metrics& metrics, const std::string& docsDirectory)
    : impl_(
          new Impl{{config, chat, auth, timer, metrics,
                    RateLimiter(config.limits.requestsPerMinute, config.limits.burst, config.limits.concurrentStreams)},
                   nullptr,
                   nullptr,
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
        impl_->state.docsFiles[name] = {std::make_shared<const std::string>(content.str()), type};
    }
}

HttpServer::~HttpServer() { shutdown(); }

void HttpServer::drain() { impl_->state.draining = true; }

int HttpServer::openRequests() const { return impl_->state.open.load(); }

void HttpServer::start() {
    const Config& config = impl_->state.config;
    impl_->router = std::make_unique<Router>(impl_->state, publicRoutes(!config.metricsListen));
    impl_->edge = std::make_unique<Edge>(edgeSettings(config, config.reactorThreads), *impl_->router);
    if (config.metricsListen) {
        impl_->metricsRouter = std::make_unique<Router>(impl_->state, metricsRoutes());
        // One reactor is plenty for a scraper every few seconds.
        impl_->metricsEdge = std::make_unique<Edge>(edgeSettings(config, 1), *impl_->metricsRouter);
        impl_->metricsPort = impl_->metricsEdge->listen(config.metricsListen->host, config.metricsListen->port);
    }
    impl_->port = impl_->edge->listen(config.listen.host, config.listen.port);
}

uint16_t HttpServer::port() const { return impl_->port; }

uint16_t HttpServer::metricsPort() const { return impl_->metricsPort; }

size_t HttpServer::connections() const { return impl_->edge ? impl_->edge->connections() : 0; }

void HttpServer::shutdown() {
    for (auto* edge : {&impl_->edge, &impl_->metricsEdge})
        if (*edge) (*edge)->shutdown();
}

}  // namespace omnichat
