// One chat-completions stream chunk read straight from its text. A reply
// arrives as several chunks, and a JSON DOM of each (nlohmann's) was 14% of a
// send's instructions; this reader allocates nothing once the strings it
// fills have grown. It accepts exactly the text nlohmann accepts (RFC 8259,
// UTF-8 checked, a leading BOM skipped, a NUL byte ending the text, a number
// beyond a double refused), and where a key repeats, the last one counts, as
// in a DOM. fuzz_chunk holds it to nlohmann's reading of the same text.
#pragma once

#include <locale.h>
#include <stdlib.h>  // strtod_l
#include <omnichat/utf8.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace openai_compatible {

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

// A strict JSON reader over text it does not own, for readers that pick a
// few members and skip the rest.
class JsonCursor {
public:
    explicit JsonCursor(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {
        if (text.substr(0, 3) == "\xEF\xBB\xBF") p_ += 3;
    }

    // The next character after white space, or '\0' at the end.
    char peek() {
        space();
        return p_ == end_ ? '\0' : *p_;
    }

    // Like nlohmann, a NUL byte ends the text.
    bool atEnd() {
        space();
        return p_ == end_ || *p_ == '\0';
    }

    bool eat(char c) {  // never '\0', which peek() also gives at the end
        if (peek() != c) return false;
        ++p_;
        return true;
    }

    bool null() { return peek() == 'n' && word("null"); }

    // Calls onMember(key) for each member of the object at the cursor, with
    // the cursor on the member's value, which onMember must read or skip.
    // The key is valid until onMember reads further.
    template <class OnMember>
    bool members(OnMember&& onMember) {
        if (!eat('{')) return false;
        if (eat('}')) return true;
        do {
            std::string_view key;
            bool escaped = false;
            if (!string(key, escaped)) return false;
            if (escaped) {
                decode(key, key_);
                key = key_;
            }
            if (!eat(':') || !onMember(key)) return false;
        } while (eat(','));
        return eat('}');
    }

    // Calls onFirst() on the cursor at an array's first element, which it
    // must read or skip, and skips the rest. False unless an array is here.
    template <class OnFirst>
    bool firstElement(OnFirst&& onFirst) {
        if (!eat('[')) return false;
        if (eat(']')) return true;
        if (!onFirst()) return false;
        while (eat(','))
            if (!skip()) return false;
        return eat(']');
    }

    // A string into `out`, or anything else skipped and `out` emptied.
    bool stringOrClear(std::string& out) {
        out.clear();
        if (peek() != '"') return skip();
        std::string_view raw;
        bool escaped = false;
        if (!string(raw, escaped)) return false;
        if (escaped)
            decode(raw, out);
        else
            out.assign(raw);
        return true;
    }

    // An integer, as nlohmann's get<int64_t> gives it, or anything else
    // (a fraction too) skipped and `fallback`.
    bool integerOr(int64_t& out, int64_t fallback) {
        out = fallback;
        if (!startsNumber()) return skip();
        std::string_view token;
        if (!number(token)) return false;
        if (auto value = integer(token)) out = *value;
        return true;
    }

    // Any number, or anything else skipped and nothing.
    bool numberOrNone(std::optional<double>& out) {
        out.reset();
        if (!startsNumber()) return skip();
        std::string_view token;
        if (!number(token)) return false;
        out = toDouble(token);
        return true;
    }

    // Skips one value of any depth, checking it; iterative, so a deep one
    // cannot exhaust the stack.
    bool skip() {
        std::string open;  // the closing character of each container
        for (;;) {
            char c = peek();
            if (c == '{' || c == '[') {
                ++p_;
                char close = c == '{' ? '}' : ']';
                if (!eat(close)) {  // not empty: its first value comes next
                    open.push_back(close);
                    if (close == '}' && !key()) return false;
                    continue;
                }
            } else if (!scalarValue()) {
                return false;
            }
            // After a value: close what ends here, then expect the next one.
            for (;;) {
                if (open.empty()) return true;
                if (eat(',')) {
                    if (open.back() == '}' && !key()) return false;
                    break;
                }
                if (!eat(open.back())) return false;
                open.pop_back();
            }
        }
    }

private:
    void space() {
        while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
    }

    bool word(std::string_view w) {
        if (static_cast<size_t>(end_ - p_) < w.size() || std::string_view(p_, w.size()) != w) return false;
        p_ += w.size();
        return true;
    }

    bool key() {
        std::string_view raw;
        bool escaped = false;
        return string(raw, escaped) && eat(':');
    }

    bool scalarValue() {
        switch (peek()) {
            case '"': {
                std::string_view raw;
                bool escaped = false;
                return string(raw, escaped);
            }
            case 't': return word("true");
            case 'f': return word("false");
            case 'n': return word("null");
            default: {
                std::string_view token;
                return startsNumber() && number(token);
            }
        }
    }

    bool startsNumber() {
        char c = peek();
        return c == '-' || (c >= '0' && c <= '9');
    }

    // A string's bytes between its quotes, checked; `escaped` when they hold
    // a backslash, so that decode() must turn them into text.
    bool string(std::string_view& raw, bool& escaped) {
        if (!eat('"')) return false;
        const char* start = p_;
        while (p_ != end_) {
            auto c = static_cast<unsigned char>(*p_);
            if (c == '"') {
                raw = std::string_view(start, static_cast<size_t>(p_ - start));
                ++p_;
                return true;
            }
            if (c < 0x20) return false;
            if (c == '\\') {
                if (!escape()) return false;
                escaped = true;
            } else if (c < 0x80) {
                ++p_;
            } else if (size_t length =
                           omnichat::utf8CharLength(std::string_view(p_, static_cast<size_t>(end_ - p_)), 0)) {
                p_ += length;
            } else {
                return false;
            }
        }
        return false;
    }

    bool escape() {
        if (end_ - p_ < 2) return false;
        char c = p_[1];
        p_ += 2;
        switch (c) {
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't': return true;
            case 'u': break;
            default: return false;
        }
        int unit = hex4(p_, end_);
        if (unit < 0 || (unit >= 0xDC00 && unit <= 0xDFFF)) return false;
        p_ += 4;
        if (unit < 0xD800 || unit > 0xDBFF) return true;
        // A high surrogate must be followed by a low one.
        if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
        int low = hex4(p_ + 2, end_);
        if (low < 0xDC00 || low > 0xDFFF) return false;
        p_ += 6;
        return true;
    }

    // JSON's number grammar; like nlohmann, a number beyond a double's range
    // is refused.
    bool number(std::string_view& token) {
        const char* start = p_;
        if (*p_ == '-') ++p_;
        if (p_ == end_) return false;
        bool integral = true;
        if (*p_ == '0')
            ++p_;
        else if (!digits())
            return false;
        if (p_ != end_ && *p_ == '.') {
            ++p_;
            if (!digits()) return false;
            integral = false;
        }
        if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
            ++p_;
            if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
            if (!digits()) return false;
            integral = false;
        }
        token = std::string_view(start, static_cast<size_t>(p_ - start));
        return (integral && integer(token)) || std::isfinite(toDouble(token));
    }

