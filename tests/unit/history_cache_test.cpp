#include "chat/history_cache.hpp"

#include <gtest/gtest.h>

namespace omnichat {
namespace {

HistoryCache::History historyOf(size_t messages, size_t contentBytes = 10) {
    std::vector<domain::StoredMessage> h(messages);
    for (auto& m : h) m.content.assign(contentBytes, 'x');
    return HistoryCache::historyOf(std::move(h));
}

std::shared_ptr<const domain::Conversation> conversation(const std::string& id) {
    auto c = std::make_shared<domain::Conversation>();
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
// (for a next turn to start from) while find() keeps what storage confirmed.
// An append from a history that is no longer the held one leaves the order
// unknown: held() offers nothing until storage's history is kept again.
TEST(HistoryCache, OffersTheExchangeThisHostAppended) {
    HistoryCache cache(1 << 20);
    auto h = historyOf(2);
    cache.keep(conversation("a"), h);
    const size_t bytes = cache.bytes();
    auto message = [](const std::string& id) {
        auto m = std::make_shared<domain::StoredMessage>();
        m->id = id;
        return std::shared_ptr<const domain::StoredMessage>(m);
    };
    cache.appended("a", *h, message("u1"), message("r1"));
    auto held = cache.held("a");
    ASSERT_TRUE(held);
    ASSERT_EQ(held->history->size(), 4u);
    EXPECT_EQ((*held->history)[3]->id, "r1");
    EXPECT_EQ(cache.find("a"), h);
    EXPECT_GT(cache.bytes(), bytes);

    cache.appended("a", *held->history, message("u2"), message("r2"));
    EXPECT_EQ(cache.held("a")->history->size(), 6u);

    cache.keep(conversation("a"), HistoryCache::historyOf({}));  // shorter than what is held: ignored
    EXPECT_EQ(cache.held("a")->history->size(), 6u);
    // Storage's word replaces the guess.
    auto confirmed = std::make_shared<const HistoryCache::Messages>(*cache.held("a")->history);
    cache.keep(conversation("a"), confirmed);
    EXPECT_EQ(cache.held("a")->history, confirmed);

    const size_t confirmedBytes = cache.bytes();
    cache.appended("a", *confirmed, message("u3"), message("r3"));
    const size_t oneTurnBytes = cache.bytes();
    EXPECT_GT(oneTurnBytes, confirmedBytes);
    cache.appended("a", *cache.held("a")->history, message("u4"), message("r4"));
    EXPECT_GT(cache.bytes(), oneTurnBytes);
    cache.appended("a", *confirmed, message("u5"), message("r5"));  // from before u3, r3: stale
    EXPECT_FALSE(cache.held("a"));
    EXPECT_EQ(cache.find("a"), confirmed);  // still what a read may start after
    EXPECT_EQ(cache.bytes(), confirmedBytes);
    auto reread = historyOf(8);
    cache.keep(conversation("a"), reread);
    EXPECT_EQ(cache.held("a")->history, reread);
    cache.forget("a");
    EXPECT_EQ(cache.bytes(), 0u);
}

// A read that ends after this host appended, without seeing the append,
// leaves what held() offers as it was; one that disagrees with it leaves
// the order unknown until the next read.
TEST(HistoryCache, AReadFromBeforeThisHostsAppendKeepsIt) {
    HistoryCache cache(1 << 20);
    auto h = historyOf(2);
    cache.keep(conversation("a"), h);
    auto mine = std::make_shared<domain::StoredMessage>(), reply = std::make_shared<domain::StoredMessage>();
    mine->id = "u1";
    reply->id = "r1";
    cache.appended("a", *h, mine, reply);
    cache.keep(conversation("a"), historyOf(2));  // the same two messages, read anew
    ASSERT_TRUE(cache.held("a"));
    EXPECT_EQ(cache.held("a")->history->back()->id, "r1");
    EXPECT_EQ(cache.held("a")->history->size(), 4u);

    cache.keep(conversation("a"), historyOf(4));  // two others where this host's exchange is
    EXPECT_FALSE(cache.held("a"));
    cache.keep(conversation("a"), historyOf(6));
    EXPECT_EQ(cache.held("a")->history->size(), 6u);
}

// Storage held another history than the one offered: the conversation is
// shared from then on (its sends read first), through later reads.
TEST(HistoryCache, AChangedConversationStaysShared) {
    HistoryCache cache(1 << 20);
    cache.keep(conversation("a"), historyOf(2));
    EXPECT_FALSE(cache.held("a")->shared);
    cache.changed("a");
    EXPECT_FALSE(cache.held("a"));
    cache.keep(conversation("a"), historyOf(4));
    ASSERT_TRUE(cache.held("a"));
    EXPECT_TRUE(cache.held("a")->shared);
    cache.changed("b");  // not held: nothing to mark
    EXPECT_EQ(cache.entries(), 1u);
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

// What one entry of ten 1,000-byte messages costs; with keys of one letter
// every such entry costs the same.
size_t entryBytes() {
    HistoryCache probe(1 << 20);
    probe.keep(conversation("a"), historyOf(10, 1000));
    return probe.bytes();
}

TEST(HistoryCache, DropsTheLeastRecentlyUsedToStayWithinItsBound) {
    const size_t entry = entryBytes();

    HistoryCache cache(3 * entry);
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

// Dropping a history a send still reads frees nothing, and the
// conversation's next send would read and hold a copy of its own.
TEST(HistoryCache, KeepsHistoriesInUseAndDropsTheLeastRecentlyUsedOfTheRest) {
    const size_t entry = entryBytes();

    HistoryCache cache(3 * entry);
    auto readByASend = historyOf(10, 1000);
    cache.keep(conversation("a"), readByASend);  // the least recently used
    cache.keep(conversation("b"), historyOf(10, 1000));
    cache.keep(conversation("c"), historyOf(10, 1000));
    cache.keep(conversation("d"), historyOf(10, 1000));
    EXPECT_EQ(cache.find("a"), readByASend);
    EXPECT_EQ(cache.find("b"), nullptr);
    EXPECT_NE(cache.find("c"), nullptr);
    EXPECT_NE(cache.find("d"), nullptr);
    EXPECT_LE(cache.bytes(), 3 * entry);
}

TEST(HistoryCache, ExceedsItsBoundOnlyWhileEveryHistoryIsInUse) {
    const size_t entry = entryBytes();

    HistoryCache cache(2 * entry);
    std::vector<HistoryCache::History> sends{historyOf(10, 1000), historyOf(10, 1000), historyOf(10, 1000)};
    cache.keep(conversation("a"), sends[0]);
    cache.keep(conversation("b"), sends[1]);
    cache.keep(conversation("c"), sends[2]);
    EXPECT_EQ(cache.entries(), 3u);
    EXPECT_EQ(cache.bytes(), 3 * entry);

    sends.clear();  // the sends ended
    cache.keep(conversation("d"), historyOf(10, 1000));
    EXPECT_EQ(cache.entries(), 2u);
    EXPECT_LE(cache.bytes(), 2 * entry);
    EXPECT_NE(cache.find("d"), nullptr);
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

std::vector<domain::StoredMessage> messagesWithIds(std::initializer_list<const char*> ids) {
    std::vector<domain::StoredMessage> out;
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
