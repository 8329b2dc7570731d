#pragma once
#include <Poco/Net/StreamSocket.h>
#include <omnichat/sse.hpp>

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <string>

namespace omnichat::testing {

// A raw HTTP/1.1 client reading a text/event-stream response event by
// event, as it arrives, so tests can assert on arrival order.
class SseClient {
public:
    struct Item {
        bool comment = false;
        std::string event;  // or the comment text
        std::string data;
    };

    SseClient(uint16_t port, const std::string& path, const std::string& token, const std::string& body,
              bool acceptHeader = true);

    int status() const { return status_; }
    const std::map<std::string, std::string>& headers() const { return headers_; }
    // The next event or comment; nullopt when the response ended or
    // nothing arrived within `timeout`.
    std::optional<Item> next(std::chrono::milliseconds timeout = std::chrono::seconds(20));
    // Reads to the end: every remaining event (comments skipped).
    std::vector<Item> rest();
    // Closes the connection (a client going away mid-stream).
    void close() { socket_.close(); }
    // The body of a non-streaming answer.
    const std::string& plainBody() const { return plain_; }

private:
    bool fill(std::chrono::milliseconds timeout);  // more raw bytes; false at end
    void decodeChunks();

    Poco::Net::StreamSocket socket_;
    int status_ = 0;
    std::map<std::string, std::string> headers_;
    std::string raw_;  // undecoded chunked bytes
    std::string plain_;
    bool ended_ = false;
    std::deque<Item> items_;
    omnichat::SseParser parser_;
};

}  // namespace omnichat::testing
