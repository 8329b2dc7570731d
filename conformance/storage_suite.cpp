// The storage scenarios: what every storage plugin must keep, checked
// through the host's storage port (the code that calls the plugin's hooks
// in the server). Each scenario works as users of its own, so the kit can
// run against a database other data lives in. Hooks a plugin may leave out
// (conversation_load_since, exchange_append_if_unchanged, conversation_count)
// are checked when it offers them; their scenarios are reported skipped
// otherwise.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "common/ids.hpp"
#include "kit.hpp"
#include "plugins/plugin_loader.hpp"
#include "ports/host_table.hpp"
#include "ports/plugin_storage.hpp"

namespace omnichat::conformance {
namespace {

class Storage : public ::testing::Test {
protected:
    void SetUp() override {
        PluginInstanceConfig config{settings().plugin, {}, "the conformance kit"};
        for (const auto& [key, value] : settings().options) config.options[key] = {value, "--option " + key};
        storage_ = std::make_unique<PluginStorage>(
            libraries_.createInstance(config, "the plugin under test", OMNICHAT_PLUGIN_STORAGE));
        storage_->migrate();
    }

    domain::Conversation newConversation(const std::string& user, const std::string& project = "p",
                                         int64_t createdAtMs = 1000) {
        domain::Conversation c;
        c.id = newUuid();
        c.projectId = project;
        c.userId = user;
        c.title = "a title";
        c.systemPrompt = "Be brief.";
        c.createdAtMs = c.updatedAtMs = createdAtMs;
        storage_->createConversation(c);
        return c;
    }
    static std::pair<domain::StoredMessage, domain::StoredMessage> exchange(const std::string& conversation,
                                                                            const std::string& text,
                                                                            int64_t atMs = 2000) {
        std::pair<domain::StoredMessage, domain::StoredMessage> pair;
        pair.first.id = newUuid();
        pair.first.conversationId = conversation;
        pair.first.content = text;
        pair.first.createdAtMs = atMs;
        pair.second.id = newUuid();
        pair.second.conversationId = conversation;
        pair.second.role = OMNICHAT_ROLE_ASSISTANT;
        pair.second.content = "reply to " + text;
        pair.second.createdAtMs = atMs + 1;
        pair.second.provider = "p";
        pair.second.model = "m";
        pair.second.finishReason = "stop";
        pair.second.usage.promptTokens = 3;
        pair.second.usage.completionTokens = 4;
        pair.second.usage.cost = 0.25;
        return pair;
    }
    bool append(const std::string& conversation, const std::string& text, int64_t atMs = 2000) {
        auto [question, answer] = exchange(conversation, text, atMs);
        return storage_->appendExchange(question, answer);
    }
    std::vector<domain::StoredMessage> history(const std::string& id, const std::string& user) {
        auto h = storage_->listMessages(id, user, "", -1);
        EXPECT_TRUE(h) << "conversation " << id << " not found";
        return h ? *h : std::vector<domain::StoredMessage>{};
    }

