#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include "transport/connection.hpp"
#include "transport/incoming_request.hpp"
#include "transport/request_parser.hpp"

namespace omnichat {

struct EdgeSettings {
    ParseLimits limits;
    size_t maxConnections = 10000;
    size_t maxConnectionsPerAddress = 0;  // 0: no cap
    std::chrono::seconds headerTimeout{30};
    std::chrono::seconds bodyTimeout{60};
    std::chrono::seconds keepaliveTimeout{300};
    // A client that takes none of its answer for this long is dropped.
    std::chrono::seconds sendTimeout{60};
    // A streamed answer's unsent bytes beyond which its client counts as
    // gone.
    size_t maxQueuedOutput = 1024 * 1024;
    unsigned reactorThreads = 2;
};

// What the edge hands requests to: the router.
class Dispatcher {
public:
    virtual ~Dispatcher() = default;
    struct Admitted {
        bool keepBody = false;                       // the route reads the body
        std::function<void(IncomingRequest&&)> run;  // once the body is in
    };
    // A request's head is in (its body not yet): route, authenticate and
    // admit it, or answer it through `connection` and return nullopt.
    virtual std::optional<Admitted> admit(const std::shared_ptr<Connection>& connection,
                                          const IncomingRequest& head) = 0;
    // The edge cannot read the request: answer `error`; the connection ends
    // after it.
    virtual void refuse(const std::shared_ptr<Connection>& connection, const ParseError& error) = 0;
    // A whole answer, written raw to a connection refused at accept (over
    // the connection caps).
    virtual std::string connectionRefusal() = 0;
};

// The HTTP/1.1 edge of one listening address: Pistache accepts connections
// and reads their bytes on its reactor threads; everything after is ours
// (see api/transport/README.md): the request parser, the caps, the
// deadlines, and the writing of answers from a thread of our own.
class Edge {
public:
    Edge(EdgeSettings settings, Dispatcher& dispatcher);
    ~Edge();
    Edge(const Edge&) = delete;
    Edge& operator=(const Edge&) = delete;

    // Binds and starts serving; throws std::runtime_error when the address
    // cannot be bound. Returns the port bound (useful with port 0).
    uint16_t listen(const std::string& host, uint16_t port);
    // Stops accepting and reading; open connections end.
    void shutdown();
    size_t connections() const;

    const EdgeSettings& settings() const { return settings_; }
    Dispatcher& dispatcher() { return dispatcher_; }

    // From the Pistache handler, on a reactor thread.
    void connected(int fd, const std::string& address, const std::function<void(std::shared_ptr<Connection>)>& keep);
    void disconnected(const std::shared_ptr<Connection>& connection);
    // A connection gives its descriptor up: stop watching it.
    void unwatch(int fd);

private:
    // Connections refused over a cap that are lingering (answered 503, read
    // until the client closes); beyond them, a refused connection is
    // closed at once.
    static constexpr size_t kMaxRefusing = 64;

    void run();
    void sweep();
    void uncount(bool refused, const std::string& address);  // with mutex_ held

    const EdgeSettings settings_;
    Dispatcher& dispatcher_;
    struct Listener;
    std::unique_ptr<Listener> listener_;

    int epoll_ = -1;
    int wake_ = -1;  // eventfd: stop
    std::thread thread_;
    std::atomic<bool> stopping_{false};

    mutable std::mutex mutex_;
    uint64_t nextId_ = 0;
    std::unordered_map<uint64_t, std::shared_ptr<Connection>> connections_;  // refused ones too
    size_t admitted_ = 0, refusing_ = 0;
    std::map<std::string, size_t, std::less<>> perAddress_;
    bool closing_ = false;  // shutdown() began: every new connection is dropped
};

}  // namespace omnichat
