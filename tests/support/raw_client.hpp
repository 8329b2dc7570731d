#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace omnichat::testing {

// One HTTP response as it came over the wire.
struct RawResponse {
    int status = 0;
    std::map<std::string, std::string> headers;  // names lowercased
    std::string body;                            // de-chunked
};

// A loopback TCP client that writes exactly the bytes it is given, for
// tests of what a server does with malformed, partial, slow or abandoned
// requests. Every read has a deadline; a test that expects bytes that never
// come fails instead of hanging.
class RawClient {
public:
    // `receiveBuffer` > 0 shrinks the socket's receive buffer (a slow
    // reader's small window).
    explicit RawClient(uint16_t port, int receiveBuffer = 0);
    ~RawClient();
    RawClient(const RawClient&) = delete;
    RawClient& operator=(const RawClient&) = delete;

    // false when the server has closed or reset the connection.
    bool send(const std::string& bytes);
    // Reads until `count` bytes have come (or the connection ends or the
    // timeout passes); returns what came.
    std::string receive(size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // One whole response (Content-Length or chunked); nullopt when the
    // connection ended first or the bytes are not a response.
    std::optional<RawResponse> response(std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // Everything until the server closes; nullopt on timeout.
    std::optional<std::string> untilClosed(std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // Whether the server ended the connection within `timeout` (FIN or
    // reset), discarding whatever it sent first.
    bool closedWithin(std::chrono::milliseconds timeout);

    // Our side: a FIN (the socket stays open, unread), or a reset.
    void finish();
    void reset();
    int fd() const { return fd_; }

private:
    // Appends what arrives within `timeout` to buffer_; false when nothing
    // more will (closed, reset, or timed out).
    bool fill(std::chrono::steady_clock::time_point deadline);
    int fd_ = -1;
    std::string buffer_;  // received, not yet returned
    bool ended_ = false;
};

}  // namespace omnichat::testing