    const std::string user_ = "conformance-" + newUuid();
    const std::string stranger_ = "stranger-" + newUuid();
    PluginLibraries libraries_{settings().searchPath, hostTable()};
    std::unique_ptr<PluginStorage> storage_;
};

TEST_F(Storage, MigratingAgainChangesNothing) {
    auto c = newConversation(user_);
    ASSERT_TRUE(append(c.id, "kept"));
    storage_->migrate();
    storage_->ping();
    EXPECT_EQ(history(c.id, user_).size(), 2u);
}

TEST_F(Storage, AConversationIsKeptAsCreated) {
    auto c = newConversation(user_);
    auto got = storage_->getConversation(c.id, user_);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->id, c.id);
    EXPECT_EQ(got->projectId, "p");
    EXPECT_EQ(got->title, std::optional<std::string>("a title"));
    EXPECT_EQ(got->systemPrompt, "Be brief.");
    EXPECT_EQ(got->createdAtMs, 1000);
    EXPECT_EQ(got->messageCount, 0);
    EXPECT_FALSE(storage_->getConversation(newUuid(), user_));
}

// Another user's conversation is not found by any hook, and nothing of it
// changes.
TEST_F(Storage, AStrangerFindsNothing) {
    auto c = newConversation(user_);
    ASSERT_TRUE(append(c.id, "mine"));
    EXPECT_FALSE(storage_->getConversation(c.id, stranger_));
    EXPECT_TRUE(storage_->listConversations(stranger_, "p").empty());
    EXPECT_FALSE(storage_->listMessages(c.id, stranger_, "", -1));
    EXPECT_FALSE(storage_->loadConversation(c.id, stranger_));
    if (storage_->loadsSince()) {
        EXPECT_FALSE(storage_->loadConversation(c.id, stranger_, 1));
    }
    EXPECT_FALSE(storage_->deleteConversation(c.id, stranger_));
    EXPECT_EQ(history(c.id, user_).size(), 2u);
}

TEST_F(Storage, AProjectListsItsConversationsNewestFirst) {
    auto older = newConversation(user_, "p", 1000);
    auto newer = newConversation(user_, "p", 2000);
    newConversation(user_, "other", 3000);
    auto listed = storage_->listConversations(user_, "p");
    ASSERT_EQ(listed.size(), 2u);
    EXPECT_EQ(listed[0].id, newer.id);
    EXPECT_EQ(listed[1].id, older.id);
}

// An exchange is its question and reply, adjacent, with the reply's usage
// added to the conversation's totals.
TEST_F(Storage, AnExchangeIsAppendedWhole) {
    auto c = newConversation(user_);
    ASSERT_TRUE(append(c.id, "first"));
    ASSERT_TRUE(append(c.id, "second", 3000));
    auto h = history(c.id, user_);
    ASSERT_EQ(h.size(), 4u);
    EXPECT_EQ(h[0].content, "first");
    EXPECT_EQ(h[0].role, OMNICHAT_ROLE_USER);
    EXPECT_EQ(h[1].content, "reply to first");
    EXPECT_EQ(h[1].role, OMNICHAT_ROLE_ASSISTANT);
    EXPECT_EQ(h[1].model, "m");
    EXPECT_EQ(h[1].finishReason, "stop");
    EXPECT_EQ(h[1].usage.promptTokens, 3);
    EXPECT_EQ(h[3].content, "reply to second");
    auto got = storage_->getConversation(c.id, user_);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->messageCount, 4);
    EXPECT_EQ(got->promptTokens, 6);
    EXPECT_EQ(got->completionTokens, 8);
    EXPECT_DOUBLE_EQ(got->cost, 0.5);
    EXPECT_FALSE(append(newUuid(), "to no conversation"));
}

// Exchanges appended at once to one conversation, from many threads, each
// stay whole: every question directly followed by its reply.
TEST_F(Storage, ExchangesAppendedAtOnceStayWhole) {
    auto c = newConversation(user_);
    constexpr int kThreads = 8, kEach = 10;
    std::vector<std::thread> threads;
    std::atomic<int> failed{0};
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < kEach; ++i) {
                // Built by appends: GCC 12 at -O3 warns (-Wrestrict, a false
                // positive) on "literal" + std::to_string(...).
                std::string text = std::to_string(t);
                text.append("-").append(std::to_string(i));
                if (!append(c.id, text)) ++failed;
            }
        });
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(failed.load(), 0);
    auto h = history(c.id, user_);
    ASSERT_EQ(h.size(), 2u * kThreads * kEach);
    for (size_t i = 0; i < h.size(); i += 2) EXPECT_EQ(h[i + 1].content, "reply to " + h[i].content) << "message " << i;
}

TEST_F(Storage, MessagesArePagedAfterAnId) {
    auto c = newConversation(user_);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(append(c.id, "m" + std::to_string(i), 2000 + 10 * i));
    auto all = history(c.id, user_);
    ASSERT_EQ(all.size(), 6u);
    auto page = storage_->listMessages(c.id, user_, all[1].id, 2);
    ASSERT_TRUE(page);
    ASSERT_EQ(page->size(), 2u);
    EXPECT_EQ((*page)[0].id, all[2].id);
    EXPECT_EQ((*page)[1].id, all[3].id);
    EXPECT_TRUE(storage_->listMessages(c.id, user_, all[5].id, -1)->empty());
    EXPECT_FALSE(storage_->listMessages(c.id, user_, newUuid(), -1)) << "an unknown message id is not found";
}

// Text comes back byte for byte: every character from U+0001 on, quotes,
// backslashes, line breaks and characters outside the BMP.
TEST_F(Storage, TextIsKeptByteForByte) {
    std::string every;
    for (int c = 1; c < 0x80; ++c) every += static_cast<char>(c);
    every += "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 '; DROP TABLE messages; --";
    auto c = newConversation(user_);
    ASSERT_TRUE(append(c.id, every));
    auto h = history(c.id, user_);
    ASSERT_EQ(h.size(), 2u);
    EXPECT_EQ(h[0].content, every);
    EXPECT_EQ(h[1].content, "reply to " + every);
}

TEST_F(Storage, DeletingAConversationDeletesItsMessages) {
    auto c = newConversation(user_);
    ASSERT_TRUE(append(c.id, "gone soon"));
    ASSERT_TRUE(storage_->deleteConversation(c.id, user_));
    EXPECT_FALSE(storage_->getConversation(c.id, user_));
    EXPECT_FALSE(storage_->listMessages(c.id, user_, "", -1));
    EXPECT_FALSE(storage_->deleteConversation(c.id, user_));
    EXPECT_FALSE(append(c.id, "too late"));
}

