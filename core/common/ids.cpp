#include "common/ids.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>

namespace omnichat {

uint64_t randomBits() {
    // Seeded once per thread: std::random_device costs a system call.
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return rng();
}

std::string newUuid() {
    uint64_t hi = randomBits(), lo = randomBits();
    hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
    lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                  static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff),
                  static_cast<unsigned>(lo >> 48), static_cast<unsigned long long>(lo & 0xffffffffffffULL));
    return buf;
}

bool isUuid(std::string_view s) {
    if (s.size() != 36) return false;
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return false;
        }
    }
    return true;
}

int64_t nowUnixMs() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string formatIsoMillis(int64_t unixMs) {
    time_t secs = static_cast<time_t>(unixMs / 1000);
    int millis = static_cast<int>(unixMs % 1000);
    if (millis < 0) {
        millis += 1000;
        --secs;
    }
    std::tm tm{};
    gmtime_r(&secs, &tm);
    int year = tm.tm_year + 1900;
    char buf[96];
    if (year < 0 || year > 9999) {
        std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year, tm.tm_mon + 1, tm.tm_mday,
                      tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
        return buf;
    }
    // By hand: every message of a history has one, and snprintf showed in
    // the profile of history reads.
    std::string out = "0000-00-00T00:00:00.000Z";
    auto put = [&out](size_t end, int value, int digits) {
        for (int i = 0; i < digits; ++i, value /= 10)
            out[end - static_cast<size_t>(i)] = static_cast<char>('0' + value % 10);
    };
    put(3, year, 4);
    put(6, tm.tm_mon + 1, 2);
    put(9, tm.tm_mday, 2);
    put(12, tm.tm_hour, 2);
    put(15, tm.tm_min, 2);
    put(18, tm.tm_sec, 2);
    put(22, millis, 3);
    return out;
}

bool isStorableText(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    size_t n = s.size(), i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c == 0) return false;
        if (c < 0x80) {
            ++i;
            continue;
        }
        size_t len;
        uint32_t cp;
        if ((c & 0xe0) == 0xc0) {
            len = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n) return false;
        for (size_t k = 1; k < len; ++k) {
            if ((p[i + k] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        // Overlong forms, UTF-16 surrogates and values past U+10FFFF.
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

size_t utf8WholePrefix(std::string_view s) {
    const size_t n = s.size();
    size_t lead = n;  // back over at most three continuation bytes
    for (int k = 0; k < 3 && lead > 0 && (static_cast<unsigned char>(s[lead - 1]) & 0xc0) == 0x80; ++k) --lead;
    if (lead == 0) return n;  // no lead byte: not UTF-8, which a later check says
    const auto c = static_cast<unsigned char>(s[lead - 1]);
    const size_t length = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return n - (lead - 1) < length ? lead - 1 : n;
}

}  // namespace omnichat
