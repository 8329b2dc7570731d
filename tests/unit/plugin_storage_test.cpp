#include "ports/plugin_storage.hpp"
#include "ports/host_table.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/ids.hpp"
#include "plugins/plugin_config.hpp"

namespace omnichat {
namespace {

TEST(PluginStorage, LoadsAConversationFromAPluginBuiltBeforeConversationLoad) {
    PluginLibraries plugins(OMNICHAT_TEST_PLUGIN_DIR, hostTable());
    PluginStorage storage(
        plugins.createInstance({"storage-abi-1-1", {}, "f.yaml:1"}, "storage", OMNICHAT_PLUGIN_STORAGE));
    auto loaded = storage.loadConversation("c1", "u1");
    ASSERT_TRUE(loaded);
    EXPECT_EQ(loaded->conversation.model, "old-model");
    ASSERT_EQ(loaded->history.size(), 2u);
    EXPECT_EQ(loaded->history[0].content, "first question");
    EXPECT_EQ(loaded->history[1].role, OMNICHAT_ROLE_ASSISTANT);
    EXPECT_FALSE(storage.loadConversation("c1", "someone-else"));
    // Nor the load_since hook of ABI 1.4: histories are not held for it.
    EXPECT_FALSE(storage.loadsSince());
    // Nor the conditional append of ABI 1.5: sends read before they append.
    EXPECT_FALSE(storage.appendsIfUnchanged());
    // Nor the stats hook of ABI 1.3: every count reads -1.
    EXPECT_EQ(storage.stats().connectionsOpen, -1);
    EXPECT_EQ(storage.stats().connectionWaits, -1);
}

// A sqlite database holding one conversation of user "u" with one exchange.
class SqliteStorageClient : public ::testing::Test {
protected:
    void SetUp() override {
        storage_ = std::make_unique<PluginStorage>(
            plugins_.createInstance({"sqlite", {{"path", {(folder_ / "db.sqlite").string(), "f.yaml:2"}}}, "f.yaml:1"},
                                    "storage", OMNICHAT_PLUGIN_STORAGE));
        storage_->migrate();
        domain::Conversation c;
        c.id = id_;
        c.projectId = "p";
        c.userId = "u";
        c.systemPrompt = "Be brief.";
        storage_->createConversation(c);
        domain::StoredMessage question, answer;
        question.id = newUuid();
        question.conversationId = id_;
        question.content = "hello";
        answer.id = newUuid();
        answer.conversationId = id_;
        answer.role = OMNICHAT_ROLE_ASSISTANT;
        answer.content = "hi";
        ASSERT_TRUE(storage_->appendExchange(question, answer));
    }
    void TearDown() override {
        storage_.reset();
        std::filesystem::remove_all(folder_);
    }

    std::filesystem::path folder_ = std::filesystem::temp_directory_path() / ("omnichat-storage-" + newUuid());
    PluginLibraries plugins_{OMNICHAT_PLUGIN_DIR, hostTable()};
    std::unique_ptr<PluginStorage> storage_;
    std::string id_ = newUuid();
};

TEST_F(SqliteStorageClient, LoadsAConversationWithItsHistoryInOneCall) {
    auto loaded = storage_->loadConversation(id_, "u");
    ASSERT_TRUE(loaded);
    EXPECT_EQ(loaded->conversation.systemPrompt, "Be brief.");
    EXPECT_EQ(loaded->conversation.messageCount, 2);
    ASSERT_EQ(loaded->history.size(), 2u);
    EXPECT_EQ(loaded->history[0].content, "hello");
    EXPECT_EQ(loaded->history[1].content, "hi");
    EXPECT_FALSE(storage_->loadConversation(id_, "not-u"));
    EXPECT_FALSE(storage_->loadConversation(newUuid(), "u"));
}

// Known messages are skipped; the count still covers them all.
TEST_F(SqliteStorageClient, SkipsTheMessagesTheHostHolds) {
    ASSERT_TRUE(storage_->loadsSince());
    auto since = storage_->loadConversation(id_, "u", 1);
    ASSERT_TRUE(since);
    EXPECT_EQ(since->conversation.messageCount, 2);
    ASSERT_EQ(since->history.size(), 1u);
    EXPECT_EQ(since->history[0].content, "hi");
    auto none = storage_->loadConversation(id_, "u", 2);
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->history.empty());
    EXPECT_FALSE(storage_->loadConversation(id_, "not-u", 1));
}

// The conditional append (ABI 1.5) appends only to the history it names:
// that many messages, the last with that id.
TEST_F(SqliteStorageClient, AppendsOnlyToTheHistoryItExpects) {
    using Appended = StoragePort::Appended;
    ASSERT_TRUE(storage_->appendsIfUnchanged());
    const std::string lastId = storage_->loadConversation(id_, "u")->history.back().id;
    auto exchange = [&](const std::string& conversationId, const char* text) {
        std::pair<domain::StoredMessage, domain::StoredMessage> pair;
        pair.first.id = newUuid();
        pair.first.conversationId = conversationId;
        pair.first.content = text;
        pair.second.id = newUuid();
        pair.second.conversationId = conversationId;
        pair.second.role = OMNICHAT_ROLE_ASSISTANT;
        pair.second.content = std::string("reply to ") + text;
        return pair;
    };
    auto [question, answer] = exchange(id_, "next");
    EXPECT_EQ(storage_->appendExchangeIfUnchanged(question, answer, 1, lastId), Appended::Changed);
    EXPECT_EQ(storage_->appendExchangeIfUnchanged(question, answer, 2, "another-id"), Appended::Changed);
    EXPECT_EQ(storage_->loadConversation(id_, "u")->history.size(), 2u);
    EXPECT_EQ(storage_->appendExchangeIfUnchanged(question, answer, 2, lastId), Appended::Yes);
    auto loaded = storage_->loadConversation(id_, "u");
    EXPECT_EQ(loaded->conversation.messageCount, 4);
    ASSERT_EQ(loaded->history.size(), 4u);
    EXPECT_EQ(loaded->history[2].content, "next");
    EXPECT_EQ(loaded->history[3].content, "reply to next");

    auto [late, lateAnswer] = exchange(id_, "late");
    EXPECT_EQ(storage_->appendExchangeIfUnchanged(late, lateAnswer, 2, lastId), Appended::Changed);
    auto [lost, lostAnswer] = exchange(newUuid(), "lost");
    EXPECT_EQ(storage_->appendExchangeIfUnchanged(lost, lostAnswer, 0, ""), Appended::Gone);

    // An empty history names no last message.
    domain::Conversation empty;
    empty.id = newUuid();
    empty.projectId = "p";
    empty.userId = "u";
    storage_->createConversation(empty);
    auto [first, firstAnswer] = exchange(empty.id, "first");
    EXPECT_EQ(storage_->appendExchangeIfUnchanged(first, firstAnswer, 0, ""), Appended::Yes);
    EXPECT_EQ(storage_->loadConversation(empty.id, "u")->history.size(), 2u);
}

}  // namespace
}  // namespace omnichat
