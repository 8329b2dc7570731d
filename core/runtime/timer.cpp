#include "runtime/timer.hpp"

#include <spdlog/spdlog.h>

namespace omnichat {

Timer::Timer() : thread_([this] { run(); }) {}

Timer::~Timer() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    changed_.notify_one();
    thread_.join();
}

Timer::Id Timer::after(std::chrono::milliseconds delay, std::function<void()> fn) {
    auto when = Clock::now() + delay;
    std::lock_guard lock(mutex_);
    Id id = next_++;
    due_.emplace(when, std::make_pair(id, std::move(fn)));
    index_.emplace(id, when);
    if (when < wakeAt_) changed_.notify_one();
    return id;
}

bool Timer::cancel(Id id) {
    std::lock_guard lock(mutex_);
    auto it = index_.find(id);
    if (it == index_.end()) return false;
    auto [begin, end] = due_.equal_range(it->second);
    for (auto d = begin; d != end; ++d)
        if (d->second.first == id) {
            due_.erase(d);
            break;
        }
    index_.erase(it);
    return true;
}

void Timer::run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        if (due_.empty()) {
            wakeAt_ = Clock::time_point::max();
            changed_.wait(lock);
            wakeAt_ = Clock::time_point::min();
            continue;
        }
        auto first = due_.begin();
        if (auto when = first->first; when > Clock::now()) {
            // A copy: the entry may be cancelled while we wait.
            wakeAt_ = when;
            changed_.wait_until(lock, when);
            wakeAt_ = Clock::time_point::min();
            continue;
        }
        auto fn = std::move(first->second.second);
        index_.erase(first->second.first);
        due_.erase(first);
        lock.unlock();
        try {
            fn();
        } catch (const std::exception& e) {
            spdlog::error("timer callback failed: {}", e.what());
        }
        lock.lock();
    }
}

}  // namespace omnichat
