// One chat-completions stream chunk read straight from its text with the
// SDK's JsonCursor. A reply arrives as several chunks, and a JSON DOM of each
// (nlohmann's) was 14% of a send's instructions; the cursor allocates nothing
// once the strings it fills have grown. Where a key repeats, the last one
// counts, as in a DOM. fuzz_chunk holds it to nlohmann's reading of the same
// text.
#pragma once

#include <omnichat/json_reader.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace openai_compatible {

using omnichat::JsonCursor;

// What the stream needs of one chunk. Each member holds what a DOM lookup of
// its path gives, and is reset by each read.
struct CompletionChunk {
    bool error = false;     // "error" is present and not null
    int32_t errorCode = 0;  // error.code, when an integer
    std::string model;      // "model", when a string
    bool usage = false;     // "usage" is an object; then the next five
    int64_t promptTokens = -1;
    int64_t completionTokens = -1;
    std::optional<int64_t> cachedTokens;     // when prompt_tokens_details is an object
    std::optional<int64_t> reasoningTokens;  // when completion_tokens_details is an object
    std::optional<double> cost;              // when a number
    std::string content;                     // choices[0].delta.content, when a string
    std::string finishReason;                // choices[0].finish_reason, when a string
};

namespace detail {

// An object of optional counts: `out` is -1 unless `key` holds an integer;
// anything but an object leaves `out` empty.
inline bool detailCount(JsonCursor& in, std::string_view key, std::optional<int64_t>& out) {
    out.reset();
    if (in.peek() != '{') return in.skip();
    out = -1;
    return in.members([&](std::string_view k) { return k == key ? in.integerOr(*out, -1) : in.skip(); });
}

inline bool readUsage(JsonCursor& in, CompletionChunk& c) {
    c.promptTokens = c.completionTokens = -1;
    c.cachedTokens.reset();
    c.reasoningTokens.reset();
    c.cost.reset();
    c.usage = in.peek() == '{';
    if (!c.usage) return in.skip();
    return in.members([&](std::string_view key) {
        if (key == "prompt_tokens") return in.integerOr(c.promptTokens, -1);
        if (key == "completion_tokens") return in.integerOr(c.completionTokens, -1);
        if (key == "prompt_tokens_details") return detailCount(in, "cached_tokens", c.cachedTokens);
        if (key == "completion_tokens_details") return detailCount(in, "reasoning_tokens", c.reasoningTokens);
        if (key == "cost") return in.numberOrNone(c.cost);
        return in.skip();
    });
}

inline bool readChoices(JsonCursor& in, CompletionChunk& c) {
    c.content.clear();
    c.finishReason.clear();
    if (in.peek() != '[') return in.skip();
    return in.firstElement([&] {
        if (in.peek() != '{') return in.skip();
        return in.members([&](std::string_view key) {
            if (key == "finish_reason") return in.stringOrClear(c.finishReason);
            if (key != "delta") return in.skip();
            c.content.clear();
            if (in.peek() != '{') return in.skip();
            return in.members(
                [&](std::string_view k) { return k == "content" ? in.stringOrClear(c.content) : in.skip(); });
        });
    });
}

inline bool readError(JsonCursor& in, CompletionChunk& c) {
    c.errorCode = 0;
    c.error = !in.null();
    if (!c.error) return true;
    if (in.peek() != '{') return in.skip();
    return in.members([&](std::string_view key) {
        if (key != "code") return in.skip();
        int64_t code = 0;
        bool read = in.integerOr(code, 0);
        c.errorCode = static_cast<int32_t>(code);
        return read;
    });
}

}  // namespace detail

// False unless `text` is a JSON object.
inline bool readCompletionChunk(std::string_view text, CompletionChunk& c) {
    c.error = c.usage = false;
    c.errorCode = 0;
    c.model.clear();
    c.content.clear();
    c.finishReason.clear();
    JsonCursor in(text);
    bool read = in.members([&](std::string_view key) {
        if (key == "error") return detail::readError(in, c);
        if (key == "model") return in.stringOrClear(c.model);
        if (key == "usage") return detail::readUsage(in, c);
        if (key == "choices") return detail::readChoices(in, c);
        return in.skip();
    });
    return read && in.atEnd();
}

}  // namespace openai_compatible
