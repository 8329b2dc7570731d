#pragma once
#include <memory>

namespace omnichat {

class ChatService;
class JwtAuthenticator;
class Metrics;
class Timer;
struct Config;

// The REST front end on Pistache.
class HttpServer {
public:
    HttpServer(const Config& config, ChatService& chat, const JwtAuthenticator& auth, Timer& timer, Metrics& metrics);
    ~HttpServer();
    // Binds and starts the reactor threads; throws when the port is taken.
    void start();
    // The port actually bound (useful with port 0).
    uint16_t port() const;
    // Stop taking new work: /readyz answers 503 and new API requests get
    // 503 shutting_down; what is open runs on.
    void drain();
    // Requests accepted and not yet answered (streams included).
    int openRequests() const;
    void shutdown();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace omnichat
