#pragma once
#include <functional>
#include <string_view>

namespace omnichat {

// Where a streaming send delivers its reply as it is produced (the API's
// SSE response). Calls come from several threads, never concurrently.
class StreamSink {
public:
    virtual ~StreamSink() = default;
    // The provider call is about to start: the request was admitted and the
    // conversation found. `abort` cancels the whole send (client gone).
    virtual void started(std::function<void()> abort) = 0;
    // One piece of reply text; false when the client is gone.
    virtual bool delta(std::string_view text) = 0;
};

}  // namespace omnichat
