#include "transport/edge.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/peer.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <vector>

namespace omnichat {

using namespace Pistache;

namespace {

const std::string kConnectionKey = "omnichat.connection";

// Pistache 0.0.5 is used for what it does well, accepting connections and
// reading them on its reactor threads, and for nothing else: its request
// parser is never fed (ours reads the bytes first, in onInput), its write
// queue never carries an answer, and its timers never fire (every peer is
// idle, under a keep-alive timeout beyond reach; the edge runs the deadlines).
class EdgeHandler : public Http::Handler {
public:
    HTTP_PROTOTYPE(EdgeHandler)

    explicit EdgeHandler(Edge& edge) : edge_(&edge) {}

    void onRequest(const Http::Request&, Http::ResponseWriter) override {}  // never: the parser is not fed

    void onDisconnection(const std::shared_ptr<Tcp::Peer>& peer) override {
        if (auto data = peer->tryGetData(kConnectionKey))
            edge_->disconnected(std::static_pointer_cast<Connection>(data));
    }

private:
    void onConnection(const std::shared_ptr<Tcp::Peer>& peer) override {
        // Pistache's idle check reads every peer's parser; a small one that
        // stays empty.
        peer->putData(ParserData, std::make_shared<Http::RequestParser>(Const::DefaultMaxRequestSize));
        peer->setIdle(true);
        edge_->connected(peer->fd(), peer->address().host(), [&peer](std::shared_ptr<Connection> connection) {
            peer->putData(kConnectionKey, connection);
        });
    }

    void onInput(const char* buffer, size_t length, const std::shared_ptr<Tcp::Peer>& peer) override {
        if (auto data = peer->tryGetData(kConnectionKey))
            static_cast<Connection*>(data.get())->received(buffer, length);
    }

    Edge* edge_;
};

// Pistache 0.0.5 listens with a queue of 128 connections and ignores its
// own backlog option. A burst of clients connecting at once (2,000 in the
// benchmark) overflowed it: the kernel fell back to SYN cookies and dropped
// handshakes that clients retried up to seconds later. listen() on a
// listening socket sets a new queue length; the kernel caps it at
// net.core.somaxconn. The endpoint does not expose its socket, so it is
// found by port among the first descriptors, where a server opens it.
void widenAcceptQueue(uint16_t port) {
    for (int fd = 0; fd < 1024; ++fd) {
        int listening = 0;
        socklen_t size = sizeof listening;
        sockaddr_storage address{};
        socklen_t length = sizeof address;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) != 0 || !listening ||
            getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
            continue;
        uint16_t bound = address.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(address).sin6_port
                                                       : reinterpret_cast<sockaddr_in&>(address).sin_port;
        if ((address.ss_family == AF_INET || address.ss_family == AF_INET6) && ntohs(bound) == port)
            ::listen(fd, SOMAXCONN);
    }
}

}  // namespace

struct Edge::Listener {
    std::unique_ptr<Http::Endpoint> endpoint;
};

Edge::Edge(EdgeSettings settings, Dispatcher& dispatcher)
    : settings_(settings), dispatcher_(dispatcher), listener_(std::make_unique<Listener>()) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    wake_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (epoll_ < 0 || wake_ < 0) throw std::runtime_error("cannot create the edge's event loop");
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = 0;  // connection ids start at 1
    epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &event);
}

Edge::~Edge() {
    shutdown();
    ::close(wake_);
    ::close(epoll_);
}

uint16_t Edge::listen(const std::string& host, uint16_t port) {
    listener_->endpoint = std::make_unique<Http::Endpoint>(Address(host, Port(port)));
    auto options = Http::Endpoint::options()
                       .threads(static_cast<int>(settings_.reactorThreads))
                       .flags(Tcp::Options::ReuseAddr)
                       .keepaliveTimeout(std::chrono::hours(24 * 365));
    listener_->endpoint->init(options);
    listener_->endpoint->setHandler(Http::make_handler<EdgeHandler>(*this));
    listener_->endpoint->serveThreaded();
    const auto bound = static_cast<uint16_t>(listener_->endpoint->getPort());
    widenAcceptQueue(bound);
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    return bound;
}

void Edge::shutdown() {
    // Every connection gives its descriptor up first: Pistache may close
    // them as it stops, without reporting each disconnection. Answers still
    // being made (a worker finishing late) find their connection closed and
    // touch nothing of the edge; a connection arriving meanwhile is refused.
    std::unordered_map<uint64_t, std::shared_ptr<Connection>> left;
    {
        std::lock_guard lock(mutex_);
        closing_ = true;
        left.swap(connections_);
        perAddress_.clear();
        admitted_ = refusing_ = 0;
    }
    for (auto& [id, connection] : left) connection->closed();
    if (listener_->endpoint) {
        listener_->endpoint->shutdown();
        listener_->endpoint.reset();
    }
    if (thread_.joinable()) {
        stopping_ = true;
        uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(wake_, &one, sizeof one);
        thread_.join();
    }
}

