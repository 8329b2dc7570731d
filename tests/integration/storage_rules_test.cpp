// Rules every storage plugin keeps, checked on both first-party plugins
// through the host's storage port (PluginStorage).
#include <gtest/gtest.h>

#include <filesystem>

#include "common/ids.hpp"
#include "plugins/plugin_config.hpp"
#include "ports/host_table.hpp"
#include "ports/plugin_storage.hpp"
#include "server_process.hpp"
#include "throwaway_postgres.hpp"

namespace omnichat {
namespace {

class StorageRulesTest : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        PluginInstanceConfig instance =
            GetParam() == "postgres"
                ? PluginInstanceConfig{"postgres",
                                       {{"url", {testing::sharedTestDatabaseUrl(), "f.yaml:2"}}},
                                       "f.yaml:1"}
                : PluginInstanceConfig{"sqlite", {{"path", {folder_ + "/db.sqlite", "f.yaml:2"}}}, "f.yaml:1"};
        storage_ =
            std::make_unique<PluginStorage>(plugins_.createInstance(instance, "storage", OMNICHAT_PLUGIN_STORAGE));
        storage_->migrate();
    }
    void TearDown() override {
        storage_.reset();
        std::filesystem::remove_all(folder_);
    }

    std::string newConversation(const std::string& user, int64_t createdAtMs = 1000) {
        domain::Conversation c;
        c.id = newUuid();
        c.projectId = std::string("p");  // assigning the literal trips GCC 12 -O3 -Wrestrict (PR105329)
        c.userId = user;
        c.createdAtMs = c.updatedAtMs = createdAtMs;
        storage_->createConversation(c);
        return c.id;
    }
    void append(const std::string& conversation, int64_t atMs) {
        domain::StoredMessage question, answer;
        question.id = newUuid();
        question.conversationId = conversation;
        question.content = "q";
        question.createdAtMs = atMs;
        answer.id = newUuid();
        answer.conversationId = conversation;
        answer.role = OMNICHAT_ROLE_ASSISTANT;
        answer.content = "a";
        answer.createdAtMs = atMs + 1;
        ASSERT_TRUE(storage_->appendExchange(question, answer));
    }

    const std::string user_ = "u-" + newUuid();
    std::string folder_ = testing::makeScratchFolder();
    PluginLibraries plugins_{OMNICHAT_PLUGIN_DIR, hostTable()};
    std::unique_ptr<PluginStorage> storage_;
};

// An exchange appended after another with a later timestamp (a host whose
// clock lags, or a send that finished first and appended second) takes its
// place in time as well as in order.
TEST_P(StorageRulesTest, TimestampsNeverGoBackwardsInHistoryOrder) {
    auto id = newConversation(user_);
    append(id, 5000);
    append(id, 3000);  // earlier, appended later
    append(id, 9000);
    auto history = storage_->listMessages(id, user_, "", -1);
    ASSERT_TRUE(history);
    ASSERT_EQ(history->size(), 6u);
    for (size_t i = 1; i < history->size(); ++i)
        EXPECT_GE((*history)[i].createdAtMs, (*history)[i - 1].createdAtMs) << "message " << i;
    EXPECT_EQ((*history)[0].createdAtMs, 5000);  // as given, when nothing is out of order
    EXPECT_EQ((*history)[4].createdAtMs, 9000);
    EXPECT_LT((*history)[2].createdAtMs, (*history)[3].createdAtMs);  // the reply after its question
    auto conversation = storage_->getConversation(id, user_);
    ASSERT_TRUE(conversation);
    EXPECT_EQ(conversation->updatedAtMs, (*history)[5].createdAtMs);
}

TEST_P(StorageRulesTest, CountsAUsersConversationsInAllProjects) {
    EXPECT_EQ(storage_->countConversations(user_), 0);
    auto first = newConversation(user_);
    newConversation(user_);
    newConversation("someone-else-" + newUuid());
    EXPECT_EQ(storage_->countConversations(user_), 2);
    ASSERT_TRUE(storage_->deleteConversation(first, user_));
    EXPECT_EQ(storage_->countConversations(user_), 1);
}

INSTANTIATE_TEST_SUITE_P(Plugins, StorageRulesTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace omnichat
