#include "chat/history_cache.hpp"

#include <gtest/gtest.h>

namespace omnichat {
namespace {

HistoryCache::History historyOf(size_t messages, size_t contentBytes = 10) {
    auto h = std::make_shared<std::vector<StoredMessage>>(messages);
    for (auto& m : *h) m.content.assign(contentBytes, 'x');
    return h;
}

TEST(HistoryCache, HoldsWhatItIsGiven) {
    HistoryCache cache(1 << 20);
    EXPECT_EQ(cache.find("a"), nullptr);
    auto h = historyOf(3);
    cache.keep("a", h);
    EXPECT_EQ(cache.find("a"), h);
    EXPECT_EQ(cache.entries(), 1u);
    EXPECT_GT(cache.bytes(), 30u);
    cache.forget("a");
    EXPECT_EQ(cache.find("a"), nullptr);
    EXPECT_EQ(cache.bytes(), 0u);
}

// Two sends of one conversation may finish their reads in either order;
// the longer history is the newer one.
TEST(HistoryCache, AShorterHistoryNeverReplacesALongerOne) {
    HistoryCache cache(1 << 20);
    auto longer = historyOf(4), shorter = historyOf(2);
    cache.keep("a", longer);
    cache.keep("a", shorter);
    EXPECT_EQ(cache.find("a"), longer);
    auto longest = historyOf(6);
    cache.keep("a", longest);
    EXPECT_EQ(cache.find("a"), longest);
    EXPECT_EQ(cache.entries(), 1u);
}

TEST(HistoryCache, DropsTheLeastRecentlyUsedToStayWithinItsBound) {
    auto one = historyOf(10, 1000);
    HistoryCache probe(1 << 20);
    probe.keep("a", one);
    const size_t entry = probe.bytes();

    HistoryCache cache(3 * entry);  // keys of one letter: every entry costs the same
    cache.keep("a", historyOf(10, 1000));
    cache.keep("b", historyOf(10, 1000));
    cache.keep("c", historyOf(10, 1000));
    ASSERT_NE(cache.find("a"), nullptr);  // now b is the least recently used
    cache.keep("d", historyOf(10, 1000));
    EXPECT_EQ(cache.find("b"), nullptr);
    EXPECT_NE(cache.find("a"), nullptr);
    EXPECT_NE(cache.find("c"), nullptr);
    EXPECT_NE(cache.find("d"), nullptr);
    EXPECT_LE(cache.bytes(), 3 * entry);
}

TEST(HistoryCache, AHistoryLargerThanTheBoundIsNotHeld) {
    HistoryCache cache(4096);
    cache.keep("small", historyOf(1));
    cache.keep("huge", historyOf(10, 4096));
    EXPECT_EQ(cache.find("huge"), nullptr);
    EXPECT_NE(cache.find("small"), nullptr);
}

TEST(HistoryCache, ABoundOfZeroHoldsNothing) {
    HistoryCache cache(0);
    cache.keep("a", historyOf(1));
    EXPECT_EQ(cache.find("a"), nullptr);
    EXPECT_EQ(cache.bytes(), 0u);
}

}  // namespace
}  // namespace omnichat
