// Fuzzes the event-stream parser and the chat-completions stream built on
// it. Bytes arrive from the network split anywhere, so the result must not
// depend on where: the stream is fed whole, byte by byte and in chunks of a
// size its length picks, and the three runs must agree.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "openai_compatible.hpp"

namespace {

struct Run {
    std::vector<std::string> events;  // "event|id|data"
    std::vector<std::string> comments;
    std::string text;
    omnichat_status_t status = OMNICHAT_OK;
    std::string finishReason;
    bool midEvent = false;
};

Run run(std::string_view bytes, size_t chunk) {
    Run r;
    openai_compatible::CompletionStream stream;
    bool streaming = true;
    omnichat::SseParser parser(
        [&](const omnichat::SseEvent& e) {
            r.events.push_back(e.event + "|" + e.id + "|" + e.data);
            if (streaming)
                streaming = stream.event(e, [&](std::string_view delta) {
                    r.text += delta;
                    return true;
                });
        },
        [&](std::string_view c) { r.comments.emplace_back(c); });
    for (size_t at = 0; at < bytes.size(); at += chunk) parser.feed(bytes.substr(at, chunk));
    r.midEvent = parser.midEvent();
    auto outcome = stream.finish();
    r.status = outcome.status;
    r.finishReason = outcome.result.finishReason;
    if (outcome.status == OMNICHAT_OK && r.finishReason.empty()) std::abort();
    return r;
}

bool same(const Run& a, const Run& b) {
    return a.events == b.events && a.comments == b.comments && a.text == b.text && a.status == b.status &&
           a.finishReason == b.finishReason && a.midEvent == b.midEvent;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view bytes(reinterpret_cast<const char*>(data), size);
    size_t chunk = size % 13 + 2;
    Run whole = run(bytes, bytes.size() + 1);
    if (!same(whole, run(bytes, 1)) || !same(whole, run(bytes, chunk))) std::abort();
    return 0;
}
