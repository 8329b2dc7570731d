// Routes for probes, scrapers and API clients: GET /healthz, /readyz,
// /metrics, /openapi.json. No token: they tell nothing about any user's data.
#include "chat/chat_service.hpp"
#include "observability/metrics.hpp"
#include "routes.hpp"

namespace omnichat {

extern const char* const kOpenApiDocument;  // api/openapi/openapi.json, compiled in

void healthz(RouteContext& ctx) { ctx.respond->json(200, R"({"status":"ok"})"); }

// Ready: not draining, and storage answers (the plugins are loaded before
// the port opens).
void readyz(RouteContext& ctx) {
    if (ctx.server.draining) return ctx.respond->json(503, R"({"status":"draining"})");
    auto respond = ctx.respond;
    if (!ctx.chat.ping([respond](Outcome<Done> out) {
            if (std::holds_alternative<Done>(out)) return respond->json(200, R"({"status":"ready"})");
            respond->json(503, R"({"status":"storage_unavailable"})");
        }))
        ctx.respond->json(503, R"({"status":"overloaded"})");
}

void metrics(RouteContext& ctx) {
    ctx.respond->text(200, ctx.server.metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
}

void openApiDocument(RouteContext& ctx) { ctx.respond->json(200, kOpenApiDocument); }

}  // namespace omnichat
