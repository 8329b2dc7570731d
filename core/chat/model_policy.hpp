#pragma once
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "config/config.hpp"
#include "domain/records.hpp"

namespace omnichat {

class ProviderPort;

// Which provider instances and models a send may use: the operator's choice,
// never a client's. A client may name a provider instance that started and,
// for it, a model of the instance's `models` list, or, without a list, the
// instance's configured model (chat.default_model for the default
// instance, else its `model` option). So no client-chosen name is billed to
// the operator's key or becomes a metrics label.
class ModelPolicy {
public:
    ModelPolicy(const Config& config, const ProviderPort& providers);

    // Why a conversation may not choose these, or nullopt.
    std::optional<std::string> check(const std::string& provider, const std::string& model) const;
    // The instance's model when none is named: never empty unless the
    // instance declares none.
    std::string configuredModel(const std::string& provider) const;
    // The routes a send of `conversation` tries, in order (its own choice or
    // the default, then the fallbacks), each with its model resolved; or
    // why its stored choice is no longer allowed.
    std::variant<std::vector<domain::Route>, std::string> routes(const std::string& provider,
                                                                 const std::string& model) const;
    // A model named as the OpenAI-compatible API names one: `instance/model`,
    // or a bare model of the default instance (a model whose own name has
    // a slash, like OpenRouter's `openai/gpt-4o-mini`, is a bare one unless
    // its first part names an instance), or an alias of chat.aliases.
    // nullopt: not an allowed model.
    std::optional<domain::Route> resolve(const std::string& name) const;
    // Every allowed model, by instance: what resolve() accepts besides the
    // aliases.
    std::vector<domain::Route> allowed() const;
    // The aliases whose target is an allowed model, with their route.
    std::vector<std::pair<std::string, domain::Route>> aliases() const;

private:
    const Config& config_;
    const ProviderPort& providers_;
};

}  // namespace omnichat
