#pragma once
#include <map>
#include <string>

// The host's side of omnichat_config_t: one instance's validated options,
// defaults applied, as text.
struct omnichat_config {
    std::map<std::string, std::string> values;
};
