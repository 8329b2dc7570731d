#include "ports/plugin_providers.hpp"

#include <omnichat/basics.hpp>

#include <spdlog/spdlog.h>

#include <atomic>
#include <cstring>
#include <mutex>

#include "common/ids.hpp"

namespace omnichat {
namespace {

// The host's handle on one call. It outlives the omnichat_call the plugin
// sees, so core can still ask "has it completed?" and cancel safely.
class CallControl : public ProviderPort::Call {
public:
    // Recursive: a plugin may complete the call from inside cancel_chat.
    std::recursive_mutex mutex;
    bool completed = false;
    std::atomic<bool> cancelled{false};
    omnichat_call* call = nullptr;  // valid while !completed
    void (*cancelHook)(void*, omnichat_call*) = nullptr;
    void* instance = nullptr;
    ProviderPort::Events events;
    std::shared_ptr<std::atomic<int64_t>> open;  // the instance's open calls

    void cancel() override {
        cancelled = true;
        std::lock_guard lock(mutex);
        if (!completed && cancelHook) cancelHook(instance, call);
    }
};

}  // namespace
}  // namespace omnichat

// The host's side of omnichat_call_t: lives from start_chat until the
// plugin's call_complete.
struct omnichat_call {
    std::string text;
    std::shared_ptr<omnichat::CallControl> control;
    size_t forwarded = 0;  // bytes of `text` passed on as deltas
    bool garbled = false;  // `text` is not UTF-8: no more deltas
};

