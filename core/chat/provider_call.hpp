#pragma once
#include <omnichat/omnichat_plugin.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

struct omnichat_call;

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

// Core's handle on one provider call. It outlives the omnichat_call the
// plugin sees, so core can still ask "has it completed?" and cancel safely.
struct CallControl {
    // Recursive: a plugin may complete the call from inside cancel_chat.
    std::recursive_mutex mutex;
    bool completed = false;
    std::atomic<bool> cancelled{false};
    omnichat_call* call = nullptr;  // valid while !completed
    void (*cancelHook)(void*, omnichat_call*) = nullptr;
    void* instance = nullptr;
    // Each delta as it arrives (plugin's thread); false: stop the call.
    std::function<bool(std::string_view)> onDelta;
    std::function<void(ProviderOutcome&&)> done;

    // Marks the call cancelled and asks the plugin to abandon it; the
    // outcome still arrives through `done`.
    void cancel() {
        cancelled = true;
        std::lock_guard lock(mutex);
        if (!completed && cancelHook) cancelHook(instance, call);
    }
};

}  // namespace omnichat

// The host's side of omnichat_call_t: lives from start_chat until the
// plugin's call_complete.
struct omnichat_call {
    std::string text;
    std::shared_ptr<omnichat::CallControl> control;
    size_t forwarded = 0;  // bytes of `text` passed on as deltas
    bool garbled = false;  // `text` is not UTF-8: no more deltas
};
