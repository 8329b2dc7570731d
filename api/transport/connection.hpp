#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "transport/request_parser.hpp"

namespace omnichat {

class Edge;

// One client connection, as omnichat owns it.
//
// Its socket is written through Pistache's descriptor, and only under the
// output lock while the connection holds it: Pistache closes a descriptor
// only after it reported the disconnection (closed(), which gives the number
// up under that lock), so a write can only ever reach this client's socket,
// whatever number the kernel hands the next client. The bytes the socket
// does not take at once wait here, tied to this connection, and the edge's
// thread writes them when the socket has room; Pistache's write queue
// (which addresses connections by descriptor number) is never used.
//
// Requests are read one at a time: the next is parsed only once the answer
// to the previous one has left, so answers keep their order and a client
// that sends without reading holds at most one answer and one head.
//
// Input (received, pump) is serialized by one lock, output (write,
// endResponse, writable) by another; input may take the output lock, never
// the reverse.
class Connection : public std::enable_shared_from_this<Connection> {
public:
    using Clock = std::chrono::steady_clock;
    using Piece = std::shared_ptr<const std::string>;
    // Appends the next piece of a body to `out`; returns false once there is
    // nothing more (after the last piece).
    using Producer = std::function<bool(std::string& out)>;

    // `refused`: over a connection cap, answered and closed at once.
    Connection(Edge& edge, uint64_t id, int fd, std::string address, bool refused);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    uint64_t id() const { return id_; }
    const std::string& address() const { return address_; }
    bool refused() const { return refused_; }

    // ---- Output: any thread ----
    // Queues bytes of the current answer. false: the connection is gone, or
    // (`bounded`) holds more unsent bytes than a client that reads keeps
    // waiting: it is then closed, as too slow.
    bool write(std::string bytes, bool bounded = false);
    bool write(Piece bytes);  // shared (a document): not copied
    // The rest of the answer comes from `next`, called while the unsent
    // bytes run low (on this thread first, then on the edge's).
    void writeFrom(Producer next);
    // The answer's last bytes are queued. `sent` runs once they have all
    // left, or the connection is gone; then the next request is read, or the
    // connection ends if it may not be kept.
    void endResponse(std::function<void()> sent);
    // Whether the connection is kept after the current answer: the client
    // asked for it, the edge read all of the request, nothing failed.
    bool keepAlive() const;
    // The connection ends after the current answer (a draining server).
    void endAfterAnswer() { wantsKeepAlive_ = false; }
    // Ends the connection now: pending bytes are dropped.
    void abort();
    // The client closed the connection, or it broke.
    bool gone() const;
    // Answers with a whole response, written raw, before reading anything;
    // the connection ends after it.
    void answerAndClose(std::string response);

    // ---- Edge: input (a reactor thread, or whoever finished an answer) ----
    void received(const char* data, size_t size);
    // The client is gone (Pistache's disconnection, on the reactor, before
    // it closes the descriptor; or the edge shutting down).
    void closed();
    // The socket has room (the edge's thread).
    void writable();
    // Deadlines and lingering (the edge's thread, about once a second).
    void checkDeadlines(Clock::time_point now);

private:
    struct Segment {
        std::string owned;
        Piece shared;
        size_t offset = 0;
        std::string_view rest() const {
            const std::string& s = shared ? *shared : owned;
            return std::string_view(s).substr(offset);
        }
    };
    // Parses and dispatches what was received, as long as no answer is under
    // way. Reentrant from any thread: whoever cannot take the input lock
    // leaves the work to its holder.
    void pump();
    void pumpLocked();                     // with the input lock
    void refuse(const ParseError& error);  // with the input lock
    // With the output lock: sends what the socket takes. Returns the actions
    // to run once the lock is released.
    std::function<void()> flushLocked();
    bool queueLocked(Segment segment, bool bounded);
    std::function<void()> completeLocked();
    void abortLocked();
    void lingerLocked();

    Edge& edge_;
    const uint64_t id_;
    const std::string address_;
    const bool refused_;

    // Input.
    std::mutex inMutex_;
    std::atomic<bool> pumpWanted_{false};
    RequestParser parser_;
    std::string input_;
    std::function<void(IncomingRequest&&)> run_;  // the admitted request's route
    bool admitted_ = false;                       // the current head was accepted
    bool headStarted_ = false;
    Clock::time_point headSince_, bodySince_;
    std::atomic<bool> answering_{false};     // a request is being answered
    std::atomic<bool> discardInput_{false};  // closing: input is read and dropped
    std::atomic<bool> wantsKeepAlive_{true};
    std::atomic<bool> bodyUnread_{false};  // the head was refused with its body unread
    std::atomic<bool> everAnswered_{false};

    // Output.
    mutable std::mutex outMutex_;
    int fd_;                  // Pistache's; -1 once it reported the disconnection
    bool lingering_ = false;  // our FIN is out: waiting for the client's
    bool broken_ = false;     // shut down: nothing more is written
    std::deque<Segment> queue_;
    size_t queuedBytes_ = 0;
    Producer producer_;
    bool ending_ = false;
    std::function<void()> sent_;
    Clock::time_point idleSince_, lastProgress_, lingerSince_;
};

}  // namespace omnichat
