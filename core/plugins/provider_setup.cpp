#include "plugins/provider_setup.hpp"

#include <algorithm>

namespace omnichat {
namespace {

std::shared_ptr<PluginLibrary> libraryOf(PluginLibraries& plugins, const std::string& name) {
    try {
        return plugins.get(name);
    } catch (const PluginError&) {
        return nullptr;  // not installed: the instance cannot be a candidate
    }
}

const std::string* variable(const Environment& env, const std::string& name) {
    auto it = env.find(name);
    return it == env.end() || it->second.empty() ? nullptr : &it->second;
}

}  // namespace

void resolveProviders(Config& config, PluginLibraries& plugins, const Environment& env) {
    for (const auto& candidate : config.defaultProviderCandidates) {
        if (config.providers.count(candidate)) continue;
        auto library = libraryOf(plugins, candidate);
        if (!library) continue;
        for (const auto& o : library->options())
            if (!o.environment.empty() && variable(env, o.environment)) {
                config.providers[candidate] = {candidate, {}, "environment " + o.environment};
                break;
            }
    }
    for (auto& [name, instance] : config.providers) {
        if (instance.plugin != name) continue;
        auto library = libraryOf(plugins, instance.plugin);
        if (!library) continue;
        for (const auto& o : library->options())
            if (!o.environment.empty())
                if (const auto* value = variable(env, o.environment))
                    instance.options[o.name] = {*value, "environment " + o.environment};
    }
    if (!config.defaultProvider.empty()) return;
    for (const auto& candidate : config.defaultProviderCandidates) {
        auto it = config.providers.find(candidate);
        if (it == config.providers.end()) continue;
        auto library = libraryOf(plugins, it->second.plugin);
        if (!library) continue;
        const auto& options = it->second.options;
        bool ready = std::all_of(library->options().begin(), library->options().end(), [&](const OptionSpec& o) {
            return !o.required || o.defaultValue || options.count(o.name);
        });
        if (ready) {
            config.defaultProvider = candidate;
            config.written["chat.default_provider"] = {candidate, "the first candidate with its required options"};
            return;
        }
    }
    throw ConfigError(config.source + ": no default provider: set chat.default_provider (or LLM_PROVIDER)");
}

}  // namespace omnichat
