#include "runtime/timer.hpp"

#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <vector>

namespace omnichat {
namespace {

using std::chrono::milliseconds;

TEST(Timer, AnEarlierDeadlineWakesTheThreadWaitingOnALaterOne) {
    Timer timer;
    auto late = timer.after(milliseconds(60'000), [] {});
    std::promise<void> ran;
    timer.after(milliseconds(1), [&] { ran.set_value(); });
    // Without the wake-up it would run after the 60 s one's wait.
    EXPECT_EQ(ran.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
    EXPECT_TRUE(timer.cancel(late));
}

TEST(Timer, RunsCallbacksInDeadlineOrder) {
    Timer timer;
    std::mutex mutex;
    std::vector<int> order;
    std::promise<void> all;
    auto record = [&](int n) {
        return [&, n] {
            std::lock_guard lock(mutex);
            order.push_back(n);
            if (order.size() == 3) all.set_value();
        };
    };
    timer.after(milliseconds(30), record(30));
    timer.after(milliseconds(10), record(10));
    timer.after(milliseconds(20), record(20));
    ASSERT_EQ(all.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
    EXPECT_EQ(order, (std::vector<int>{10, 20, 30}));
}

TEST(Timer, CancelSaysWhetherTheCallbackWasStillPending) {
    Timer timer;
    std::promise<void> ran;
    auto soon = timer.after(milliseconds(0), [&] { ran.set_value(); });
    ran.get_future().wait();
    EXPECT_FALSE(timer.cancel(soon));
    auto later = timer.after(milliseconds(60'000), [] { ADD_FAILURE() << "a cancelled callback ran"; });
    EXPECT_TRUE(timer.cancel(later));
    EXPECT_FALSE(timer.cancel(later));
}

}  // namespace
}  // namespace omnichat
