#pragma once
#include <omnichat/omnichat_plugin.h>

#include <cstdint>
#include <optional>

#include "config/config.hpp"

namespace omnichat {

// The official OpenAI SDK's rules: retry connection failures, 408, 409, 429
// and 5xx. Categories that are the request's own fault (auth, bad request,
// content filter) are final.
bool isRetryable(omnichat_status_t status, int32_t httpStatus);

// Delay before retry number `retry` (1 for the first retry): the provider's
// Retry-After when given and within the cap, else exponential backoff,
// reduced by up to 25% of jitter (`jitter01` in [0, 1)).
int64_t retryDelayMs(const RetrySettings& settings, unsigned retry, int64_t retryAfterMs, double jitter01);

}  // namespace omnichat
