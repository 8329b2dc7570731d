#include "raw_client.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

namespace omnichat::testing {

RawClient::RawClient(uint16_t port, int receiveBuffer) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    if (receiveBuffer > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receiveBuffer, sizeof receiveBuffer);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        ::close(fd_);
        throw std::runtime_error("connect failed");
    }
}

RawClient::~RawClient() {
    if (fd_ >= 0) ::close(fd_);
}

bool RawClient::send(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
        ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        sent += static_cast<size_t>(n);
    }
    return true;
}

bool RawClient::fill(std::chrono::steady_clock::time_point deadline) {
    if (ended_) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd_, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char chunk[65536];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
        ended_ = true;
        return false;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
}

std::string RawClient::receive(size_t count, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (buffer_.size() < count && fill(deadline)) {
    }
    std::string out = buffer_.substr(0, std::min(count, buffer_.size()));
    buffer_.erase(0, out.size());
    return out;
}

std::optional<RawResponse> RawClient::response(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    size_t headEnd;
    while ((headEnd = buffer_.find("\r\n\r\n")) == std::string::npos)
        if (!fill(deadline)) return std::nullopt;
    RawResponse out;
    std::string head = buffer_.substr(0, headEnd);
    if (head.rfind("HTTP/1.", 0) != 0 || head.size() < 12) return std::nullopt;
    out.status = std::stoi(head.substr(9, 3));
    size_t at = head.find("\r\n");
    while (at != std::string::npos) {
        size_t next = head.find("\r\n", at + 2);
        std::string line = head.substr(at + 2, next == std::string::npos ? std::string::npos : next - at - 2);
        auto colon = line.find(':');
        if (colon != std::string::npos) {
            std::string name = line.substr(0, colon);
            std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
            std::string value = line.substr(colon + 1);
            value.erase(0, value.find_first_not_of(' '));
            out.headers[name] = value;
        }
        at = next;
    }
    buffer_.erase(0, headEnd + 4);
    if (out.status / 100 == 1 || out.status == 204 || out.status == 304) return out;  // no body
    if (out.headers.count("content-length")) {
        size_t length = std::stoul(out.headers["content-length"]);
        while (buffer_.size() < length)
            if (!fill(deadline)) return std::nullopt;
        out.body = buffer_.substr(0, length);
        buffer_.erase(0, length);
        return out;
    }
    if (out.headers["transfer-encoding"] == "chunked") {
        for (;;) {
            size_t lineEnd;
            while ((lineEnd = buffer_.find("\r\n")) == std::string::npos)
                if (!fill(deadline)) return std::nullopt;
            size_t size = std::stoul(buffer_.substr(0, lineEnd), nullptr, 16);
            while (buffer_.size() < lineEnd + 2 + size + 2)
                if (!fill(deadline)) return std::nullopt;
            if (buffer_.compare(lineEnd + 2 + size, 2, "\r\n") != 0) return std::nullopt;
            out.body.append(buffer_, lineEnd + 2, size);
            buffer_.erase(0, lineEnd + 2 + size + 2);
            if (size == 0) return out;
        }
    }
    // Neither: the body lasts until the connection ends.
    while (fill(deadline)) {
    }
    out.body = std::move(buffer_);
    buffer_.clear();
    return out;
}

std::optional<std::string> RawClient::untilClosed(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (fill(deadline)) {
    }
    if (!ended_) return std::nullopt;
    std::string out = std::move(buffer_);
    buffer_.clear();
    return out;
}

bool RawClient::closedWithin(std::chrono::milliseconds timeout) { return untilClosed(timeout).has_value(); }

void RawClient::finish() { ::shutdown(fd_, SHUT_WR); }

void RawClient::reset() {
    linger hard{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    ::close(fd_);
    fd_ = -1;
    ended_ = true;
}

}  // namespace omnichat::testing