// An exchange appended after another with a later timestamp (a host whose
// clock lags, or a send that finished first and appended second) takes its
// place in time as well as in order.
TEST_F(Storage, TimestampsNeverGoBackwardsInHistoryOrder) {
    auto c = newConversation(user_);
    ASSERT_TRUE(append(c.id, "a", 5000));
    ASSERT_TRUE(append(c.id, "b", 3000));  // earlier, appended later
    ASSERT_TRUE(append(c.id, "c", 9000));
    auto h = history(c.id, user_);
    ASSERT_EQ(h.size(), 6u);
    for (size_t i = 1; i < h.size(); ++i) EXPECT_GE(h[i].createdAtMs, h[i - 1].createdAtMs) << "message " << i;
    EXPECT_EQ(h[0].createdAtMs, 5000);  // as given, when nothing is out of order
    EXPECT_EQ(h[4].createdAtMs, 9000);
    EXPECT_LT(h[2].createdAtMs, h[3].createdAtMs);  // the reply after its question
    EXPECT_EQ(storage_->getConversation(c.id, user_)->updatedAtMs, h[5].createdAtMs);
}

// conversation_load (optional: the host reads the conversation, then its
// messages) and conversation_load_since.
TEST_F(Storage, ALoadIsTheConversationAndItsHistory) {
    auto c = newConversation(user_);
    ASSERT_TRUE(append(c.id, "hello"));
    auto loaded = storage_->loadConversation(c.id, user_);
    ASSERT_TRUE(loaded);
    EXPECT_EQ(loaded->conversation.systemPrompt, "Be brief.");
    EXPECT_EQ(loaded->conversation.messageCount, 2);
    ASSERT_EQ(loaded->history.size(), 2u);
    EXPECT_EQ(loaded->history[1].content, "reply to hello");
    EXPECT_FALSE(storage_->loadConversation(newUuid(), user_));
    if (!storage_->loadsSince()) GTEST_SKIP() << "the plugin does not offer conversation_load_since";
    auto since = storage_->loadConversation(c.id, user_, 1);
    ASSERT_TRUE(since);
    EXPECT_EQ(since->conversation.messageCount, 2);
    ASSERT_EQ(since->history.size(), 1u);
    EXPECT_EQ(since->history[0].content, "reply to hello");
    EXPECT_TRUE(storage_->loadConversation(c.id, user_, 2)->history.empty());
}

// exchange_append_if_unchanged (optional): appends only to the history it
// names, that many messages, the last with that id.
TEST_F(Storage, AConditionalAppendAppendsOnlyToTheHistoryItNames) {
    if (!storage_->appendsIfUnchanged()) GTEST_SKIP() << "the plugin does not offer exchange_append_if_unchanged";
    using Appended = StoragePort::Appended;
    auto c = newConversation(user_);
    ASSERT_TRUE(append(c.id, "hello"));
    const std::string lastId = history(c.id, user_).back().id;
    auto [question, answer] = exchange(c.id, "next", 3000);
    EXPECT_EQ(storage_->appendExchangeIfUnchanged(question, answer, 1, lastId), Appended::Changed);
    EXPECT_EQ(storage_->appendExchangeIfUnchanged(question, answer, 2, "another-id"), Appended::Changed);
    EXPECT_EQ(history(c.id, user_).size(), 2u);
    EXPECT_EQ(storage_->appendExchangeIfUnchanged(question, answer, 2, lastId), Appended::Yes);
    EXPECT_EQ(history(c.id, user_).size(), 4u);
    auto [lost, lostAnswer] = exchange(newUuid(), "lost");
    EXPECT_EQ(storage_->appendExchangeIfUnchanged(lost, lostAnswer, 0, ""), Appended::Gone);
    auto empty = newConversation(user_);
    auto [first, firstAnswer] = exchange(empty.id, "first");
    EXPECT_EQ(storage_->appendExchangeIfUnchanged(first, firstAnswer, 0, ""), Appended::Yes);
}

// conversation_count (optional): a user's conversations in all projects.
TEST_F(Storage, CountsAUsersConversationsInAllProjects) {
    auto count = storage_->countConversations(user_);
    if (!count) GTEST_SKIP() << "the plugin does not offer conversation_count";
    EXPECT_EQ(*count, 0);
    auto first = newConversation(user_);
    newConversation(user_, "other");
    newConversation(stranger_);
    EXPECT_EQ(storage_->countConversations(user_), 2);
    ASSERT_TRUE(storage_->deleteConversation(first.id, user_));
    EXPECT_EQ(storage_->countConversations(user_), 1);
}

}  // namespace
}  // namespace omnichat::conformance
