// JSON text written directly, for documents built on every request (an
// upstream request body carries the whole history each turn), where a JSON
// DOM costs an allocation per value. Header-only, C++17.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace omnichat {
namespace detail {

// Whether any of the eight bytes of `word` is below 0x20, '"' or '\\'. A
// borrow of these subtractions only ever starts at a byte that matches, so
// the answer is exact. Text is checked a word at a time and only a word
// that needs escaping is looked at byte by byte: escaping byte by byte was
// the largest cost in a history read's instructions (docs/PERFORMANCE.md).
inline bool needsEscape(uint64_t word) {
    constexpr uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t quote = word ^ (ones * '"'), backslash = word ^ (ones * '\\');
    uint64_t control = (word - ones * 0x20) & ~word;
    return (control | ((quote - ones) & ~quote) | ((backslash - ones) & ~backslash)) & highs;
}

}  // namespace detail

// Appends `text` escaped as inside a JSON string, without the quotes, as
// nlohmann::json escapes (so output matches it byte for byte). Bytes from
// 0x80 up are copied as they are: `text` must be valid UTF-8, but may be cut
// anywhere (a long string can be written a piece at a time).
inline void appendJsonStringContents(std::string& out, std::string_view text) {
    size_t clean = 0;  // start of the bytes not yet copied
    for (size_t i = 0; i < text.size();) {
        if (text.size() - i >= 8) {
            uint64_t word;
            std::memcpy(&word, text.data() + i, sizeof word);
            if (!detail::needsEscape(word)) {
                i += 8;
                continue;
            }
        }
        for (size_t end = std::min(text.size(), i + 8); i < end; ++i) {
            auto c = static_cast<unsigned char>(text[i]);
            if (c >= 0x20 && c != '"' && c != '\\') continue;
            out.append(text, clean, i - clean);
            clean = i + 1;
            switch (c) {
                case '"': out += "\\\""; break;
                case '\\': out += "\\\\"; break;
                case '\b': out += "\\b"; break;
                case '\f': out += "\\f"; break;
                case '\n': out += "\\n"; break;
                case '\r': out += "\\r"; break;
                case '\t': out += "\\t"; break;
                default: {
                    const char* hex = "0123456789abcdef";
                    const char escaped[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
                    out.append(escaped, sizeof escaped);
                }
            }
        }
    }
    out.append(text, clean, text.size() - clean);
}

// Appends `text` as a quoted JSON string (see appendJsonStringContents).
inline void appendJsonString(std::string& out, std::string_view text) {
    out += '"';
    appendJsonStringContents(out, text);
    out += '"';
}

// Appends `value` as a JSON number, in the shortest form that reads back
// as the same double; JSON has no infinity or NaN, so those are written as
// null.
inline void appendJsonNumber(std::string& out, double value) {
    if (!std::isfinite(value)) {
        out += "null";
        return;
    }
    char buffer[32];
    auto written = std::to_chars(buffer, buffer + sizeof buffer, value);
    out.append(buffer, written.ptr);
}

}  // namespace omnichat
