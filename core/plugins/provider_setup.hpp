#pragma once
#include "config/config.hpp"
#include "plugins/plugin_loader.hpp"

namespace omnichat {

// Completes the provider instances of `config` with what only their plugins
// know, so core names no plugin:
//  - an option's environment variable (a plugin declares it: OPENAI_API_KEY
//    for the openai plugin's api_key) sets that option, over YAML, for the
//    instance named after the plugin;
//  - a default candidate (config.defaultProviderCandidates) missing from the
//    configuration is added when one of its plugin's variables is set;
//  - without chat.default_provider, the default is the first candidate whose
//    plugin's required options are all set.
// Throws ConfigError when no instance can be the default.
void resolveProviders(Config& config, PluginLibraries& plugins, const Environment& env);

}  // namespace omnichat
