#pragma once
#include <memory>
#include <string>

namespace Pistache::Http {
class Request;
class ResponseWriter;
}  // namespace Pistache::Http

namespace omnichat {

struct Failure;

// Sends one response, from any thread, exactly once. Holds the Pistache
// writer moved out of the handler so the reactor is free while work runs.
class Responder {
public:
    Responder(const Pistache::Http::Request& request, Pistache::Http::ResponseWriter writer);

    void json(int status, const std::string& body);
    void noContent();
    // {"error": {"code", "message"}}; retryAfterSeconds >= 0 adds Retry-After.
    void error(int status, const std::string& code, const std::string& message, int retryAfterSeconds = -1);
    // Maps a domain failure to its status and logs the detail server-side.
    void failure(const Failure& f);

private:
    void send(int status, const std::string& body, bool isJson, int retryAfterSeconds);
    std::shared_ptr<Pistache::Http::ResponseWriter> writer_;
    bool keepAlive_;
};

using ResponderPtr = std::shared_ptr<Responder>;

}  // namespace omnichat
