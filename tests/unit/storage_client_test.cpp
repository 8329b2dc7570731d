#include "chat/storage_client.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/ids.hpp"
#include "plugins/plugin_config.hpp"

namespace omnichat {
namespace {

TEST(StorageClient, LoadsAConversationFromAPluginBuiltBeforeConversationLoad) {
    PluginLibraries plugins(OMNICHAT_TEST_PLUGIN_DIR);
    StorageClient storage(
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
    // Nor the stats hook of ABI 1.3: every count reads -1.
    EXPECT_EQ(storage.stats().connections_open, -1);
    EXPECT_EQ(storage.stats().connection_waits, -1);
}

TEST(StorageClient, LoadsAConversationWithItsHistoryInOneCall) {
    auto folder = std::filesystem::temp_directory_path() / ("omnichat-storage-" + newUuid());
    {
        PluginLibraries plugins(OMNICHAT_PLUGIN_DIR);
        StorageClient storage(
            plugins.createInstance({"sqlite", {{"path", {(folder / "db.sqlite").string(), "f.yaml:2"}}}, "f.yaml:1"},
                                   "storage", OMNICHAT_PLUGIN_STORAGE));
        storage.migrate();
        Conversation c;
        c.id = newUuid();
        c.projectId = "p";
        c.userId = "u";
        c.systemPrompt = "Be brief.";
        storage.createConversation(c);
        StoredMessage question, answer;
        question.id = newUuid();
        question.conversationId = c.id;
        question.content = "hello";
        answer = question;
        answer.id = newUuid();
        answer.role = OMNICHAT_ROLE_ASSISTANT;
        answer.content = "hi";
        ASSERT_TRUE(storage.appendExchange(question, answer));

        auto loaded = storage.loadConversation(c.id, "u");
        ASSERT_TRUE(loaded);
        EXPECT_EQ(loaded->conversation.systemPrompt, "Be brief.");
        EXPECT_EQ(loaded->conversation.messageCount, 2);
        ASSERT_EQ(loaded->history.size(), 2u);
        EXPECT_EQ(loaded->history[0].content, "hello");
        EXPECT_EQ(loaded->history[1].content, "hi");
        EXPECT_FALSE(storage.loadConversation(c.id, "not-u"));
        EXPECT_FALSE(storage.loadConversation(newUuid(), "u"));

        // Known messages are skipped; the count still covers them all.
        ASSERT_TRUE(storage.loadsSince());
        auto since = storage.loadConversation(c.id, "u", 1);
        ASSERT_TRUE(since);
        EXPECT_EQ(since->conversation.messageCount, 2);
        ASSERT_EQ(since->history.size(), 1u);
        EXPECT_EQ(since->history[0].content, "hi");
        auto none = storage.loadConversation(c.id, "u", 2);
        ASSERT_TRUE(none);
        EXPECT_TRUE(none->history.empty());
        EXPECT_FALSE(storage.loadConversation(c.id, "not-u", 1));
    }
    std::filesystem::remove_all(folder);
}

}  // namespace
}  // namespace omnichat
