// What the command line chose for the kit's suites (see main.cpp).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "protocol.hpp"

namespace omnichat::conformance {

struct KitSettings {
    std::string plugin;                          // a name on the search path, or a file
    std::vector<std::string> searchPath;         // --plugin-path, OMNICHAT_PLUGIN_PATH, the built-in directory
    std::optional<Protocol> protocol;            // none: a provider that calls no upstream
    std::map<std::string, std::string> options;  // --option, over the protocol's
    size_t calls = 1000;                         // --calls: the leak scenario's calls
};

const KitSettings& settings();

}  // namespace omnichat::conformance
