#include "chat/history_cache.hpp"

#include <gtest/gtest.h>

namespace omnichat {
namespace {

HistoryCache::History historyOf(size_t messages, size_t contentBytes = 10) {
    std::vector<StoredMessage> h(messages);
    for (auto& m : h) m.content.assign(contentBytes, 'x');
    return HistoryCache::historyOf(std::move(h));
}

std::shared_ptr<const Conversation> conversation(const std::string& id) {
    auto c = std::make_shared<Conversation>();
    c->id = id;
    c->userId = "owner of " + id;
    return c;
}

TEST(HistoryCache, HoldsWhatItIsGiven) {
    HistoryCache cache(1 << 20);
    EXPECT_EQ(cache.find("a"), nullptr);
    auto h = historyOf(3);
    cache.keep(conversation("a"), h);
    EXPECT_EQ(cache.find("a"), h);
    auto held = cache.held("a");
    ASSERT_TRUE(held);
    EXPECT_EQ(held->history, h);
    EXPECT_EQ(held->conversation->userId, "owner of a");
    EXPECT_FALSE(cache.held("b"));
    EXPECT_EQ(cache.entries(), 1u);
    EXPECT_GT(cache.bytes(), 30u);
    cache.forget("a");
    EXPECT_EQ(cache.find("a"), nullptr);
    EXPECT_EQ(cache.bytes(), 0u);
}

// Storage's "not found" for a stranger leaves the owner's history held.
TEST(HistoryCache, ForgetsForTheOwnerOnly) {
    HistoryCache cache(1 << 20);
    auto h = historyOf(3);
    cache.keep(conversation("a"), h);
    cache.forgetIfOwnedBy("a", "someone else");
    EXPECT_EQ(cache.find("a"), h);
    cache.forgetIfOwnedBy("a", "owner of a");
    EXPECT_EQ(cache.find("a"), nullptr);
    cache.forgetIfOwnedBy("never held", "anyone");
    EXPECT_EQ(cache.entries(), 0u);
}

// After this host appends an exchange, held() offers the history with it
// (for a next turn to start from) while find() keeps what storage confirmed;
// an append from a history that is no longer the held one changes nothing.
TEST(HistoryCache, OffersTheExchangeThisHostAppended) {
    HistoryCache cache(1 << 20);
    auto h = historyOf(2);
    cache.keep(conversation("a"), h);
    const size_t bytes = cache.bytes();
    auto message = [](const std::string& id) {
        auto m = std::make_shared<StoredMessage>();
        m->id = id;
        return std::shared_ptr<const StoredMessage>(m);
    };
    cache.appended("a", *h, message("u1"), message("r1"));
    auto held = cache.held("a");
    ASSERT_TRUE(held);
    ASSERT_EQ(held->history->size(), 4u);
    EXPECT_EQ((*held->history)[3]->id, "r1");
    EXPECT_EQ(cache.find("a"), h);
    EXPECT_GT(cache.bytes(), bytes);

    cache.appended("a", *h, message("u2"), message("r2"));  // from before u1, r1: stale
    EXPECT_EQ(cache.held("a")->history->size(), 4u);
    cache.appended("a", *held->history, message("u3"), message("r3"));
    EXPECT_EQ(cache.held("a")->history->size(), 6u);

    cache.keep(conversation("a"), HistoryCache::historyOf({}));  // shorter than what is held: ignored
    EXPECT_EQ(cache.held("a")->history->size(), 6u);
    auto confirmed = historyOf(4);
    cache.keep(conversation("a"), confirmed);  // storage's word replaces the guess
    EXPECT_EQ(cache.held("a")->history, confirmed);
    cache.forget("a");
    EXPECT_EQ(cache.bytes(), 0u);
}

// Two sends of one conversation may finish their reads in either order;
// the longer history is the newer one.
TEST(HistoryCache, AShorterHistoryNeverReplacesALongerOne) {
    HistoryCache cache(1 << 20);
    auto longer = historyOf(4), shorter = historyOf(2);
    cache.keep(conversation("a"), longer);
    cache.keep(conversation("a"), shorter);
    EXPECT_EQ(cache.find("a"), longer);
    auto longest = historyOf(6);
    cache.keep(conversation("a"), longest);
    EXPECT_EQ(cache.find("a"), longest);
    EXPECT_EQ(cache.entries(), 1u);
}

TEST(HistoryCache, DropsTheLeastRecentlyUsedToStayWithinItsBound) {
    auto one = historyOf(10, 1000);
    HistoryCache probe(1 << 20);
    probe.keep(conversation("a"), one);
    const size_t entry = probe.bytes();

    HistoryCache cache(3 * entry);  // keys of one letter: every entry costs the same
    cache.keep(conversation("a"), historyOf(10, 1000));
    cache.keep(conversation("b"), historyOf(10, 1000));
    cache.keep(conversation("c"), historyOf(10, 1000));
    ASSERT_NE(cache.find("a"), nullptr);  // now b is the least recently used
    cache.keep(conversation("d"), historyOf(10, 1000));
    EXPECT_EQ(cache.find("b"), nullptr);
    EXPECT_NE(cache.find("a"), nullptr);
    EXPECT_NE(cache.find("c"), nullptr);
    EXPECT_NE(cache.find("d"), nullptr);
    EXPECT_LE(cache.bytes(), 3 * entry);
}

TEST(HistoryCache, AHistoryLargerThanTheBoundIsNotHeld) {
    HistoryCache cache(4096);
    cache.keep(conversation("small"), historyOf(1));
    cache.keep(conversation("huge"), historyOf(10, 4096));
    EXPECT_EQ(cache.find("huge"), nullptr);
    EXPECT_NE(cache.find("small"), nullptr);
}

TEST(HistoryCache, ABoundOfZeroHoldsNothing) {
    HistoryCache cache(0);
    cache.keep(conversation("a"), historyOf(1));
    EXPECT_EQ(cache.find("a"), nullptr);
    EXPECT_EQ(cache.bytes(), 0u);
}

std::vector<StoredMessage> messagesWithIds(std::initializer_list<const char*> ids) {
    std::vector<StoredMessage> out;
    for (auto id : ids) out.emplace_back().id = id;
    return out;
}

TEST(HistoryCache, ExtendsAHeldHistoryWithWhatStorageReadAfterIt) {
    auto held = HistoryCache::historyOf(messagesWithIds({"m1", "m2"}));
    auto extended = HistoryCache::extend(held, 4, messagesWithIds({"m3", "m4"}));
    ASSERT_NE(extended, nullptr);
    ASSERT_EQ(extended->size(), 4u);
    EXPECT_EQ((*extended)[0]->id, "m1");
    EXPECT_EQ((*extended)[3]->id, "m4");
    EXPECT_EQ((*extended)[1], (*held)[1]);  // the same message, not a copy
    EXPECT_EQ(held->size(), 2u);            // shared with requests still using it
    // Nothing new: the very same history.
    EXPECT_EQ(HistoryCache::extend(held, 2, {}), held);
    // Nothing held: what storage read is the whole history.
    auto whole = HistoryCache::extend(nullptr, 2, messagesWithIds({"m1", "m2"}));
    ASSERT_NE(whole, nullptr);
    EXPECT_EQ(whole->size(), 2u);
}

// Storage counts fewer (a database restored from a backup) or more
// messages than held plus read: the held start cannot be trusted.
TEST(HistoryCache, RefusesToExtendWhenStorageCountsOtherwise) {
    auto held = HistoryCache::historyOf(messagesWithIds({"m1", "m2"}));
    EXPECT_EQ(HistoryCache::extend(held, 1, {}), nullptr);
    EXPECT_EQ(HistoryCache::extend(held, 3, {}), nullptr);
    EXPECT_EQ(HistoryCache::extend(held, 5, messagesWithIds({"m3", "m4"})), nullptr);
}

}  // namespace
}  // namespace omnichat
