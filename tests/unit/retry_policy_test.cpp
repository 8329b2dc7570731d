#include "chat/retry_policy.hpp"

#include <gtest/gtest.h>

namespace omnichat {
namespace {

TEST(RetryPolicy, RetriesWhatTheOpenAiSdkRetries) {
    EXPECT_TRUE(isRetryable(OMNICHAT_ERR_UNAVAILABLE, 0));
    EXPECT_TRUE(isRetryable(OMNICHAT_ERR_CONNECT_TIMEOUT, 0));
    EXPECT_TRUE(isRetryable(OMNICHAT_ERR_RATE_LIMITED, 429));
    EXPECT_TRUE(isRetryable(OMNICHAT_ERR_TIMEOUT, 408));
    EXPECT_TRUE(isRetryable(OMNICHAT_ERR_UPSTREAM, 409));
    EXPECT_TRUE(isRetryable(OMNICHAT_ERR_UPSTREAM, 500));
    EXPECT_TRUE(isRetryable(OMNICHAT_ERR_UPSTREAM, 503));
    EXPECT_FALSE(isRetryable(OMNICHAT_ERR_UPSTREAM, 418));
    EXPECT_FALSE(isRetryable(OMNICHAT_ERR_AUTH, 401));
    EXPECT_FALSE(isRetryable(OMNICHAT_ERR_BAD_REQUEST, 400));
    EXPECT_FALSE(isRetryable(OMNICHAT_ERR_CONTENT_FILTERED, 0));
    EXPECT_FALSE(isRetryable(OMNICHAT_ERR_BAD_RESPONSE, 200));
    EXPECT_FALSE(isRetryable(OMNICHAT_ERR_CANCELLED, 0));
}

TEST(RetryPolicy, HonoursRetryAfterUpToTheCap) {
    RetrySettings s = defaultConfig().retry;
    EXPECT_EQ(retryDelayMs(s, 1, 2000, 0.5), 2000);
    EXPECT_EQ(retryDelayMs(s, 1, 0, 0.5), 0);
    EXPECT_EQ(retryDelayMs(s, 1, 60000, 0.0), 60000);
    // Beyond the cap: back off as if the header were absent.
    EXPECT_EQ(retryDelayMs(s, 1, 60001, 0.0), 500);
}

TEST(RetryPolicy, BacksOffExponentiallyWithJitter) {
    RetrySettings s = defaultConfig().retry;
    EXPECT_EQ(retryDelayMs(s, 1, -1, 0.0), 500);
    EXPECT_EQ(retryDelayMs(s, 2, -1, 0.0), 1000);
    EXPECT_EQ(retryDelayMs(s, 3, -1, 0.0), 2000);
    EXPECT_EQ(retryDelayMs(s, 10, -1, 0.0), 8000);  // capped
    EXPECT_EQ(retryDelayMs(s, 2, -1, 1.0), 750);    // at most 25% less
    for (double j : {0.1, 0.5, 0.9}) {
        auto d = retryDelayMs(s, 2, -1, j);
        EXPECT_GE(d, 750);
        EXPECT_LE(d, 1000);
    }
}

}  // namespace
}  // namespace omnichat
