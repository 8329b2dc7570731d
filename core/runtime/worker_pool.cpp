#include "runtime/worker_pool.hpp"

#include <spdlog/spdlog.h>

#include "observability/metrics.hpp"

namespace omnichat {

WorkerPool::WorkerPool(unsigned threads, size_t capacity, Metrics& metrics) : metrics_(metrics), capacity_(capacity) {
    threads_.reserve(threads);
    for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

WorkerPool::~WorkerPool() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    ready_.notify_all();
    for (auto& t : threads_) t.join();
}

bool WorkerPool::trySubmit(std::function<void()> task) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ || queue_.size() >= capacity_) return false;
        queue_.push_back({std::move(task), std::chrono::steady_clock::now()});
    }
    ready_.notify_one();
    return true;
}

void WorkerPool::submit(std::function<void()> task) {
    {
        std::lock_guard lock(mutex_);
        queue_.push_back({std::move(task), std::chrono::steady_clock::now()});
    }
    ready_.notify_one();
}

void WorkerPool::run() {
    for (;;) {
        Queued next;
        {
            std::unique_lock lock(mutex_);
            ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping and drained
            next = std::move(queue_.front());
            queue_.pop_front();
        }
        metrics_.observeWorkerWait(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - next.since).count());
        try {
            next.task();
        } catch (const std::exception& e) {
            spdlog::error("worker task failed: {}", e.what());
        } catch (...) {
            spdlog::error("worker task failed with an unknown exception");
        }
    }
}

size_t WorkerPool::queued() {
    std::lock_guard lock(mutex_);
    return queue_.size();
}

}  // namespace omnichat
