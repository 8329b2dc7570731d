#pragma once
#include <atomic>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "limits/rate_limiter.hpp"
#include "responder.hpp"
#include "transport/incoming_request.hpp"

namespace omnichat {

class ChatService;
class JwtAuthenticator;
class Metrics;
class Timer;
struct Config;

// What the server's routes share, for its whole life.
struct ServerState {
    const Config& config;
    ChatService& chat;
    const JwtAuthenticator& auth;
    Timer& timer;
    Metrics& metrics;
    RateLimiter limiter;
    // Swagger UI's files for /docs, by name: content and media type.
    std::map<std::string, std::pair<std::shared_ptr<const std::string>, std::string>> docsFiles{};
    std::atomic<bool> draining{false};  // SIGTERM: finishing what is open
    std::atomic<int> open{0};           // requests not yet answered
};

// Everything a route handler needs. Handlers run on a reactor thread: they
// validate, hand the work to ChatService and return; the reply is sent
// later through `respond`.
struct RouteContext {
    const IncomingRequest& request;
    ResponderPtr respond;
    std::string userId;
    std::vector<std::string> params;  // path segments matched by {}
    ChatService& chat;
    const Config& config;
    Timer& timer;
    ServerState& server;
};

// conversations.cpp
void createConversation(RouteContext& ctx);
void getConversation(RouteContext& ctx);
void deleteConversation(RouteContext& ctx);
void listProjectConversations(RouteContext& ctx);
// messages.cpp
void listMessages(RouteContext& ctx);
void sendMessage(RouteContext& ctx);

// openai_chat.cpp: OpenAI's chat completions API, stateless.
void chatCompletions(RouteContext& ctx);
void listModels(RouteContext& ctx);

// operations.cpp: probes, metrics and the API description; no token.
void healthz(RouteContext& ctx);
void readyz(RouteContext& ctx);
void metrics(RouteContext& ctx);
void openApiDocument(RouteContext& ctx);
void docsPage(RouteContext& ctx);
void docsFile(RouteContext& ctx);

// Shared by the route files.
void overloaded(RouteContext& ctx);
// 400 unless ctx.params[index] is a UUID; returns whether it is.
bool requireUuidParam(RouteContext& ctx, size_t index);
// The body as a JSON object, or nullopt after answering 415 or 400. An
// empty body is an empty object unless `required`.
std::optional<nlohmann::json> readJsonObject(RouteContext& ctx, bool required);

}  // namespace omnichat
