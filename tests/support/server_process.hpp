#pragma once
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace omnichat::testing {

// The real omnichat binary in a child process, in its own scratch folder,
// with an environment of our choosing (nothing leaks in from the caller's).
class ServerProcess {
public:
    using Env = std::map<std::string, std::string>;

    // Runs `omnichat <args>` to completion; returns exit code and output.
    struct Exit {
        int code;
        std::string output;
    };
    static Exit run(const std::vector<std::string>& args, const Env& env = {}, const std::string& yaml = "");

    // Starts `omnichat serve --config <yaml>` (no --config when `yaml` is
    // empty) and waits until it listens. A `descriptorLimit` above 0 is the
    // server's RLIMIT_NOFILE, soft and hard.
    ServerProcess(const std::string& yaml, const Env& env = {}, size_t descriptorLimit = 0);
    ~ServerProcess();  // SIGTERM, then waits

    uint16_t port() const { return port_; }
    pid_t pid() const { return pid_; }
    std::string output() const;
    // Waits until the output contains `text`; false on timeout.
    bool waitForOutput(const std::string& text, std::chrono::milliseconds timeout) const;
    const std::string& folder() const { return folder_; }
    // Sends SIGTERM and waits for the exit code; kNotRunning when it had
    // already been waited for.
    static constexpr int kNotRunning = -1;
    int stop();
    void signal(int sig);
    // Waits for the process to end; its exit code (128 + signal if killed).
    int waitExit();

private:
    void readOutput(int fd);
    std::string folder_;
    pid_t pid_ = -1;
    uint16_t port_ = 0;
    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    std::string output_;
    bool closed_ = false;
    std::thread reader_;
};

// A scratch folder under /tmp, removed on destruction.
std::string makeScratchFolder();

}  // namespace omnichat::testing
