// Writing a provider: derive from omnichat::Provider and answer each call
// through an omnichat::Call; callUpstream carries a call to an HTTP upstream
// with cancellation handled (omnichat/upstream_call.hpp).
#pragma once

#include <omnichat/call.hpp>
#include <omnichat/upstream_call.hpp>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

namespace omnichat {

// The calls a provider is running, each with how to abandon it, for
// cancelChat. A call's handle may be reused by the host for the next call
// once the call completed, so each entry names its owner, and only the
// owner removes it. Thread-safe.
class RunningCalls {
public:
    void add(omnichat_call_t* raw, const void* owner, std::function<void()> cancel) {
        std::lock_guard lock(mutex_);
        cancels_[raw] = {owner, std::move(cancel)};
    }
    void remove(omnichat_call_t* raw, const void* owner) {
        std::lock_guard lock(mutex_);
        if (auto it = cancels_.find(raw); it != cancels_.end() && it->second.first == owner) cancels_.erase(it);
    }
    // Outside the lock: cancelling may complete the call, which removes it.
    void cancel(omnichat_call_t* raw) {
        std::function<void()> cancel;
        {
            std::lock_guard lock(mutex_);
            if (auto it = cancels_.find(raw); it != cancels_.end()) cancel = it->second.second;
        }
        if (cancel) cancel();
    }

private:
    std::mutex mutex_;
    std::map<omnichat_call_t*, std::pair<const void*, std::function<void()>>> cancels_;
};

class Provider {
public:
    explicit Provider(const Host& host) : host_(host) {}
    virtual ~Provider() = default;
    // Starts a call: must return promptly; complete `call` now or later from
    // any thread. Override one of the two. The host calls startChatInPlace,
    // which by default copies the request for startChat; a provider that
    // builds its upstream request at once overrides it instead and reads the
    // history without that copy.
    virtual void startChat(ChatRequest request, std::shared_ptr<Call> call) {
        (void)request;
        call->fail(OMNICHAT_ERR_INTERNAL, "the provider overrides neither startChat nor startChatInPlace");
    }
    virtual void startChatInPlace(const ChatRequestView& request, std::shared_ptr<Call> call) {
        startChat(request.copy(), std::move(call));
    }
    // The host asks to abandon the call `raw` (Call::raw()); it must still
    // be completed. Must not block. By default the call's upstream exchange
    // (callUpstream) is cancelled; a provider that runs calls otherwise
    // overrides it.
    virtual void cancelChat(omnichat_call_t* raw) { running_->cancel(raw); }

    const Host& host() const { return host_; }

protected:
    // Sends `request` to the upstream for `call` and reads the answer with
    // `reader` (see UpstreamCall): cancelChat reaches it until it ends.
    void callUpstream(std::shared_ptr<Call> call, const HttpRequest& request, UpstreamReader reader) {
        omnichat_call_t* raw = call->raw();
        auto upstream = std::make_shared<UpstreamCall>(host_, std::move(call), std::move(reader));
        std::weak_ptr<UpstreamCall> weak = upstream;
        const void* owner = upstream.get();
        running_->add(raw, owner, [weak] {
            if (auto u = weak.lock()) u->cancel();
        });
        // The registry, not the provider: an exchange whose call completed
        // may still be reading its answer when the host destroys the
        // provider.
        upstream->start(request, [running = running_, raw, owner] { running->remove(raw, owner); });
    }

private:
    Host host_;
    std::shared_ptr<RunningCalls> running_ = std::make_shared<RunningCalls>();
};

}  // namespace omnichat
