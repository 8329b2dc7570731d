#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/records.hpp"

namespace omnichat {

// One message of a request, borrowed from where it is kept (a held
// history): a request of a long conversation copies no text.
struct PromptMessage {
    omnichat_role_t role;
    std::string_view content;
};

// What core asks a provider for; read before ProviderPort::start returns.
struct ProviderRequest {
    std::string_view model;
    std::vector<PromptMessage> messages;  // oldest first, a system prompt first
    int64_t deadlineUnixMs = 0;           // 0: none
    bool stream = false;                  // the client reads deltas as they come
    int64_t connectTimeoutMs = 0;         // 0: the plugin's own
    domain::Sampling sampling;
};

// What the chat domain asks of providers. Implemented over provider plugins
// by PluginProviders, and by fakes in tests.
class ProviderPort {
public:
    virtual ~ProviderPort() = default;

    // One call's reports, from any thread, never two at once. `delta` gets
    // whole UTF-8 characters; returning false stops the call. `done` runs
    // exactly once, last.
    struct Events {
        std::function<bool(std::string_view)> delta;
        std::function<void(domain::ProviderReply&&)> done;
    };
    // A call under way: cancel() asks the provider to abandon it; `done`
    // still follows (usually CANCELLED). Safe from any thread, at any time.
    class Call {
    public:
        virtual ~Call() = default;
        virtual void cancel() = 0;
    };

    // Whether `provider` names an instance that started.
    virtual bool has(const std::string& provider) const = 0;
    // Configured instances that are optional and did not start.
    virtual std::vector<std::string> missing() const { return {}; }
    // An instance's option as validated (its declared default when unset).
    virtual std::optional<std::string> option(const std::string& provider, const std::string& name) const = 0;
    // Starts a call of instance `provider` and returns at once; `done` may
    // run before it returns.
    virtual std::shared_ptr<Call> start(const std::string& provider, const ProviderRequest& request, Events events) = 0;
};

}  // namespace omnichat
