// UTF-8 as RFC 3629 defines it, checked one character at a time: the host
// checks every text it stores, a plugin the text it reads. Header-only, C++17.
#pragma once

#include <cstddef>
#include <string_view>

namespace omnichat {

// The length of the well-formed character that starts at `text[at]`: 1 for
// ASCII, 2 to 4 for a multi-byte sequence, 0 when there is none (a stray or
// missing continuation byte, an overlong form, a UTF-16 surrogate, a value
// past U+10FFFF, or the text ending inside it).
inline size_t utf8CharLength(std::string_view text, size_t at) {
    auto byte = [&](size_t i) { return static_cast<unsigned char>(text[at + i]); };
    const unsigned char lead = byte(0);
    if (lead < 0x80) return 1;
    size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;  // the range of the second byte
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        if (lead == 0xE0) low = 0xA0;   // overlong below U+0800
        if (lead == 0xED) high = 0x9F;  // surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        if (lead == 0xF0) low = 0x90;   // overlong below U+10000
        if (lead == 0xF4) high = 0x8F;  // past U+10FFFF
    } else {
        return 0;
    }
    if (text.size() - at < length || byte(1) < low || byte(1) > high) return 0;
    for (size_t i = 2; i < length; ++i)
        if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
    return length;
}

}  // namespace omnichat
