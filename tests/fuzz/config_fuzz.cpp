// Fuzzes the YAML configuration. Whatever the file says, loading it either
// gives a configuration or a ConfigError for the operator; any other
// exception escaping would stop the server with no useful message.
#include <cstdint>
#include <string>

#include "config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string yaml(reinterpret_cast<const char*>(data), size);
    try {
        (void)omnichat::loadConfigText(yaml, "fuzz.yaml", {});
    } catch (const omnichat::ConfigError&) {
    }
    return 0;
}