namespace omnichat {

PluginProviders::PluginProviders(std::map<std::string, std::unique_ptr<PluginInstance>> instances,
                                 std::vector<std::string> missing)
    : missing_(std::move(missing)) {
    for (auto& [name, instance] : instances) instances_[name].plugin = std::move(instance);
}

PluginProviders::~PluginProviders() {
    // Kept reachable, so leak checkers see a choice, not a leak.
    static auto* abandoned = new std::vector<std::unique_ptr<PluginInstance>>();
    for (auto& [name, instance] : instances_)
        if (int64_t open = instance.open->load(); open > 0) {
            spdlog::warn("provider instance '{}' never completed {} call(s): left loaded, not destroyed", name, open);
            abandoned->push_back(std::move(instance.plugin));
        }
}

std::optional<std::string> PluginProviders::option(const std::string& provider, const std::string& name) const {
    auto it = instances_.find(provider);
    if (it == instances_.end()) return std::nullopt;
    return it->second.plugin->option(name);
}

std::shared_ptr<ProviderPort::Call> PluginProviders::start(const std::string& provider, const ProviderRequest& request,
                                                           Events events) {
    const auto& entry = instances_.at(provider);
    const auto& instance = *entry.plugin;
    auto control = std::make_shared<CallControl>();
    control->open = entry.open;
    control->cancelHook = instance.library().provider().cancel_chat;
    control->instance = instance.handle();
    control->events = std::move(events);

    std::vector<omnichat_message_t> messages;
    messages.reserve(request.messages.size());
    for (const auto& m : request.messages)
        messages.push_back({sizeof(omnichat_message_t), m.role, omnichat::toC(m.content)});
    std::vector<const omnichat_message_t*> pointers;
    pointers.reserve(messages.size());
    for (const auto& m : messages) pointers.push_back(&m);

    omnichat_chat_request_t raw{};
    raw.struct_size = sizeof raw;
    raw.model = omnichat::toC(request.model);
    raw.messages = pointers.data();
    raw.message_count = pointers.size();
    raw.deadline_unix_ms = request.deadlineUnixMs;
    raw.stream = request.stream;
    raw.connect_timeout_ms = request.connectTimeoutMs;
    raw.has_temperature = request.sampling.temperature.has_value();
    raw.temperature = request.sampling.temperature.value_or(0);
    raw.has_max_tokens = request.sampling.maxTokens.has_value();
    raw.max_tokens = request.sampling.maxTokens.value_or(0);
    raw.has_top_p = request.sampling.topP.has_value();
    raw.top_p = request.sampling.topP.value_or(0);
    std::vector<omnichat_str_t> stop;
    for (const auto& s : request.sampling.stop) stop.push_back(omnichat::toC(s));
    raw.stop = stop.data();
    raw.stop_count = stop.size();
    raw.has_seed = request.sampling.seed.has_value();
    raw.seed = request.sampling.seed.value_or(0);
    raw.response_format = omnichat::toC(request.sampling.responseFormat);
    raw.end_user = omnichat::toC(request.sampling.endUser);

    auto* call = new omnichat_call{{}, control};
    control->call = call;
    control->open->fetch_add(1);
    try {
        instance.library().provider().start_chat(instance.handle(), &raw, call);
    } catch (...) {
        // The C ABI forbids it, but a C++ plugin's exception can come
        // through: the call fails as the provider's (502 provider_error),
        // unless the plugin completed it before it threw.
        bool open = false;
        {
            std::lock_guard lock(control->mutex);
            open = !control->completed;
        }
        if (open) {
            omnichat_error_t error = makeError(OMNICHAT_ERR_INTERNAL, "the plugin threw an exception from start_chat");
            complete(call, nullptr, &error);
        }
    }
    return control;
}

// A plugin may end a piece inside a character, or emit bytes that are no
// UTF-8 at all: deltas carry whole characters only, and none after bytes
// that are not UTF-8 (that reply then fails its check before it is stored,
// and the client gets the error).
bool PluginProviders::emitDelta(omnichat_call_t* call, omnichat_str_t text) {
    auto& control = *call->control;
    if (control.cancelled.load(std::memory_order_relaxed)) return false;
    call->text.append(text.data ? text.data : "", text.len);
    if (!control.events.delta || call->garbled) return true;
    const size_t whole = utf8WholePrefix(call->text);
    std::string_view piece(call->text.data() + call->forwarded, whole - call->forwarded);
    if (piece.empty()) return true;
    if (!isStorableText(piece)) {
        call->garbled = true;
        return true;
    }
    call->forwarded = whole;
    if (!control.events.delta(piece)) {
        control.cancelled = true;
        return false;
    }
    return true;
}

void PluginProviders::complete(omnichat_call_t* call, const omnichat_chat_result_t* result,
                               const omnichat_error_t* error) {
    std::unique_ptr<omnichat_call> owned(call);
    auto control = owned->control;
    {
        std::lock_guard lock(control->mutex);
        control->completed = true;
    }
    control->open->fetch_sub(1);
    domain::ProviderReply reply;
    if (error && error->struct_size >= sizeof(omnichat_error_t) && error->status != OMNICHAT_OK) {
        reply.status = error->status;
        reply.httpStatus = error->http_status;
        reply.retryAfterMs = error->retry_after_ms;
        reply.message.assign(error->message, strnlen(error->message, sizeof(error->message)));
    } else if (!result) {
        reply.status = OMNICHAT_ERR_INTERNAL;
        reply.message = "provider completed without a result or an error";
    } else {
        // Copy what the plugin's (possibly older, smaller) struct holds.
        omnichat_chat_result_t r{};
        std::memcpy(&r, result, std::min<size_t>(result->struct_size, sizeof r));
        reply.status = OMNICHAT_OK;
        reply.text = std::move(owned->text);
        reply.finishReason = std::string(view(r.finish_reason));
        reply.model = std::string(view(r.model));
        if (r.usage.struct_size >= sizeof(omnichat_usage_t)) {
            reply.usage.promptTokens = r.usage.prompt_tokens;
            reply.usage.completionTokens = r.usage.completion_tokens;
            reply.usage.cachedTokens = r.usage.cached_tokens;
            reply.usage.reasoningTokens = r.usage.reasoning_tokens;
            if (r.usage.has_cost) reply.usage.cost = r.usage.cost;
        }
    }
    owned.reset();
    // Moved out: `done` usually holds its owner, which holds the control.
    auto done = std::move(control->events.done);
    control->events = {};
    done(std::move(reply));
}

bool PluginProviders::isCancelled(const omnichat_call_t* call) {
    return call->control->cancelled.load(std::memory_order_relaxed);
}

}  // namespace omnichat
