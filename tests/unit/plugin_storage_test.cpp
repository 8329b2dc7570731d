#include "ports/plugin_storage.hpp"
#include "ports/host_table.hpp"

#include <gtest/gtest.h>

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

// The storage plugins' behaviour is the conformance kit's (conformance/storage_suite.cpp).

}  // namespace
}  // namespace omnichat
