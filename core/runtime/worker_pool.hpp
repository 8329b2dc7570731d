#pragma once
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/scheduler.hpp"

namespace omnichat {

class Metrics;

// Fixed threads over a bounded queue: where blocking work (storage) runs so
// reactor threads never wait. New work beyond the bound is refused (the
// caller answers 503); continuations of admitted work may exceed it, since
// admitted work is itself bounded and must not be lost halfway.
class WorkerPool : public Executor {
public:
    // `metrics` receives each task's wait for a thread.
    WorkerPool(unsigned threads, size_t capacity, Metrics& metrics);
    ~WorkerPool() override;  // runs what is queued, then joins
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    bool trySubmit(std::function<void()> task);
    // Beyond the bound if need be.
    void submit(std::function<void()> task) override;
    // Tasks waiting for a thread.
    size_t queued();

private:
    struct Queued {
        std::function<void()> task;
        std::chrono::steady_clock::time_point since;
    };
    void run();
    Metrics& metrics_;
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<Queued> queue_;
    size_t capacity_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace omnichat