size_t Edge::connections() const {
    std::lock_guard lock(mutex_);
    return admitted_;
}

void Edge::connected(int fd, const std::string& address, const std::function<void(std::shared_ptr<Connection>)>& keep) {
    enum class Kind { Admitted, Refused, Dropped };
    Kind kind = Kind::Dropped;
    uint64_t id = 0;
    {
        std::lock_guard lock(mutex_);
        auto counted = perAddress_.find(address);
        const size_t fromAddress = counted == perAddress_.end() ? 0 : counted->second;
        if (closing_) {
            // Stopping: dropped below.
        } else if (admitted_ < settings_.maxConnections &&
                   (settings_.maxConnectionsPerAddress == 0 || fromAddress < settings_.maxConnectionsPerAddress)) {
            kind = Kind::Admitted;
            ++admitted_;
            ++perAddress_[address];
        } else if (refusing_ < kMaxRefusing) {
            kind = Kind::Refused;
            ++refusing_;
        }
        if (kind != Kind::Dropped) id = ++nextId_;
    }
    if (kind == Kind::Dropped) {
        // Over every cap, or stopping: a short answer the socket takes
        // whole, then the end at once. The descriptor cannot close during
        // Pistache's own onConnection.
        auto refusal = dispatcher_.connectionRefusal();
        [[maybe_unused]] auto sent = ::send(fd, refusal.data(), refusal.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        ::shutdown(fd, SHUT_RDWR);
        return;
    }
    // A streamed reply is many small writes; Nagle's algorithm would hold
    // each one back until the client acknowledged the previous one.
    int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    auto connection = std::make_shared<Connection>(*this, id, fd, address, kind == Kind::Refused);
    // Edge-triggered: an event comes only after a write found the socket
    // full, once it has room again.
    epoll_event event{};
    event.events = EPOLLOUT | EPOLLET;
    event.data.u64 = id;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &event);
    {
        std::lock_guard lock(mutex_);
        connections_[id] = connection;
    }
    keep(connection);
    // Over a cap: answered 503, then closed once the client has read it
    // (lingering, like any answer that ends its connection).
    if (kind == Kind::Refused) connection->answerAndClose(dispatcher_.connectionRefusal());
}

void Edge::uncount(bool refused, const std::string& address) {
    if (refused) {
        --refusing_;
        return;
    }
    --admitted_;
    auto it = perAddress_.find(address);
    if (it != perAddress_.end() && --it->second == 0) perAddress_.erase(it);
}

void Edge::disconnected(const std::shared_ptr<Connection>& connection) {
    connection->closed();
    std::lock_guard lock(mutex_);
    if (connections_.erase(connection->id()) == 0) return;  // after shutdown()
    uncount(connection->refused(), connection->address());
}

void Edge::unwatch(int fd) { epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr); }

void Edge::run() {
    constexpr auto kSweepEvery = std::chrono::seconds(1);
    auto nextSweep = std::chrono::steady_clock::now() + kSweepEvery;
    std::vector<epoll_event> events(256);
    while (!stopping_) {
        auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(nextSweep - std::chrono::steady_clock::now());
        int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()),
                           static_cast<int>(std::max<int64_t>(0, wait.count())));
        for (int i = 0; i < n; ++i) {
            const uint64_t id = events[i].data.u64;
            if (id == 0) continue;  // woken to stop
            std::shared_ptr<Connection> connection;
            {
                std::lock_guard lock(mutex_);
                if (auto it = connections_.find(id); it != connections_.end()) connection = it->second;
            }
            if (connection) connection->writable();
        }
        if (std::chrono::steady_clock::now() >= nextSweep) {
            sweep();
            nextSweep = std::chrono::steady_clock::now() + kSweepEvery;
        }
    }
}

void Edge::sweep() {
    std::vector<std::shared_ptr<Connection>> all;
    {
        std::lock_guard lock(mutex_);
        all.reserve(connections_.size());
        for (const auto& [id, connection] : connections_)
            if (connection) all.push_back(connection);
    }
    const auto now = std::chrono::steady_clock::now();
    for (const auto& connection : all) connection->checkDeadlines(now);
}

}  // namespace omnichat
