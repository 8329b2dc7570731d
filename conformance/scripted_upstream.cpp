#include "scripted_upstream.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace omnichat::conformance {
namespace {

bool sendAll(int fd, const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
        ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        sent += static_cast<size_t>(n);
    }
    return true;
}

// Whether the peer closed its side (or the connection broke).
bool peerGone(int fd) {
    pollfd p{fd, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) return true;
    char c;
    return ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

// Reads one request from `fd` into `out`, with `buffer` holding what was
// read beyond the previous one. false: the connection ended.
bool readRequest(int fd, std::string& buffer, RecordedRequest& out) {
    size_t headEnd;
    char chunk[16384];
    while ((headEnd = buffer.find("\r\n\r\n")) == std::string::npos) {
        ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) return false;
        buffer.append(chunk, static_cast<size_t>(n));
    }
    const std::string head = buffer.substr(0, headEnd);
    buffer.erase(0, headEnd + 4);
    size_t lineEnd = head.find("\r\n");
    const std::string line = head.substr(0, lineEnd);
    const size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
    if (sp1 == std::string::npos || sp2 <= sp1) return false;
    out = {};
    out.method = line.substr(0, sp1);
    out.path = line.substr(sp1 + 1, sp2 - sp1 - 1);
    for (size_t at = lineEnd; at != std::string::npos && at < head.size();) {
        size_t next = head.find("\r\n", at + 2);
        const std::string header = head.substr(at + 2, next == std::string::npos ? std::string::npos : next - at - 2);
        if (auto colon = header.find(':'); colon != std::string::npos) {
            size_t value = header.find_first_not_of(' ', colon + 1);
            out.headers[lower(header.substr(0, colon))] = value == std::string::npos ? "" : header.substr(value);
        }
        at = next;
    }
    size_t length = 0;
    if (auto it = out.headers.find("content-length"); it != out.headers.end()) length = std::stoul(it->second);
    while (buffer.size() < length) {
        ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) return false;
        buffer.append(chunk, static_cast<size_t>(n));
    }
    out.body = buffer.substr(0, length);
    buffer.erase(0, length);
    return true;
}

std::string chunked(const std::string& piece) {
    char size[24];
    std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    return size + piece + "\r\n";
}

}  // namespace

ScriptedUpstream::ScriptedUpstream() {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int on = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener_, SOMAXCONN) != 0)
        throw std::runtime_error("the scripted upstream cannot listen on loopback");
    socklen_t size = sizeof address;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size);
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { acceptLoop(); });
}

ScriptedUpstream::~ScriptedUpstream() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        for (int fd : open_) ::shutdown(fd, SHUT_RDWR);
    }
    changed_.notify_all();
    ::shutdown(listener_, SHUT_RDWR);
    acceptor_.join();
    ::close(listener_);
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return serving_ == 0; });
}

std::string ScriptedUpstream::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

void ScriptedUpstream::script(Script script) {
    std::lock_guard lock(mutex_);
    script_ = std::move(script);
}

void ScriptedUpstream::release() {
    std::lock_guard lock(mutex_);
    ++releases_;
    changed_.notify_all();
}

std::vector<RecordedRequest> ScriptedUpstream::requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
}

bool ScriptedUpstream::waitRequests(size_t count, int seconds) const {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(seconds), [&] { return requests_.size() >= count; });
}

bool ScriptedUpstream::waitClientsGone(size_t count, int seconds) const {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(seconds), [&] { return clientsGone_ >= count; });
}

void ScriptedUpstream::acceptLoop() {
    for (;;) {
        int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            return;  // shut down
        }
        int on = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        std::lock_guard lock(mutex_);
        if (stopping_) {
            ::close(fd);
            return;
        }
        ++connections_;
        ++serving_;
        open_.push_back(fd);
        std::thread([this, fd] {
            serve(fd);
            std::lock_guard done(mutex_);
            open_.erase(std::find(open_.begin(), open_.end(), fd));
            ::close(fd);
            --serving_;
            changed_.notify_all();
        }).detach();
    }
}

// Holds until release() or stop; false when the client left meanwhile (or
// the upstream stops).
bool ScriptedUpstream::hold(int fd, std::unique_lock<std::mutex>& lock) {
    for (;;) {
        if (stopping_) return false;
        if (releases_ > 0) {
            --releases_;
            return true;
        }
        if (peerGone(fd)) {
            ++clientsGone_;
            changed_.notify_all();
            return false;
        }
        // Woken by release() or stop; the client's leaving is looked for
        // every 10 ms.
        changed_.wait_for(lock, std::chrono::milliseconds(10));
    }
}

void ScriptedUpstream::serve(int fd) {
    std::string buffer;
    RecordedRequest request;
    while (readRequest(fd, buffer, request)) {
        Script script;
        {
            std::lock_guard lock(mutex_);
            requests_.push_back(request);
            script = script_;
        }
        changed_.notify_all();
        ScriptedAnswer answer = script ? script(request) : ScriptedAnswer{404, {}, {}, SIZE_MAX, false, false};
        auto gone = [&] {
            std::lock_guard lock(mutex_);
            ++clientsGone_;
            changed_.notify_all();
        };
        if (answer.holdHead) {
            std::unique_lock lock(mutex_);
            if (!hold(fd, lock)) return;
        }
        const bool whole = answer.holdBefore == SIZE_MAX && !answer.cut && answer.pieces.size() <= 1;
        std::string head = "HTTP/1.1 " + std::to_string(answer.status) + " Scripted\r\n";
        for (const auto& [name, value] : answer.headers) head += name + ": " + value + "\r\n";
        head += whole
                    ? "Content-Length: " + std::to_string(answer.pieces.empty() ? 0 : answer.pieces[0].size()) + "\r\n"
                    : "Transfer-Encoding: chunked\r\n";
        head += "\r\n";
        if (whole) {
            if (!sendAll(fd, head + (answer.pieces.empty() ? "" : answer.pieces[0]))) return gone();
            continue;
        }
        if (!sendAll(fd, head)) return gone();
        for (size_t i = 0; i < answer.pieces.size(); ++i) {
            if (i == answer.holdBefore) {
                std::unique_lock lock(mutex_);
                if (!hold(fd, lock)) return;
            }
            if (!sendAll(fd, chunked(answer.pieces[i]))) return gone();
        }
        if (answer.holdBefore == answer.pieces.size()) {
            std::unique_lock lock(mutex_);
            if (!hold(fd, lock)) return;
        }
        if (answer.cut) return;  // closed by the caller, unfinished
        if (!sendAll(fd, "0\r\n\r\n")) return gone();
    }
}

}  // namespace omnichat::conformance
