#include "transport/connection.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "transport/edge.hpp"

namespace omnichat {
namespace {

// After our FIN, how long the client may take to close its side (its last
// bytes are read and dropped meanwhile, so it sees our answer, not a reset).
constexpr auto kLinger = std::chrono::seconds(5);

bool expectsContinue(const IncomingRequest& head) {
    const std::string* expect = head.header("expect");
    if (!expect || head.http10) return false;
    std::string value = *expect;
    for (auto& c : value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return value == "100-continue";
}

}  // namespace

Connection::Connection(Edge& edge, uint64_t id, int fd, std::string address, bool refused)
    : edge_(edge), id_(id), address_(std::move(address)), refused_(refused), parser_(edge.settings().limits), fd_(fd) {
    idleSince_ = lastProgress_ = Clock::now();
}

Connection::~Connection() = default;

// ---- Input ----

void Connection::received(const char* data, size_t size) {
    {
        std::lock_guard lock(inMutex_);
        if (discardInput_) return;
        if (answering_ && input_.size() + size > edge_.settings().limits.maxHeaderBytes) {
            // A client sending ahead while its answer is written: held up to
            // one head, then it is read no further and closed after the answer.
            discardInput_ = true;
            wantsKeepAlive_ = false;
            input_.clear();
            return;
        }
        input_.append(data, size);
    }
    pump();
}

void Connection::pump() {
    pumpWanted_ = true;
    for (;;) {
        std::unique_lock lock(inMutex_, std::try_to_lock);
        if (!lock.owns_lock()) return;  // its holder sees pumpWanted_ before it lets go
        while (pumpWanted_.exchange(false)) pumpLocked();
        lock.unlock();
        if (!pumpWanted_) return;
    }
}

void Connection::pumpLocked() {
    while (!answering_ && !discardInput_) {
        const auto event = parser_.parse(input_);
        switch (event) {
            case RequestParser::Event::NeedMore:
                if (!headStarted_ && !parser_.idle()) {
                    headStarted_ = true;
                    headSince_ = Clock::now();
                }
                return;
            case RequestParser::Event::Failed: refuse(parser_.error()); return;
            case RequestParser::Event::Head: {
                if (!headStarted_) headSince_ = Clock::now();
                headStarted_ = true;
                bodySince_ = Clock::now();
                const IncomingRequest& head = parser_.request();
                wantsKeepAlive_ = head.wantsKeepAlive();
                bodyUnread_ = parser_.bodyPending();
                answering_ = true;  // a refusal answers from inside admit()
                auto admitted = edge_.dispatcher().admit(shared_from_this(), head);
                if (!admitted) {
                    // The answer ends the connection when the body was left unread.
                    if (bodyUnread_)
                        discardInput_ = true;
                    else
                        parser_.reset();
                    headStarted_ = false;
                    break;
                }
                bodyUnread_ = false;
                admitted_ = true;
                parser_.keepBody(admitted->keepBody);
                run_ = std::move(admitted->run);
                const bool pending = parser_.bodyPending();
                answering_ = false;
                if (pending && expectsContinue(head)) write(std::string("HTTP/1.1 100 Continue\r\n\r\n"));
                break;
            }
            case RequestParser::Event::Complete: {
                answering_ = true;
                IncomingRequest request = std::move(parser_.request());
                auto run = std::move(run_);
                parser_.reset();
                admitted_ = false;
                headStarted_ = false;
                run(std::move(request));  // answers now or later, from any thread
                break;
            }
        }
    }
}

void Connection::refuse(const ParseError& error) {
    discardInput_ = true;
    wantsKeepAlive_ = false;
    input_.clear();
    answering_ = true;
    edge_.dispatcher().refuse(shared_from_this(), error);
}

void Connection::answerAndClose(std::string response) {
    discardInput_ = true;
    wantsKeepAlive_ = false;
    answering_ = true;
    write(std::move(response));
    endResponse(nullptr);
}

bool Connection::keepAlive() const { return wantsKeepAlive_ && !bodyUnread_ && !discardInput_; }

// ---- Output ----

bool Connection::write(std::string bytes, bool bounded) {
    std::function<void()> after;
    bool queued;
    {
        std::lock_guard lock(outMutex_);
        queued = queueLocked(Segment{std::move(bytes), nullptr, 0}, bounded);
        after = flushLocked();
    }
    if (after) after();
    return queued;
}

bool Connection::write(Piece bytes) {
    std::function<void()> after;
    bool queued;
    {
        std::lock_guard lock(outMutex_);
        queued = queueLocked(Segment{{}, std::move(bytes), 0}, false);
        after = flushLocked();
    }
    if (after) after();
    return queued;
}

void Connection::writeFrom(Producer next) {
    std::function<void()> after;
    {
        std::lock_guard lock(outMutex_);
        if (fd_ < 0 || broken_) return;
        producer_ = std::move(next);
        after = flushLocked();
    }
    if (after) after();
}

void Connection::endResponse(std::function<void()> sent) {
    std::function<void()> after;
    {
        std::lock_guard lock(outMutex_);
        ending_ = true;
        sent_ = std::move(sent);
        after = flushLocked();
    }
    if (after) after();
}

bool Connection::queueLocked(Segment segment, bool bounded) {
    if (fd_ < 0 || broken_ || lingering_) return false;
    if (bounded && queuedBytes_ > edge_.settings().maxQueuedOutput) {
        // The client reads more slowly than its answer is made (a stream it
        // stopped reading): holding more would hold memory without end.
        abortLocked();
        return false;
    }
    const size_t size = segment.rest().size();
    if (size == 0) return true;
    if (queue_.empty()) lastProgress_ = Clock::now();
    queuedBytes_ += size;
    queue_.push_back(std::move(segment));
    return true;
}

std::function<void()> Connection::flushLocked() {
    while (fd_ >= 0 && !broken_) {
        if (queue_.empty()) {
            if (!producer_) break;
            std::string piece;
            bool more = false;
            try {
                more = producer_(piece);
            } catch (...) {
                // A body that cannot be finished cannot be framed either.
                abortLocked();
                break;
            }
            if (!more) producer_ = nullptr;
            if (!piece.empty()) {
                queuedBytes_ += piece.size();
                queue_.push_back(Segment{std::move(piece), nullptr, 0});
            }
            continue;
        }
        auto& front = queue_.front();
        auto rest = front.rest();
        ssize_t n = ::send(fd_, rest.data(), rest.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            lastProgress_ = Clock::now();
            queuedBytes_ -= static_cast<size_t>(n);
            front.offset += static_cast<size_t>(n);
            if (static_cast<size_t>(n) == rest.size()) queue_.pop_front();
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return {};  // writable() goes on
        abortLocked();                                                      // the client is gone
    }
    if (ending_ && (broken_ || fd_ < 0 || (queue_.empty() && !producer_))) return completeLocked();
    return {};
}

std::function<void()> Connection::completeLocked() {
    ending_ = false;
    auto sent = std::move(sent_);
    sent_ = nullptr;
    const bool usable = fd_ >= 0 && !broken_;
    const bool keep = usable && keepAlive();
    if (usable && !keep) lingerLocked();
    idleSince_ = Clock::now();
    return [self = shared_from_this(), sent = std::move(sent), keep] {
        if (sent) sent();
        if (!keep) return;
        self->everAnswered_ = true;
        self->answering_ = false;
        self->pump();  // the next request, if the client sent one already
    };
}

void Connection::lingerLocked() {
    // shutdown, not close: Pistache closes the connection once the client
    // closes its side (or checkDeadlines ends the wait).
    ::shutdown(fd_, SHUT_WR);
    lingering_ = true;
    lingerSince_ = Clock::now();
    discardInput_ = true;
}

void Connection::abortLocked() {
    if (fd_ >= 0 && !broken_) ::shutdown(fd_, SHUT_RDWR);  // Pistache then reports the disconnection
    broken_ = true;
    discardInput_ = true;
    queue_.clear();
    queuedBytes_ = 0;
    producer_ = nullptr;
}

void Connection::abort() {
    std::function<void()> after;
    {
        std::lock_guard lock(outMutex_);
        abortLocked();
        if (ending_) after = completeLocked();
    }
    if (after) after();
}

bool Connection::gone() const {
    std::lock_guard lock(outMutex_);
    return fd_ < 0 || broken_;
}

void Connection::writable() {
    std::function<void()> after;
    {
        std::lock_guard lock(outMutex_);
        after = flushLocked();
    }
    if (after) after();
}

void Connection::closed() {
    std::function<void()> sent;
    {
        // The admitted request whose body will never come holds its
        // answerer, which holds this connection.
        std::lock_guard lock(inMutex_);
        run_ = nullptr;
        input_.clear();
    }
    {
        std::lock_guard lock(outMutex_);
        // Pistache closes the descriptor once this returns: from here on
        // its number may be any other file's, and is never used again.
        if (fd_ >= 0) {
            edge_.unwatch(fd_);
            fd_ = -1;
        }
        queue_.clear();
        queuedBytes_ = 0;
        producer_ = nullptr;
        discardInput_ = true;
        if (ending_) {
            ending_ = false;
            sent = std::move(sent_);
            sent_ = nullptr;
        }
    }
    if (sent) sent();
}

void Connection::checkDeadlines(Clock::time_point now) {
    const auto& settings = edge_.settings();
    std::function<void()> after;
    {
        std::lock_guard lock(outMutex_);
        if (fd_ < 0 || broken_) return;
        if (lingering_) {
            if (now - lingerSince_ > kLinger) abortLocked();
            return;
        }
        if (!queue_.empty() || producer_) {
            // A client that stopped reading its answer.
            if (now - lastProgress_ > settings.sendTimeout) {
                abortLocked();
                if (ending_) after = completeLocked();
            }
            if (!after) return;
        }
    }
    if (after) return after();
    if (answering_) return;  // the answer is under way; the exchange's own timeouts bound it
    std::unique_lock in(inMutex_, std::try_to_lock);
    if (!in.owns_lock() || discardInput_ || answering_) return;
    if (admitted_ || parser_.bodyPending()) {
        if (now - bodySince_ > settings.bodyTimeout)
            refuse({408, "request_timeout", "the request body did not arrive in time"});
    } else if (headStarted_) {
        if (now - headSince_ > settings.headerTimeout)
            refuse({408, "request_timeout", "the request headers did not arrive in time"});
    } else {
        in.unlock();
        std::lock_guard lock(outMutex_);
        const auto limit = everAnswered_ ? settings.keepaliveTimeout : settings.headerTimeout;
        if (now - idleSince_ > limit) abortLocked();  // an idle connection just ends
    }
}

}  // namespace omnichat
