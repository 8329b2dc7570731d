#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace omnichat {

class ChatService;
class JwtAuthenticator;
class Metrics;
class Timer;
struct Config;

// The REST front end on Pistache.
class HttpServer {
public:
    // `docsDirectory`: where Swagger UI's files are (scripts/fetch-docs-ui.sh);
    // without them /docs answers 404.
    HttpServer(const Config& config, ChatService& chat, const JwtAuthenticator& auth, Timer& timer, Metrics& metrics,
               const std::string& docsDirectory);
    ~HttpServer();
    // Binds and starts the reactor threads; throws when the port is taken.
    void start();
    // The port actually bound (useful with port 0).
    uint16_t port() const;
    // The metrics address's port; 0 when /metrics is on the public one.
    uint16_t metricsPort() const;
    // Stop taking new work: /readyz answers 503 and new API requests get
    // 503 shutting_down; what is open runs on.
    void drain();
    // Requests accepted and not yet answered (streams included).
    int openRequests() const;
    // Client connections open on the public address.
    size_t connections() const;
    void shutdown();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace omnichat
