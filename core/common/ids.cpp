#include "common/ids.hpp"

#include <omnichat/utf8.hpp>

#include <algorithm>
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
    // By hand: every request and message gets one, and snprintf was 2% of
    // a history read's instructions.
    std::string out(36, '-');
    auto put = [&out](size_t at, uint64_t bits, size_t digits) {
        for (size_t i = digits; i-- > 0; bits >>= 4) out[at + i] = "0123456789abcdef"[bits & 0xf];
    };
    put(0, hi >> 32, 8);
    put(9, hi >> 16, 4);
    put(14, hi, 4);
    put(19, lo >> 48, 4);
    put(24, lo, 12);
    return out;
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

void appendIsoMillis(std::string& out, int64_t unixMs) {
    constexpr int64_t kYear0 = -62167219200000, kYear10000 = 253402300800000;
    if (unixMs < kYear0 || unixMs >= kYear10000) {  // years omnichat never stores, as gmtime has them
        time_t secs = static_cast<time_t>(unixMs / 1000);
        int millis = static_cast<int>(unixMs % 1000);
        if (millis < 0) {
            millis += 1000;
            --secs;
        }
        std::tm tm{};
        gmtime_r(&secs, &tm);
        char buf[96];
        int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                              tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
        out.append(buf, static_cast<size_t>(std::max(n, 0)));
        return;
    }
    // By hand and without gmtime (which takes the time zone lock): every
    // message of a history has one, and both showed in the profile of
    // history reads.
    using namespace std::chrono;
    sys_time<milliseconds> time{milliseconds(unixMs)};
    auto day = floor<days>(time);
    year_month_day date(day);
    hh_mm_ss clock(time - day);
    char text[] = "0000-00-00T00:00:00.000Z";
    auto put = [&text](size_t end, unsigned value, int digits) {
        for (int i = 0; i < digits; ++i, value /= 10)
            text[end - static_cast<size_t>(i)] = static_cast<char>('0' + value % 10);
    };
    put(3, static_cast<unsigned>(static_cast<int>(date.year())), 4);
    put(6, static_cast<unsigned>(date.month()), 2);
    put(9, static_cast<unsigned>(date.day()), 2);
    put(12, static_cast<unsigned>(clock.hours().count()), 2);
    put(15, static_cast<unsigned>(clock.minutes().count()), 2);
    put(18, static_cast<unsigned>(clock.seconds().count()), 2);
    put(22, static_cast<unsigned>(clock.subseconds().count()), 3);
    out.append(text, sizeof text - 1);
}

std::string formatIsoMillis(int64_t unixMs) {
    std::string out;
    appendIsoMillis(out, unixMs);
    return out;
}

bool isStorableText(std::string_view s) {
    for (size_t i = 0, length = 0; i < s.size(); i += length)
        if (s[i] == '\0' || !(length = utf8CharLength(s, i))) return false;
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

std::string loggable(std::string_view s, size_t maxBytes) {
    const bool cut = s.size() > maxBytes;
    if (cut) s = s.substr(0, utf8WholePrefix(s.substr(0, maxBytes)));
    std::string out;
    out.reserve(s.size() + 8);
    for (unsigned char c : s) {
        if (c > 0x20 && c != 0x7f && c != '"' && c != '\\' && c != '=') {
            out += static_cast<char>(c);
            continue;
        }
        static const char* hex = "0123456789abcdef";
        out += "\\x";
        out += hex[c >> 4];
        out += hex[c & 15];
    }
    if (cut) out += "...";
    return out;
}

}  // namespace omnichat
