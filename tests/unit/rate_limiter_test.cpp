#include "limits/rate_limiter.hpp"

#include <gtest/gtest.h>

namespace omnichat {
namespace {

TEST(RateLimiter, BurstThenTheRateWithTheWaitInSeconds) {
    RateLimiter limiter(60, 3, 0);  // one a second after a burst of three
    const int64_t t0 = 1'000'000;
    for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.admitRequest("alice", t0), 0) << i;
    EXPECT_EQ(limiter.admitRequest("alice", t0), 1);
    EXPECT_EQ(limiter.admitRequest("bob", t0), 0);  // users are counted apart
    EXPECT_EQ(limiter.admitRequest("alice", t0 + 999), 1);
    EXPECT_EQ(limiter.admitRequest("alice", t0 + 1000), 0);
    EXPECT_EQ(limiter.admitRequest("alice", t0 + 1000), 1);
}

TEST(RateLimiter, SlowRatesAnswerTheirRealWait) {
    RateLimiter limiter(2, 1, 0);  // one every 30 s
    EXPECT_EQ(limiter.admitRequest("alice", 0), 0);
    EXPECT_EQ(limiter.admitRequest("alice", 0), 30);
    EXPECT_EQ(limiter.admitRequest("alice", 20'000), 10);
}

TEST(RateLimiter, ZeroMeansNoLimit) {
    RateLimiter limiter(0, 0, 0);
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(limiter.admitRequest("alice", 0), 0);
    std::vector<std::shared_ptr<void>> streams;
    for (int i = 0; i < 100; ++i) {
        streams.push_back(limiter.openStream("alice"));
        ASSERT_NE(streams.back(), nullptr);
    }
}

TEST(RateLimiter, StreamSlotsComeBackWhenReleased) {
    RateLimiter limiter(0, 0, 2);
    auto first = limiter.openStream("alice");
    auto second = limiter.openStream("alice");
    ASSERT_NE(first, nullptr);
    ASSERT_NE(second, nullptr);
    EXPECT_EQ(limiter.openStream("alice"), nullptr);
    EXPECT_NE(limiter.openStream("bob"), nullptr);
    first.reset();
    EXPECT_NE(limiter.openStream("alice"), nullptr);
}

TEST(RateLimiter, ForgetsIdleUsersButNotTheirDebt) {
    RateLimiter limiter(60, 1, 0, 2);
    EXPECT_EQ(limiter.admitRequest("alice", 0), 0);  // alice owes a second
    EXPECT_EQ(limiter.admitRequest("bob", 0), 0);
    EXPECT_EQ(limiter.admitRequest("carol", 0), 0);  // past the bound: nobody idle yet
    EXPECT_EQ(limiter.admitRequest("alice", 0), 1);  // alice was kept
}

}  // namespace
}  // namespace omnichat
