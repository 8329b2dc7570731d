#include "sse_client.hpp"

#include <algorithm>
#include <stdexcept>

namespace omnichat::testing {

SseClient::SseClient(uint16_t port, const std::string& path, const std::string& token, const std::string& body,
                     bool acceptHeader)
    : socket_(Poco::Net::SocketAddress("127.0.0.1", port)),
      parser_(
          [this](const omnichat::SseEvent& e) {
              items_.push_back({false, e.event, e.data});
          },
          [this](std::string_view c) {
              items_.push_back({true, std::string(c), ""});
          }) {
    std::string request = "POST " + path + " HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + token +
                          "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                          "\r\n" + (acceptHeader ? "Accept: text/event-stream\r\n" : "") + "\r\n" + body;
    socket_.sendBytes(request.data(), static_cast<int>(request.size()));
    while (raw_.find("\r\n\r\n") == std::string::npos)
        if (!fill(std::chrono::seconds(20))) throw std::runtime_error("no response head");
    auto end = raw_.find("\r\n\r\n");
    std::string head = raw_.substr(0, end);
    raw_.erase(0, end + 4);
    status_ = std::stoi(head.substr(9, 3));
    size_t pos = head.find("\r\n");
    while (pos != std::string::npos) {
        size_t next = head.find("\r\n", pos + 2);
        std::string line = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
        if (auto colon = line.find(':'); colon != std::string::npos) {
            std::string key = line.substr(0, colon);
            std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
            headers_[key] = line.substr(line.find_first_not_of(' ', colon + 1));
        }
        pos = next;
    }
    if (headers_["transfer-encoding"] != "chunked") {
        // A plain response: read its Content-Length worth.
        size_t length = std::stoul(headers_.count("content-length") ? headers_["content-length"] : "0");
        while (raw_.size() < length && fill(std::chrono::seconds(20))) {
        }
        plain_ = raw_.substr(0, length);
        ended_ = true;
    }
}

bool SseClient::fill(std::chrono::milliseconds timeout) {
    socket_.setReceiveTimeout(Poco::Timespan(timeout.count() * 1000));
    char buf[8192];
    try {
        int n = socket_.receiveBytes(buf, sizeof buf);
        if (n <= 0) return false;
        raw_.append(buf, static_cast<size_t>(n));
        return true;
    } catch (const Poco::TimeoutException&) {
        return false;
    }
}

void SseClient::decodeChunks() {
    for (;;) {
        auto lineEnd = raw_.find("\r\n");
        if (lineEnd == std::string::npos) return;
        size_t size = std::stoul(raw_.substr(0, lineEnd), nullptr, 16);
        if (raw_.size() < lineEnd + 2 + size + 2) return;
        if (size == 0) {
            ended_ = true;
            raw_.clear();
            return;
        }
        parser_.feed(std::string_view(raw_).substr(lineEnd + 2, size));
        raw_.erase(0, lineEnd + 2 + size + 2);
    }
}

std::optional<SseClient::Item> SseClient::next(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        decodeChunks();
        if (!items_.empty()) {
            auto item = items_.front();
            items_.pop_front();
            return item;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (ended_ || left.count() <= 0 || !fill(left)) return std::nullopt;
    }
}

std::vector<SseClient::Item> SseClient::rest() {
    std::vector<Item> out;
    while (auto item = next())
        if (!item->comment) out.push_back(*item);
    return out;
}

}  // namespace omnichat::testing
