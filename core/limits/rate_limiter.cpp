#include "limits/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

#include "common/ids.hpp"

namespace omnichat {

RateLimiter::RateLimiter(unsigned requestsPerMinute, unsigned burst, unsigned concurrentStreams, size_t maxUsers)
    : perMs_(requestsPerMinute / 60000.0),
      burst_(burst ? burst : std::max(1.0, std::ceil(requestsPerMinute / 10.0))),
      maxStreams_(concurrentStreams),
      maxUsers_(maxUsers) {}

void RateLimiter::refill(UserState& u, int64_t nowMs) const {
    u.tokens = std::min(burst_, u.tokens + static_cast<double>(nowMs - u.refilledMs) * perMs_);
    u.refilledMs = nowMs;
}

int RateLimiter::admitRequest(const std::string& user, int64_t nowMs) {
    if (perMs_ <= 0) return 0;
    std::lock_guard lock(mutex_);
    auto [it, inserted] = users_.try_emplace(user);
    auto& u = it->second;
    if (inserted) {
        if (users_.size() > maxUsers_) forgetIdle(nowMs);
        u.tokens = burst_;
        u.refilledMs = nowMs;
    }
    refill(u, nowMs);
    if (u.tokens >= 1) {
        u.tokens -= 1;
        return 0;
    }
    return std::max(1, static_cast<int>(std::ceil((1 - u.tokens) / perMs_ / 1000.0)));
}

std::shared_ptr<void> RateLimiter::openStream(const std::string& user) {
    if (maxStreams_ == 0) return std::make_shared<int>(0);
    {
        std::lock_guard lock(mutex_);
        auto& u = users_[user];
        if (u.streams >= maxStreams_) return nullptr;
        if (u.refilledMs == 0) {
            u.tokens = burst_;
            u.refilledMs = nowUnixMs();
        }
        ++u.streams;
    }
    // The limiter outlives every request (the server holds both). The
    // pointer only has to be non-null.
    return std::shared_ptr<void>(static_cast<void*>(this), [this, user](void*) {
        std::lock_guard lock(mutex_);
        auto it = users_.find(user);
        if (it == users_.end() || it->second.streams == 0) return;
        // Without a request rate nothing else is kept of a user: forget
        // them with their last stream, so the table stays bounded.
        if (--it->second.streams == 0 && perMs_ <= 0) users_.erase(it);
    });
}

// Called with the lock held. A user with a full bucket and no stream is in
// the state a new entry starts in: forgetting it changes nothing.
void RateLimiter::forgetIdle(int64_t nowMs) {
    for (auto it = users_.begin(); it != users_.end();) {
        refill(it->second, nowMs);
        if (it->second.streams == 0 && it->second.tokens >= burst_)
            it = users_.erase(it);
        else
            ++it;
    }
}

}  // namespace omnichat
