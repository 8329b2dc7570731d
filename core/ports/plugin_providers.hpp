#pragma once
#include <map>
#include <memory>
#include <string>

#include "plugins/plugin_loader.hpp"
#include "ports/provider_port.hpp"

namespace omnichat {

// The ProviderPort over provider plugins: the only code of the host that
// calls their function tables, implements the call callbacks of the host
// table (see host_table.cpp) and keeps each call's state.
class PluginProviders : public ProviderPort {
public:
    explicit PluginProviders(std::map<std::string, std::unique_ptr<PluginInstance>> instances);

    bool has(const std::string& provider) const override { return instances_.count(provider) > 0; }
    std::optional<std::string> option(const std::string& provider, const std::string& name) const override;
    std::shared_ptr<Call> start(const std::string& provider, const ProviderRequest& request, Events events) override;

    // The host table's callbacks for calls (omnichat_host_api_t).
    static bool emitDelta(omnichat_call_t* call, omnichat_str_t text);
    static void complete(omnichat_call_t* call, const omnichat_chat_result_t* result, const omnichat_error_t* error);
    static bool isCancelled(const omnichat_call_t* call);

private:
    std::map<std::string, std::unique_ptr<PluginInstance>> instances_;
};

}  // namespace omnichat
