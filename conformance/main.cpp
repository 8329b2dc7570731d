// omnichat-conformance: drives a provider or storage plugin through the real
// host and reports, scenario by scenario, what it does not do as the host
// expects (GoogleTest's output; any --gtest_* flag works).
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "kit.hpp"

namespace omnichat::conformance {
namespace {

KitSettings g_settings;

constexpr const char* kUsage =
    "usage: omnichat-conformance provider --plugin NAME|FILE --protocol openai|anthropic|FILE|none\n"
    "                                     [--option KEY=VALUE]... [--plugin-path DIR]... [--calls N]\n"
    "       omnichat-conformance storage --plugin NAME|FILE [--option KEY=VALUE]... [--plugin-path DIR]...\n"
    "  --protocol: how the kit's upstream answers (protocols/*.yaml, installed in\n"
    "              share/omnichat/conformance); none: the plugin calls no upstream\n"
    "  --option:   the plugin's options (over the protocol file's)\n"
    "  GoogleTest's flags (--gtest_filter=..., --gtest_repeat=...) work as usual.\n";

std::filesystem::path installRoot() {
    return std::filesystem::read_symlink("/proc/self/exe").parent_path().parent_path();
}

std::string protocolFile(const std::string& name) {
    if (name.find('/') != std::string::npos || name.find(".yaml") != std::string::npos) return name;
    return (installRoot() / "share" / "omnichat" / "conformance" / (name + ".yaml")).string();
}

}  // namespace

const KitSettings& settings() { return g_settings; }

}  // namespace omnichat::conformance

int main(int argc, char** argv) {
    using namespace omnichat::conformance;
    ::testing::InitGoogleTest(&argc, argv);  // takes the --gtest_* flags out
    if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
        std::cout << kUsage;
        return argc < 2 ? 2 : 0;
    }
    const std::string mode = argv[1];
    std::string protocol;
    std::vector<std::string> extraPath;
    try {
        for (int i = 2; i < argc; ++i) {
            const std::string flag = argv[i];
            if (i + 1 >= argc) throw std::invalid_argument("missing value for " + flag);
            const std::string value = argv[++i];
            if (flag == "--plugin") {
                g_settings.plugin = value;
            } else if (flag == "--protocol") {
                protocol = value;
            } else if (flag == "--plugin-path") {
                extraPath.push_back(value);
            } else if (flag == "--calls") {
                g_settings.calls = std::stoul(value);
            } else if (flag == "--option") {
                auto eq = value.find('=');
                if (eq == std::string::npos) throw std::invalid_argument("--option needs KEY=VALUE");
                g_settings.options[value.substr(0, eq)] = value.substr(eq + 1);
            } else {
                throw std::invalid_argument("unknown option " + flag);
            }
        }
        if (mode != "provider" && mode != "storage") throw std::invalid_argument("unknown mode '" + mode + "'");
        if (g_settings.plugin.empty()) throw std::invalid_argument("--plugin is required");
        if (mode == "provider" && protocol.empty()) throw std::invalid_argument("--protocol is required");
        if (mode == "provider" && protocol != "none") g_settings.protocol = loadProtocol(protocolFile(protocol));
    } catch (const std::exception& e) {
        std::cerr << "omnichat-conformance: " << e.what() << "\n" << kUsage;
        return 2;
    }
    // The server's search path: OMNICHAT_PLUGIN_PATH, then the kit's own
    // --plugin-path, then the plugins installed beside the kit.
    if (const char* path = std::getenv("OMNICHAT_PLUGIN_PATH")) {
        std::istringstream in(path);
        for (std::string directory; std::getline(in, directory, ':');)
            if (!directory.empty()) g_settings.searchPath.push_back(directory);
    }
    g_settings.searchPath.insert(g_settings.searchPath.end(), extraPath.begin(), extraPath.end());
    g_settings.searchPath.push_back((installRoot() / "plugins").string());

    if (::testing::GTEST_FLAG(filter) == "*")
        ::testing::GTEST_FLAG(filter) =
            mode == "storage" ? "Storage.*" : (g_settings.protocol ? "AnyProvider.*:Upstream.*" : "AnyProvider.*");
    spdlog::set_level(spdlog::level::warn);
    return RUN_ALL_TESTS();
}
