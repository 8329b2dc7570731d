#include "chat/model_policy.hpp"

#include <algorithm>

#include "ports/provider_port.hpp"

namespace omnichat {

ModelPolicy::ModelPolicy(const Config& config, const ProviderPort& providers)
    : config_(config), providers_(providers) {}

std::string ModelPolicy::configuredModel(const std::string& provider) const {
    if (provider == config_.defaultProvider && !config_.defaultModel.empty()) return config_.defaultModel;
    return providers_.option(provider, "model").value_or("");
}

std::optional<std::string> ModelPolicy::check(const std::string& provider, const std::string& model) const {
    const auto& name = provider.empty() ? config_.defaultProvider : provider;
    if (!providers_.has(name)) return "unknown provider '" + name + "'";
    if (model.empty()) return std::nullopt;
    const auto& listed = config_.providers.at(name).models;
    bool allowed = listed.empty() ? model == configuredModel(name)
                                  : std::find(listed.begin(), listed.end(), model) != listed.end();
    if (!allowed) return "model '" + model + "' is not allowed for provider '" + name + "'";
    return std::nullopt;
}

std::variant<std::vector<domain::Route>, std::string> ModelPolicy::routes(const std::string& provider,
                                                                          const std::string& model) const {
    if (auto problem = check(provider, model)) return *problem;
    std::vector<domain::Route> out;
    const auto& first = provider.empty() ? config_.defaultProvider : provider;
    out.push_back({first, model.empty() ? configuredModel(first) : model});
    for (const auto& fallback : config_.fallbacks)
        out.push_back(
            {fallback.provider, fallback.model.empty() ? configuredModel(fallback.provider) : fallback.model});
    return out;
}

std::optional<domain::Route> ModelPolicy::resolve(const std::string& name) const {
    if (name.empty()) return std::nullopt;
    if (auto alias = config_.aliases.find(name); alias != config_.aliases.end()) {
        if (config_.aliases.count(alias->second)) return std::nullopt;  // aliases do not chain
        return resolve(alias->second);
    }
    if (auto slash = name.find('/'); slash != std::string::npos) {
        domain::Route route{name.substr(0, slash), name.substr(slash + 1)};
        if (providers_.has(route.provider) && !route.model.empty() && !check(route.provider, route.model)) return route;
    }
    if (!check(config_.defaultProvider, name)) return domain::Route{config_.defaultProvider, name};
    return std::nullopt;
}

std::vector<std::pair<std::string, domain::Route>> ModelPolicy::aliases() const {
    std::vector<std::pair<std::string, domain::Route>> out;
    for (const auto& [name, target] : config_.aliases)
        if (auto route = resolve(name)) out.emplace_back(name, *route);
    return out;
}

std::vector<domain::Route> ModelPolicy::allowed() const {
    std::vector<domain::Route> out;
    for (const auto& [name, instance] : config_.providers) {
        if (!providers_.has(name)) continue;
        if (instance.models.empty()) {
            if (auto model = configuredModel(name); !model.empty()) out.push_back({name, model});
        } else {
            for (const auto& model : instance.models) out.push_back({name, model});
        }
    }
    return out;
}

}  // namespace omnichat
