#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace omnichat {

// 64 random bits, not for secrets (ids, jitter).
uint64_t randomBits();
// Random (version 4) UUID in canonical lowercase text.
std::string newUuid();
// True for a canonical 8-4-4-4-12 hex UUID (any case).
bool isUuid(std::string_view s);

// Unix epoch milliseconds, wall clock.
int64_t nowUnixMs();
// "2026-11-26T11:37:38.123Z"
std::string formatIsoMillis(int64_t unixMs);
void appendIsoMillis(std::string& out, int64_t unixMs);

// True when `s` is well-formed UTF-8 without NUL bytes: what every storage
// backend can keep byte-identical.
bool isStorableText(std::string_view s);
// `s` fit for one field of a text log line: at most `maxBytes` of it
// (whole characters, then "..."), with quotes, backslashes, spaces, '=' and
// control characters escaped (\x20), so a value can neither end its field
// nor start a line of its own.
std::string loggable(std::string_view s, size_t maxBytes = 64);
// The length of `s` without an incomplete UTF-8 sequence at its end: the
// part of a stream of text that can be passed on whole characters only.
size_t utf8WholePrefix(std::string_view s);

}  // namespace omnichat
