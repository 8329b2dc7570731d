#include "chat/retry_policy.hpp"

#include <algorithm>
#include <cmath>

namespace omnichat {

bool isRetryable(omnichat_status_t status, int32_t httpStatus) {
    switch (status) {
        case OMNICHAT_ERR_UNAVAILABLE:
        case OMNICHAT_ERR_CONNECT_TIMEOUT:
        case OMNICHAT_ERR_RATE_LIMITED: return true;
        case OMNICHAT_ERR_TIMEOUT: return true;
        case OMNICHAT_ERR_UPSTREAM:
            return httpStatus == 0 || httpStatus == 408 || httpStatus == 409 || httpStatus >= 500;
        default: return false;
    }
}

int64_t retryDelayMs(const RetrySettings& settings, unsigned retry, int64_t retryAfterMs, double jitter01) {
    if (retryAfterMs >= 0 && retryAfterMs <= settings.maxRetryAfterMs) return retryAfterMs;
    double backoff = static_cast<double>(settings.initialBackoffMs) * std::pow(2.0, retry > 0 ? retry - 1 : 0);
    backoff = std::min(backoff, static_cast<double>(settings.maxBackoffMs));
    return static_cast<int64_t>(backoff * (1.0 - 0.25 * std::clamp(jitter01, 0.0, 1.0)));
}

}  // namespace omnichat
