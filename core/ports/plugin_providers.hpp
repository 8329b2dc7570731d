#pragma once
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "plugins/plugin_loader.hpp"
#include "ports/provider_port.hpp"

namespace omnichat {

// The ProviderPort over provider plugins: the only code of the host that
// calls their function tables, implements the call callbacks of the host
// table (see host_table.cpp) and keeps each call's state.
class PluginProviders : public ProviderPort {
public:
    explicit PluginProviders(std::map<std::string, std::unique_ptr<PluginInstance>> instances,
                             std::vector<std::string> missing = {});
    // An instance with calls it never completed is left loaded rather than
    // destroyed under them (a warning says so).
    ~PluginProviders() override;
    PluginProviders(const PluginProviders&) = delete;
    PluginProviders& operator=(const PluginProviders&) = delete;

    bool has(const std::string& provider) const override { return instances_.count(provider) > 0; }
    std::vector<std::string> missing() const override { return missing_; }
    std::optional<std::string> option(const std::string& provider, const std::string& name) const override;
    std::shared_ptr<Call> start(const std::string& provider, const ProviderRequest& request, Events events) override;

    // The host table's callbacks for calls (omnichat_host_api_t).
    static bool emitDelta(omnichat_call_t* call, omnichat_str_t text);
    static void complete(omnichat_call_t* call, const omnichat_chat_result_t* result, const omnichat_error_t* error);
    static bool isCancelled(const omnichat_call_t* call);

private:
    struct Instance {
        std::unique_ptr<PluginInstance> plugin;
        // Calls started and not completed, shared with each call's state.
        std::shared_ptr<std::atomic<int64_t>> open = std::make_shared<std::atomic<int64_t>>(0);
    };
    std::map<std::string, Instance> instances_;
    std::vector<std::string> missing_;
};

}  // namespace omnichat
