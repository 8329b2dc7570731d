#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "runtime/scheduler.hpp"

namespace omnichat {

// One thread running callbacks at their due time: retry backoffs, provider
// timeouts, stream heartbeats. Callbacks must be short (post real work to
// the worker pool). Cancelling is cheap and safe at any time.
class Timer : public Scheduler {
public:
    using Clock = std::chrono::steady_clock;

    Timer();
    ~Timer() override;  // drops what has not run
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;

    Id after(std::chrono::milliseconds delay, std::function<void()> fn) override;
    bool cancel(Id id) override;

private:
    void run();
    std::mutex mutex_;
    std::condition_variable changed_;
    std::multimap<Clock::time_point, std::pair<Id, std::function<void()>>> due_;
    std::map<Id, Clock::time_point> index_;
    Id next_ = 1;
    bool stopping_ = false;
    // When the thread next looks at due_ on its own; after() wakes it only
    // for an earlier deadline. Re-arming a later timeout (a stream's idle
    // timer, at every delta) then costs no thread wake-up.
    Clock::time_point wakeAt_ = Clock::time_point::min();
    std::thread thread_;
};

}  // namespace omnichat
