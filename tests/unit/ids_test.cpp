#include "common/ids.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <random>
#include <set>

namespace omnichat {
namespace {

TEST(Ids, UuidsAreCanonicalVersion4AndDistinct) {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        auto id = newUuid();
        ASSERT_TRUE(isUuid(id)) << id;
        EXPECT_EQ(id.find_first_of("ABCDEF"), std::string::npos) << id;
        EXPECT_EQ(id[14], '4');
        EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos);
        seen.insert(id);
    }
    EXPECT_EQ(seen.size(), 1000u);
    std::set<char> digits;  // every position but the version is random
    for (const auto& id : seen) digits.insert(id[35]);
    EXPECT_EQ(digits.size(), 16u);
}

TEST(Ids, IsUuidRejectsOtherShapes) {
    EXPECT_FALSE(isUuid(""));
    EXPECT_FALSE(isUuid("not-a-uuid"));
    EXPECT_FALSE(isUuid("123e4567e89b12d3a456426614174000"));
    EXPECT_FALSE(isUuid("123e4567-e89b-12d3-a456-42661417400g"));
    EXPECT_TRUE(isUuid("123E4567-E89B-12D3-A456-426614174000"));
}

TEST(Ids, FormatsUtcWithMilliseconds) {
    EXPECT_EQ(formatIsoMillis(0), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(formatIsoMillis(1764157058123), "2025-11-26T11:37:38.123Z");
    EXPECT_EQ(formatIsoMillis(-1), "1969-12-31T23:59:59.999Z");
    EXPECT_EQ(formatIsoMillis(253402300799999), "9999-12-31T23:59:59.999Z");
    EXPECT_EQ(formatIsoMillis(253402300800000), "10000-01-01T00:00:00.000Z");
    EXPECT_EQ(formatIsoMillis(-62167219200000), "0000-01-01T00:00:00.000Z");
    EXPECT_EQ(formatIsoMillis(-62167219200001), "-001-12-31T23:59:59.999Z");
    std::string out = "at ";
    appendIsoMillis(out, 951782400000);
    EXPECT_EQ(out, "at 2000-02-29T00:00:00.000Z");
}

// The calendar is computed by hand: it must agree with gmtime on every day
// of four centuries (leap years, the century rules) and at random instants
// of years 0 to 9999.
TEST(Ids, FormatsAsGmtimeDoes) {
    auto viaGmtime = [](int64_t ms) {
        time_t secs = static_cast<time_t>(ms / 1000);
        int millis = static_cast<int>(ms % 1000);
        if (millis < 0) millis += 1000, --secs;
        std::tm tm{};
        gmtime_r(&secs, &tm);
        char buf[64];
        std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                      tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
        return std::string(buf);
    };
    const int64_t day = 86400000, year1800 = -5364662400000;
    for (int64_t ms = year1800 - 1; ms < year1800 + 146097 * day; ms += day)
        ASSERT_EQ(formatIsoMillis(ms), viaGmtime(ms)) << ms;
    std::mt19937_64 random(7);
    std::uniform_int_distribution<int64_t> instant(-62167219200000, 253402300799999);
    for (int i = 0; i < 100000; ++i) {
        int64_t ms = instant(random);
        ASSERT_EQ(formatIsoMillis(ms), viaGmtime(ms)) << ms;
    }
}

TEST(Ids, StorableTextIsValidUtf8WithoutNul) {
    EXPECT_TRUE(isStorableText("plain"));
    EXPECT_TRUE(isStorableText("日本語 🌍 e\xcc\x81"));
    EXPECT_FALSE(isStorableText(std::string("a\0b", 3)));
    EXPECT_FALSE(isStorableText("\xff"));
    EXPECT_FALSE(isStorableText("\xc3"));              // truncated
    EXPECT_FALSE(isStorableText("\xc0\xaf"));          // overlong
    EXPECT_FALSE(isStorableText("\xed\xa0\x80"));      // surrogate
    EXPECT_FALSE(isStorableText("\xf4\x90\x80\x80"));  // past U+10FFFF
}

// A stream of text is passed on in whole characters: an incomplete
// sequence at the end waits; anything else (text, or bytes that are no
// UTF-8 at all, for the validity check to refuse) goes.
TEST(Text, WholePrefixHoldsBackOnlyAnIncompleteCharacterAtTheEnd) {
    EXPECT_EQ(utf8WholePrefix(""), 0u);
    EXPECT_EQ(utf8WholePrefix("abc"), 3u);
    EXPECT_EQ(utf8WholePrefix("caf\xc3"), 3u);      // 2-byte sequence, 1 byte in
    EXPECT_EQ(utf8WholePrefix("caf\xc3\xa9"), 5u);  // complete
    EXPECT_EQ(utf8WholePrefix("a\xe2\x82"), 1u);    // 3-byte sequence, 2 bytes in
    EXPECT_EQ(utf8WholePrefix("a\xe2\x82\xac"), 4u);
    EXPECT_EQ(utf8WholePrefix("\xf0\x9f\x8d"), 0u);  // 4-byte sequence, 3 bytes in
    EXPECT_EQ(utf8WholePrefix("\xf0\x9f\x8d\xb0"), 4u);
    EXPECT_EQ(utf8WholePrefix("a\xa9"), 2u);  // a stray continuation byte is not held
    EXPECT_EQ(utf8WholePrefix("\x80\x80\x80\x80"), 4u);
    EXPECT_EQ(utf8WholePrefix("a\xff"), 1u);  // held like a lead; the final check refuses it
}

}  // namespace
}  // namespace omnichat
