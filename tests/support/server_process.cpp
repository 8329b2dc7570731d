#include "server_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

namespace omnichat::testing {
namespace {

constexpr auto kStartTimeout = std::chrono::seconds(60);  // valgrind starts slowly

// OMNICHAT_TEST_SERVER_WRAPPER: a command the server runs under, words
// split at spaces ("valgrind --error-exitcode=99 ..."), for serving only.
std::vector<std::string> wrapperWords() {
    std::vector<std::string> words;
    const char* wrapper = std::getenv("OMNICHAT_TEST_SERVER_WRAPPER");
    std::istringstream in(wrapper ? wrapper : "");
    for (std::string word; in >> word;) words.push_back(word);
    return words;
}

pid_t spawn(const std::vector<std::string>& args, const ServerProcess::Env& env, const std::string& folder, int& outFd,
            bool wrapped, size_t descriptorLimit = 0) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    std::vector<std::string> argStrings;
    if (wrapped) argStrings = wrapperWords();
    argStrings.push_back(OMNICHAT_BINARY);
    argStrings.insert(argStrings.end(), args.begin(), args.end());
    std::vector<std::string> envStrings{"PATH=/usr/bin:/bin"};
    // Sanitizer settings (suppressions) apply to the server too.
    for (const char* name : {"ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS"})
        if (const char* value = std::getenv(name)) envStrings.push_back(std::string(name) + "=" + value);
    for (const auto& [k, v] : env) envStrings.push_back(k + "=" + v);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        if (chdir(folder.c_str()) != 0) _exit(127);
        rlimit files{descriptorLimit, descriptorLimit};
        if (descriptorLimit > 0 && setrlimit(RLIMIT_NOFILE, &files) != 0) _exit(127);
        std::vector<char*> argv, envp;
        for (auto& s : argStrings) argv.push_back(s.data());
        argv.push_back(nullptr);
        for (auto& s : envStrings) envp.push_back(s.data());
        envp.push_back(nullptr);
        execvpe(argv[0], argv.data(), envp.data());  // the wrapper is found on PATH
        _exit(127);
    }
    close(fds[1]);
    outFd = fds[0];
    return pid;
}

std::string writeConfig(const std::string& folder, const std::string& yaml) {
    auto path = folder + "/omnichat.yaml";
    std::ofstream(path) << yaml;
    return path;
}

}  // namespace

std::string makeScratchFolder() {
    std::string pattern = (std::filesystem::temp_directory_path() / "omnichat-test-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp");
    return pattern;
}

ServerProcess::Exit ServerProcess::run(const std::vector<std::string>& args, const Env& env, const std::string& yaml) {
    auto folder = makeScratchFolder();
    auto fullArgs = args;
    if (!yaml.empty()) {
        fullArgs.push_back("--config");
        fullArgs.push_back(writeConfig(folder, yaml));
    }
    int fd = -1;
    pid_t pid = spawn(fullArgs, env, folder, fd, false);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    close(fd);
    int status = 0;
    waitpid(pid, &status, 0);
    std::filesystem::remove_all(folder);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), out};
}

ServerProcess::ServerProcess(const std::string& yaml, const Env& env, size_t descriptorLimit)
    : folder_(makeScratchFolder()) {
    int fd = -1;
    std::vector<std::string> args{"serve"};
    if (!yaml.empty()) args.insert(args.end(), {"--config", writeConfig(folder_, yaml)});
    pid_ = spawn(args, env, folder_, fd, true, descriptorLimit);
    reader_ = std::thread([this, fd] { readOutput(fd); });
    std::unique_lock lock(mutex_);
    static const std::regex listening(R"(listening on http://[^:]+:(\d+))");
    std::smatch m;
    bool ready =
        changed_.wait_for(lock, kStartTimeout, [&] { return closed_ || std::regex_search(output_, m, listening); });
    if (!ready || closed_) {
        std::string out = output_;
        lock.unlock();
        stop();
        throw std::runtime_error("omnichat did not start:\n" + out);
    }
    port_ = static_cast<uint16_t>(std::stoi(m[1]));
}

ServerProcess::~ServerProcess() {
    stop();
    std::filesystem::remove_all(folder_);
}

void ServerProcess::readOutput(int fd) {
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        std::lock_guard lock(mutex_);
        output_.append(buf, static_cast<size_t>(n));
        changed_.notify_all();
    }
    close(fd);
    std::lock_guard lock(mutex_);
    closed_ = true;
    changed_.notify_all();
}

std::string ServerProcess::output() const {
    std::lock_guard lock(mutex_);
    return output_;
}

bool ServerProcess::waitForOutput(const std::string& text, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return output_.find(text) != std::string::npos; });
}

int ServerProcess::stop() {
    signal(SIGTERM);
    return waitExit();
}

void ServerProcess::signal(int sig) {
    if (pid_ > 0) kill(pid_, sig);
}

int ServerProcess::waitExit() {
    if (pid_ <= 0) return kNotRunning;
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    if (reader_.joinable()) reader_.join();
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace omnichat::testing
