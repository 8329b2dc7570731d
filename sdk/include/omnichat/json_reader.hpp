// Reading JSON in a provider plugin, header-only (C++17), strict (RFC 8259,
// UTF-8 checked, as nlohmann::json reads it; fuzz_json holds both readers to
// the same answers):
//  - JsonCursor walks text it does not own and picks a few members,
//    allocating nothing once the strings it fills have grown: for the events
//    of a long stream (the openai plugins read every chunk with it);
//  - JsonValue is a small document: parse once, then look members up by
//    name and index (a missing one reads as null, so a chain of lookups is
//    safe): for everything else.
#pragma once

#include <locale.h>
#include <stdlib.h>  // strtod_l
#include <omnichat/utf8.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace omnichat {

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

    // Calls onEach() on the cursor at each element of an array, which it
    // must read or skip. False unless an array is here.
    template <class OnEach>
    bool elements(OnEach&& onEach) {
        if (!eat('[')) return false;
        if (eat(']')) return true;
        do {
            if (!onEach()) return false;
        } while (eat(','));
        return eat(']');
    }

    // true or false, or anything else skipped and `fallback`.
    bool booleanOr(bool& out, bool fallback) {
        out = fallback;
        if (peek() == 't' && word("true")) return out = true;
        if (peek() == 'f' && word("false")) {
            out = false;
            return true;
        }
        return skip();
    }

    // A number as its token (for a reader that wants both its integer and
    // its double), or nothing and false.
    bool numberToken(std::string_view& token) { return startsNumber() && number(token); }
    static std::optional<int64_t> integerOf(std::string_view token) { return integer(token); }
    static double doubleOf(std::string_view token) { return toDouble(token); }

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

// A JSON document, read whole. Strict as JsonCursor (it is read by one);
// depth is bounded, so a deep one is refused rather than exhausting the
// stack. Where a key repeats, the last one counts, as in nlohmann's DOM.
class JsonValue {
public:
    enum class Type { Null, Boolean, Number, String, Array, Object };

    // nullopt unless `text` is one JSON value (white space around it).
    static std::optional<JsonValue> parse(std::string_view text) {
        JsonCursor in(text);
        JsonValue out;
        if (!out.read(in, 0) || !in.atEnd()) return std::nullopt;
        return out;
    }

    Type type() const { return type_; }
    bool isNull() const { return type_ == Type::Null; }
    bool isString() const { return type_ == Type::String; }
    bool isNumber() const { return type_ == Type::Number; }
    bool isObject() const { return type_ == Type::Object; }
    bool isArray() const { return type_ == Type::Array; }

    // A member of an object, or null.
    const JsonValue& operator[](std::string_view key) const {
        for (auto it = members_.rbegin(); it != members_.rend(); ++it)
            if (it->first == key) return it->second;
        return null();
    }
    // An element of an array, or null.
    const JsonValue& operator[](size_t index) const { return index < items_.size() ? items_[index] : null(); }
    size_t size() const { return type_ == Type::Object ? members_.size() : items_.size(); }
    const std::vector<JsonValue>& items() const { return items_; }
    const std::vector<std::pair<std::string, JsonValue>>& members() const { return members_; }

    // A string's text, or `fallback`.
    std::string_view text(std::string_view fallback = {}) const {
        return isString() ? std::string_view(text_) : fallback;
    }
    // A number that is an integer (within int64), or nullopt.
    std::optional<int64_t> integer() const {
        return isNumber() && integral_ ? std::optional<int64_t>(integer_) : std::nullopt;
    }
    // Any number, or nullopt.
    std::optional<double> number() const { return isNumber() ? std::optional<double>(number_) : std::nullopt; }
    bool boolean(bool fallback = false) const { return type_ == Type::Boolean ? boolean_ : fallback; }

    static constexpr int kMaxDepth = 64;

private:
    static const JsonValue& null() {
        static const JsonValue value;
        return value;
    }

    bool read(JsonCursor& in, int depth) {
        if (depth > kMaxDepth) return false;
        switch (in.peek()) {
            case '{':
                type_ = Type::Object;
                return in.members([&](std::string_view key) {
                    members_.emplace_back(std::string(key), JsonValue());
                    return members_.back().second.read(in, depth + 1);
                });
            case '[':
                type_ = Type::Array;
                return in.elements([&] {
                    items_.emplace_back();
                    return items_.back().read(in, depth + 1);
                });
            case '"': type_ = Type::String; return in.stringOrClear(text_);
            case 't':
            case 'f': type_ = Type::Boolean; return in.booleanOr(boolean_, false);
            case 'n': return in.null();
            default: {
                std::string_view token;
                if (!in.numberToken(token)) return false;
                type_ = Type::Number;
                number_ = JsonCursor::doubleOf(token);
                // integerOf casts uint64 to int64 (as nlohmann does); a
                // document's integer() is within int64 or none.
                if (auto i = JsonCursor::integerOf(token); i && (token[0] == '-' || *i >= 0)) {
                    integral_ = true;
                    integer_ = *i;
                }
                return true;
            }
        }
    }

    Type type_ = Type::Null;
    bool boolean_ = false;
    bool integral_ = false;
    int64_t integer_ = 0;
    double number_ = 0;
    std::string text_;
    std::vector<JsonValue> items_;
    std::vector<std::pair<std::string, JsonValue>> members_;
};

}  // namespace omnichat
