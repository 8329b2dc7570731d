#pragma once
#include <chrono>
#include <cstdint>
#include <functional>

namespace omnichat {

// Callbacks at a due time (Timer; a fake in tests).
class Scheduler {
public:
    using Id = uint64_t;  // 0 is never an armed callback
    virtual ~Scheduler() = default;
    virtual Id after(std::chrono::milliseconds delay, std::function<void()> fn) = 0;
    // Returns false when the callback already ran (or is running).
    virtual bool cancel(Id id) = 0;
};

// Somewhere blocking work runs (WorkerPool; a fake in tests). What is
// submitted is admitted work's continuation: it always runs.
class Executor {
public:
    virtual ~Executor() = default;
    virtual void submit(std::function<void()> task) = 0;
};

}  // namespace omnichat
