// Routes for probes, scrapers and API clients: GET /healthz, /readyz,
// /metrics, /openapi.json, /docs. No token: they tell nothing about any user's data.
#include <nlohmann/json.hpp>

#include "chat/chat_service.hpp"
#include "observability/metrics.hpp"
#include "routes.hpp"

namespace omnichat {

extern const char* const kOpenApiDocument;  // api/openapi/openapi.json, compiled in

void healthz(RouteContext& ctx) { ctx.respond->json(200, R"({"status":"ok"})"); }

// Ready: not draining, and storage answers (the plugins are loaded before
// the port opens). Optional provider instances that did not start are
// named: the service runs without them.
void readyz(RouteContext& ctx) {
    if (ctx.server.draining) return ctx.respond->json(503, R"({"status":"draining"})");
    auto respond = ctx.respond;
    auto missing = nlohmann::json::array();
    for (const auto& name : ctx.chat.missingProviders()) missing.push_back(name);
    if (!ctx.chat.ping([respond, missing = std::move(missing)](domain::Outcome<domain::Done> out) {
            if (!std::holds_alternative<domain::Done>(out))
                return respond->json(503, R"({"status":"storage_unavailable"})");
            if (missing.empty()) return respond->json(200, R"({"status":"ready"})");
            respond->json(200, nlohmann::json{{"status", "ready"}, {"missing_providers", missing}}.dump());
        }))
        ctx.respond->json(503, R"({"status":"overloaded"})");
}

void metrics(RouteContext& ctx) {
    ctx.respond->text(200, ctx.server.metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
}

void openApiDocument(RouteContext& ctx) { ctx.respond->json(200, kOpenApiDocument); }

// Interactive documentation, as the FastAPI service offered: Swagger UI
// reading /openapi.json.
void docsPage(RouteContext& ctx) {
    if (ctx.server.docsFiles.empty())
        return ctx.respond->error(404, "docs_not_installed", "the documentation files are not installed");
    ctx.respond->text(200, R"(<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>omnichat API</title><link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui"});</script>
</body>
</html>
)",
                      "text/html; charset=utf-8");
}

void docsFile(RouteContext& ctx) {
    auto it = ctx.server.docsFiles.find(ctx.params[0]);
    if (it == ctx.server.docsFiles.end()) return ctx.respond->error(404, "not_found", "no such file");
    ctx.respond->shared(200, it->second.first, it->second.second);
}

}  // namespace omnichat
