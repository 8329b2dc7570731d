#pragma once
#include <omnichat/omnichat_plugin.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace omnichat {

// What a provider call ended with, copied out of the plugin's structs.
struct ProviderOutcome {
    omnichat_status_t status = OMNICHAT_ERR_INTERNAL;
    std::string text;  // the collected deltas
    std::string finishReason;
    std::string model;
    int64_t promptTokens = -1, completionTokens = -1, cachedTokens = -1, reasoningTokens = -1;
    std::optional<double> cost;
    int32_t httpStatus = 0;
    int64_t retryAfterMs = -1;
    std::string message;  // for logs only
};

}  // namespace omnichat

// The host's side of omnichat_call_t: lives from start_chat until the
// plugin's call_complete, which hands the outcome to `done` and frees it.
struct omnichat_call {
    std::string text;
    std::atomic<bool> cancelled{false};
    std::function<void(omnichat::ProviderOutcome&&)> done;
};
