#pragma once
#include <memory>
#include <string>

namespace Pistache::Http {
class Request;
class ResponseWriter;
}  // namespace Pistache::Http
namespace Pistache::Tcp {
class Peer;
}

namespace omnichat {

struct Failure;

// An error as the client sees it.
struct ApiError {
    int status;
    std::string code;
    std::string message;
    int retryAfterSeconds = -1;
};
// The HTTP status and code of a domain failure; logs the detail.
ApiError apiError(const Failure& f);
// {"error": {"code", "message"}}
std::string errorBody(const ApiError& e);

// Sends one response, from any thread, exactly once. Holds the Pistache
// writer moved out of the handler so the reactor is free while work runs.
class Responder {
public:
    Responder(const Pistache::Http::Request& request, Pistache::Http::ResponseWriter writer);

    void json(int status, const std::string& body);
    void noContent();
    // {"error": {"code", "message"}}; retryAfterSeconds >= 0 adds Retry-After.
    void error(int status, const std::string& code, const std::string& message, int retryAfterSeconds = -1);
    void failure(const Failure& f);
    // The connection, for a response written by hand (SSE).
    std::weak_ptr<Pistache::Tcp::Peer> peer() const;
    bool keepAlive() const { return keepAlive_; }

private:
    void send(int status, const std::string& body, bool isJson, int retryAfterSeconds);
    std::shared_ptr<Pistache::Http::ResponseWriter> writer_;
    bool keepAlive_;
};

using ResponderPtr = std::shared_ptr<Responder>;

}  // namespace omnichat