    bool digits() {
        const char* start = p_;
        while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
        return p_ != start;
    }

    // An integer token within int64 or uint64 (cast, as nlohmann's
    // get<int64_t> casts); nothing when it is a fraction or beyond both.
    static std::optional<int64_t> integer(std::string_view token) {
        const char* first = token.data();
        const char* last = first + token.size();
        if (token[0] == '-') {
            int64_t value = 0;
            auto [end, ec] = std::from_chars(first, last, value);
            if (ec == std::errc() && end == last) return value;
        } else {
            uint64_t value = 0;
            auto [end, ec] = std::from_chars(first, last, value);
            if (ec == std::errc() && end == last) return static_cast<int64_t>(value);
        }
        return std::nullopt;
    }

    // Correctly rounded, as strtod; beyond a double's range, infinite or zero
    // as strtod gives it (from_chars gives neither), in the C locale.
    static double toDouble(std::string_view token) {
        double value = 0;
        auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
        if (ec == std::errc()) return value;
        static const locale_t cLocale = newlocale(LC_ALL_MASK, "C", nullptr);
        return strtod_l(std::string(token).c_str(), nullptr, cLocale);
    }

    static int hexDigit(char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }

    static int hex4(const char* p, const char* end) {
        if (end - p < 4) return -1;
        int value = 0;
        for (int i = 0; i < 4; ++i) {
            int digit = hexDigit(p[i]);
            if (digit < 0) return -1;
            value = value * 16 + digit;
        }
        return value;
    }

    static void appendUtf8(std::string& out, uint32_t cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    // The text of a string string() has checked.
    static void decode(std::string_view raw, std::string& out) {
        out.clear();
        const char* p = raw.data();
        const char* end = p + raw.size();
        while (p != end) {
            const char* slash = static_cast<const char*>(memchr(p, '\\', static_cast<size_t>(end - p)));
            if (!slash) slash = end;
            out.append(p, slash);
            if (slash == end) break;
            char c = slash[1];
            p = slash + 2;
            switch (c) {
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    auto cp = static_cast<uint32_t>(hex4(p, end));
                    p += 4;
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (static_cast<uint32_t>(hex4(p + 2, end)) - 0xDC00);
                        p += 6;
                    }
                    appendUtf8(out, cp);
                    break;
                }
                default: out += c;  // '"', '\\' and '/' stand for themselves
            }
        }
    }

    const char* p_;
    const char* end_;
    std::string key_;  // a decoded key, for keys written with escapes
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
