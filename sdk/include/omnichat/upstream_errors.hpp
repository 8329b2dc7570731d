// How an upstream's failure becomes a category, the only thing the host
// reads of it (header-only, C++17). The host retries, falls back and answers
// the client by the category:
//
//   upstream answer                      category                     retried   the client gets
//   400, 404, 413, 422                   OMNICHAT_ERR_BAD_REQUEST     no        502 provider_rejected_request
//   401, 403                             OMNICHAT_ERR_AUTH            no        502 provider_auth_failed
//   408, the whole request too slow      OMNICHAT_ERR_TIMEOUT         yes       504 provider_timeout
//   429                                  OMNICHAT_ERR_RATE_LIMITED    yes (1)   502 provider_rate_limited
//   409, 5xx (500-504, 529 overloaded)   OMNICHAT_ERR_UPSTREAM        yes       502 provider_error
//   any other status                     OMNICHAT_ERR_UPSTREAM        no        502 provider_error
//   no connection                        OMNICHAT_ERR_UNAVAILABLE     yes       502 provider_unavailable
//   no connection in time                OMNICHAT_ERR_CONNECT_TIMEOUT yes       504 provider_timeout_connect
//   an answer that cannot be read, cut   OMNICHAT_ERR_BAD_RESPONSE    no        502 provider_bad_response
//   refused for its content              OMNICHAT_ERR_CONTENT_FILTERED no       502 provider_content_filtered
//   an exception across the ABI          OMNICHAT_ERR_INTERNAL        no        502 provider_error
//
// (1) after the answer's Retry-After or retry-after-ms, when the host's
// chat.retry.max_retry_after_ms allows. Pass the HTTP status with the
// category (Call::fail's httpStatus): 409 and 5xx are retried by it.
#pragma once

#include <omnichat/host.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <string>

namespace omnichat {

inline omnichat_status_t categoryForHttpStatus(int32_t status) {
    if (status == 401 || status == 403) return OMNICHAT_ERR_AUTH;
    if (status == 429) return OMNICHAT_ERR_RATE_LIMITED;
    if (status == 408) return OMNICHAT_ERR_TIMEOUT;
    if (status == 400 || status == 404 || status == 413 || status == 422) return OMNICHAT_ERR_BAD_REQUEST;
    return OMNICHAT_ERR_UPSTREAM;
}

namespace detail {

// A header's number of milliseconds, or -1 unless it is one. Capped at a
// year: whatever a server sends, the cast stays defined.
inline int64_t headerMs(const std::string& text, double unitMs) {
    if (text.empty() || !(std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '.')) return -1;
    char* end = nullptr;
    double value = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() || !(value >= 0)) return -1;
    return static_cast<int64_t>(std::min(value * unitMs, 365.0 * 24 * 3600 * 1000));
}

}  // namespace detail

// How long an answer asks to be left alone: `retry-after-ms` (OpenAI's, in
// milliseconds), else `Retry-After` in seconds or as an HTTP date (RFC 9110:
// "Sun, 06 Nov 1994 08:49:37 GMT"), counted from `nowUnixMs`. -1 when it
// asks nothing readable.
inline int64_t retryAfterMs(const HttpResponseHead& head, int64_t nowUnixMs) {
    if (auto text = head.header("retry-after-ms"))
        if (auto ms = detail::headerMs(*text, 1); ms >= 0) return ms;
    auto value = head.header("retry-after");
    if (!value) return -1;
    if (auto ms = detail::headerMs(*value, 1000); ms >= 0) return ms;
    std::tm tm{};
    const char* end = strptime(value->c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end != '\0') return -1;
    return std::max<int64_t>(0, static_cast<int64_t>(timegm(&tm)) * 1000 - nowUnixMs);
}

}  // namespace omnichat
