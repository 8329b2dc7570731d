#include "plugins/plugin_loader.hpp"

#include <gtest/gtest.h>

#include "plugins/plugin_config.hpp"
#include "ports/host_table.hpp"
#include "ports/plugin_providers.hpp"

namespace omnichat {
namespace {

std::string loadError(const std::string& dir, const std::string& name) {
    try {
        PluginLibraries(dir, hostTable()).get(name);
    } catch (const PluginError& e) {
        return e.what();
    }
    return "loaded";
}

TEST(PluginLoader, LoadsFirstPartyPluginsAndTheirOptions) {
    auto lib = PluginLibraries(OMNICHAT_PLUGIN_DIR, hostTable()).get("openai");
    EXPECT_EQ(lib->kind(), OMNICHAT_PLUGIN_PROVIDER);
    EXPECT_EQ(lib->name(), "openai");
    bool hasKey = false;
    for (const auto& o : lib->options())
        if (o.name == "api_key") hasKey = o.required && o.type == OMNICHAT_OPTION_SECRET;
    EXPECT_TRUE(hasKey);
    EXPECT_EQ(PluginLibraries(OMNICHAT_PLUGIN_DIR, hostTable()).get("sqlite")->kind(), OMNICHAT_PLUGIN_STORAGE);
}

TEST(PluginLoader, LoadsTheOutOfTreeEchoExample) {
    EXPECT_EQ(PluginLibraries(OMNICHAT_PLUGIN_DIR, hostTable()).get("echo")->name(), "echo");
}

TEST(PluginLoader, NamesFileAndReasonForBrokenPlugins) {
    const std::string dir = OMNICHAT_TEST_PLUGIN_DIR;
    auto missing = loadError(dir, "absent");
    EXPECT_NE(missing.find("libomnichat-absent.so"), std::string::npos) << missing;
    EXPECT_NE(missing.find("not found"), std::string::npos) << missing;
    auto noInit = loadError(dir, "no-init");
    EXPECT_NE(noInit.find("missing entry point omnichat_plugin_init"), std::string::npos) << noInit;
    auto major = loadError(dir, "future-major");
    EXPECT_NE(major.find("ABI mismatch: plugin built for 2.0"), std::string::npos) << major;
    auto minor = loadError(dir, "future-minor");
    EXPECT_NE(minor.find("ABI mismatch: plugin built for 1." + std::to_string(OMNICHAT_ABI_MINOR + 1)),
              std::string::npos)
        << minor;
    EXPECT_NE(loadError(dir, "init-refuses").find("refused"), std::string::npos);
    EXPECT_NE(loadError(dir, "no-table").find("without a provider table"), std::string::npos);
    auto small = loadError(dir, "small-descriptor");
    EXPECT_NE(small.find("the descriptor's struct_size is 8, smaller than ABI 1.0's"), std::string::npos) << small;
}

// Plugins are looked for in each directory of the path in turn, or named
// by their file.
TEST(PluginLoader, SearchesThePathInOrderAndTakesAFileByItsPath) {
    EXPECT_EQ(findPlugin({"/nonexistent", OMNICHAT_TEST_PLUGIN_DIR, OMNICHAT_PLUGIN_DIR}, "bytes"),
              std::string(OMNICHAT_TEST_PLUGIN_DIR) + "/libomnichat-bytes.so");
    EXPECT_EQ(findPlugin({OMNICHAT_PLUGIN_DIR, OMNICHAT_TEST_PLUGIN_DIR}, "echo"),
              std::string(OMNICHAT_PLUGIN_DIR) + "/libomnichat-echo.so");
    const std::string file = std::string(OMNICHAT_TEST_PLUGIN_DIR) + "/libomnichat-bytes.so";
    EXPECT_EQ(findPlugin({}, file), file);
    EXPECT_EQ(PluginLibraries(std::vector<std::string>{}, hostTable()).get(file)->name(), "bytes");
    try {
        findPlugin({"/nonexistent", "/also-not"}, "bytes");
        FAIL();
    } catch (const PluginError& e) {
        EXPECT_NE(std::string(e.what()).find("searched: /nonexistent, /also-not"), std::string::npos) << e.what();
    }
}

TEST(PluginLoader, ValidatesOptionsAgainstTheDeclaration) {
    auto lib = PluginLibraries(OMNICHAT_PLUGIN_DIR, hostTable()).get("openai");
    PluginInstanceConfig ok{"openai", {{"api_key", {"sk", "f.yaml:3"}}}, "f.yaml:1"};
    auto config = validateOptions(*lib, ok, "providers.openai");
    EXPECT_EQ(config->values.at("api_key"), "sk");
    EXPECT_EQ(config->values.at("base_url"), "https://api.openai.com/v1");  // declared default

    PluginInstanceConfig unknown{
        "openai", {{"api_key", {"sk", "f.yaml:3"}}, {"colour", {"red", "f.yaml:4"}}}, "f.yaml:1"};
    EXPECT_THROW(validateOptions(*lib, unknown, "providers.openai"), ConfigError);
    PluginInstanceConfig badInt{
        "openai", {{"api_key", {"sk", "f.yaml:3"}}, {"timeout_ms", {"soon", "f.yaml:4"}}}, "f.yaml:1"};
    EXPECT_THROW(validateOptions(*lib, badInt, "providers.openai"), ConfigError);
    PluginInstanceConfig missing{"openai", {}, "f.yaml:1"};
    try {
        validateOptions(*lib, missing, "providers.openai");
        FAIL();
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("f.yaml:1: providers.openai needs option 'api_key'"), std::string::npos)
            << e.what();
    }
}

TEST(PluginLoader, RefusesAPluginOfTheWrongKind) {
    PluginInstanceConfig storageAsProvider{"sqlite", {}, "f.yaml:1"};
    PluginLibraries plugins(OMNICHAT_PLUGIN_DIR, hostTable());
    EXPECT_THROW(plugins.createInstance(storageAsProvider, "providers.x", OMNICHAT_PLUGIN_PROVIDER), PluginError);
}

TEST(PluginLoader, InstancesOfOnePluginShareItsLibrary) {
    PluginLibraries plugins(OMNICHAT_PLUGIN_DIR, hostTable());
    PluginInstanceConfig echo{"echo", {}, "f.yaml:1"};
    auto first = plugins.createInstance(echo, "providers.a", OMNICHAT_PLUGIN_PROVIDER);
    auto second = plugins.createInstance(echo, "providers.b", OMNICHAT_PLUGIN_PROVIDER);
    EXPECT_EQ(&first->library(), &second->library());  // omnichat_plugin_init ran once
}

// A provider built against SDK 1.5 (tests/fixtures/sdk_1_5) loads and
// answers through this host unchanged; its source, unchanged, builds against
// today's SDK with g++ and with clang++ (tests/sdk), and those load and
// answer too.
TEST(PluginLoader, APluginOfSdk15LoadsAndServesBuiltEitherWay) {
    const std::string compat = OMNICHAT_SDK_COMPAT_DIR;
    for (const std::string& directory : {std::string(OMNICHAT_TEST_PLUGIN_DIR), compat + "/g++", compat + "/clang++"}) {
        SCOPED_TRACE(directory);
        PluginLibraries plugins(directory, hostTable());
        std::map<std::string, std::unique_ptr<PluginInstance>> instances;
        instances["old"] =
            plugins.createInstance({"echo-sdk-1-5", {}, "f.yaml:1"}, "providers.old", OMNICHAT_PLUGIN_PROVIDER);
        EXPECT_EQ(instances["old"]->library().name(), "echo-sdk-1-5");
        PluginProviders providers(std::move(instances));
        ProviderRequest request;
        request.model = "m";
        request.messages = {{OMNICHAT_ROLE_USER, "hello"}};
        std::string text;
        std::optional<domain::ProviderReply> reply;
        providers.start("old", request,
                        {[&](std::string_view piece) {
                             text += piece;
                             return true;
                         },
                         [&](domain::ProviderReply&& r) { reply = std::move(r); }});
        ASSERT_TRUE(reply);  // the echo answers before start_chat returns
        EXPECT_EQ(reply->status, OMNICHAT_OK);
        EXPECT_EQ(text, "echo-1.5: hello");
        EXPECT_EQ(reply->text, "echo-1.5: hello");
        EXPECT_EQ(reply->usage.promptTokens, 1);
    }
}

// An exception a plugin lets through start_chat fails the call as the
// provider's, however the plugin was written.
TEST(PluginProviders, AnExceptionAcrossTheAbiFailsTheCallAsTheProvidersError) {
    PluginLibraries plugins(OMNICHAT_TEST_PLUGIN_DIR, hostTable());
    std::map<std::string, std::unique_ptr<PluginInstance>> instances;
    instances["raw"] =
        plugins.createInstance({"raw-throwing", {}, "f.yaml:1"}, "providers.raw", OMNICHAT_PLUGIN_PROVIDER);
    instances["sdk"] = plugins.createInstance({"bytes", {}, "f.yaml:1"}, "providers.sdk", OMNICHAT_PLUGIN_PROVIDER);
    PluginProviders providers(std::move(instances));
    for (const char* provider : {"raw", "sdk"}) {
        ProviderRequest request;
        request.model = "throw";
        std::optional<domain::ProviderReply> reply;
        providers.start(
            provider, request,
            {[](std::string_view) { return true; }, [&](domain::ProviderReply&& r) { reply = std::move(r); }});
        ASSERT_TRUE(reply) << provider;
        EXPECT_EQ(reply->status, OMNICHAT_ERR_INTERNAL) << provider;
    }
}

}  // namespace
}  // namespace omnichat
