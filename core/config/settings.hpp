#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace omnichat {

struct Config;

// One key of the host's configuration, written once: its type, default,
// range, environment variable and meaning. The loader reads YAML and the
// environment by this table, `omnichat check-config` prints it with each
// value's origin, and the README's configuration table is rendered from it
// (`omnichat settings`; a test compares them). Plugins declare their options
// the same way (omnichat_option_t).
struct Setting {
    enum class Kind {
        Integer,  // within [min, max]
        Text,
        Secret,   // text never printed
        Address,  // host:port
        Choice,   // one of `choices`
    };
    std::string key;  // "server.max_body_bytes"
    Kind kind;
    std::string defaultValue;  // as YAML would write it; empty: none
    bool required = false;     // no default: the operator must give one
    int64_t min = 0, max = 0;  // Integer
    std::vector<std::string> choices;
    std::string env;  // the environment variable that overrides it, if any
    std::string description;
    // Stores a checked value into the configuration.
    std::function<void(Config&, const std::string&)> store;
};

// Every setting of the host, in the order the README lists them.
const std::vector<Setting>& settings();

// The table in Markdown, as the README shows it.
std::string settingsMarkdown();

// Parses and checks `text` for `setting`; returns what is wrong with it
// (worded after "'key' must be ..."), or an empty string.
std::string checkSetting(const Setting& setting, const std::string& text);

}  // namespace omnichat
