// The conformance kit's upstream: a small HTTP/1.1 server on loopback that
// records each request and answers as the running scenario scripts it,
// byte for byte: statuses and headers, a body in pieces (each its own
// chunk, so a piece boundary may fall inside a character), a pause until the
// scenario lets the rest go, a connection cut mid-answer. It notices a
// client that leaves while it holds or writes an answer.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace omnichat::conformance {

struct RecordedRequest {
    std::string method, path, body;
    std::map<std::string, std::string> headers;  // names lowercased
};

struct ScriptedAnswer {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    // The body, a chunk per piece. A piece after `holdBefore` pieces waits
    // until release() (or until the client leaves).
    std::vector<std::string> pieces;
    size_t holdBefore = SIZE_MAX;
    bool holdHead = false;  // wait for release() before the status line
    bool cut = false;       // close the connection after the pieces, unfinished
};

class ScriptedUpstream {
public:
    using Script = std::function<ScriptedAnswer(const RecordedRequest&)>;

    ScriptedUpstream();
    ~ScriptedUpstream();
    ScriptedUpstream(const ScriptedUpstream&) = delete;
    ScriptedUpstream& operator=(const ScriptedUpstream&) = delete;

    std::string url() const;  // http://127.0.0.1:PORT
    void script(Script script);
    // Lets one held answer go on.
    void release();

    std::vector<RecordedRequest> requests() const;
    // Waits until `count` requests arrived; false after `seconds`.
    bool waitRequests(size_t count, int seconds = 10) const;
    // Waits until `count` clients left while an answer was held or written.
    bool waitClientsGone(size_t count, int seconds = 10) const;
    size_t connections() const { return connections_.load(); }

private:
    void acceptLoop();
    void serve(int fd);
    bool hold(int fd, std::unique_lock<std::mutex>& lock);

    int listener_ = -1;
    uint16_t port_ = 0;
    std::thread acceptor_;
    std::atomic<size_t> connections_{0};
    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    Script script_;
    std::vector<RecordedRequest> requests_;
    size_t releases_ = 0, clientsGone_ = 0, serving_ = 0;
    bool stopping_ = false;
    std::vector<int> open_;  // connections being served, shut down on stop
};

}  // namespace omnichat::conformance
