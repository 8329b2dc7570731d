#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace omnichat {

// Per-user limits: a token bucket for requests and a count of open streams.
// Memory is bounded: users idle long enough to have a full bucket and no
// stream are forgotten once the table grows past `maxUsers`.
class RateLimiter {
public:
    // 0 turns a limit off. `burst` 0: a tenth of a minute's requests.
    RateLimiter(unsigned requestsPerMinute, unsigned burst, unsigned concurrentStreams, size_t maxUsers = 100000);

    // 0 when the request may run; otherwise the seconds until it may.
    int admitRequest(const std::string& user, int64_t nowMs);

    // A stream slot, given back when the returned handle is destroyed;
    // nullptr when the user has as many streams open as allowed.
    std::shared_ptr<void> openStream(const std::string& user);

private:
    struct UserState {
        double tokens = 0;
        int64_t refilledMs = 0;
        unsigned streams = 0;
    };
    void refill(UserState& u, int64_t nowMs) const;
    void forgetIdle(int64_t nowMs);

    const double perMs_;
    const double burst_;
    const unsigned maxStreams_;
    const size_t maxUsers_;
    std::mutex mutex_;
    std::unordered_map<std::string, UserState> users_;
};

}  // namespace omnichat
