// The C++ layer's foundation (C++17, header-only): strings across the ABI,
// struct sizes, errors and how exceptions stop at the boundary, option
// declarations. Included by every other header of the layer.
#pragma once

#include <omnichat/omnichat_plugin.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

namespace omnichat {

// True when a struct of `size` bytes holds the field ending at `end`: the
// other side may have been built against an older SDK.
inline bool holds(uint32_t size, size_t end) { return size >= end; }
#define OMNICHAT_HOLDS(s, field) \
    ::omnichat::holds((s).struct_size, offsetof(std::remove_reference_t<decltype(s)>, field) + sizeof((s).field))

inline omnichat_str_t toC(std::string_view s) { return {s.data(), s.size()}; }
inline std::string_view view(omnichat_str_t s) { return s.len ? std::string_view(s.data, s.len) : std::string_view(); }

// Thrown by plugin code to fail with a specific category.
class Error : public std::runtime_error {
public:
    Error(omnichat_status_t status, const std::string& message, int32_t httpStatus = 0, int64_t retryAfterMs = -1)
        : std::runtime_error(message), status_(status), httpStatus_(httpStatus), retryAfterMs_(retryAfterMs) {}
    omnichat_status_t status() const { return status_; }
    int32_t httpStatus() const { return httpStatus_; }
    int64_t retryAfterMs() const { return retryAfterMs_; }

private:
    omnichat_status_t status_;
    int32_t httpStatus_;
    int64_t retryAfterMs_;
};

inline void fillError(omnichat_error_t* out, omnichat_status_t status, std::string_view message, int32_t httpStatus = 0,
                      int64_t retryAfterMs = -1) {
    if (!out || out->struct_size < sizeof(omnichat_error_t)) return;
    out->status = status;
    out->http_status = httpStatus;
    out->retry_after_ms = retryAfterMs;
    size_t n = std::min(message.size(), sizeof(out->message) - 1);
    std::memcpy(out->message, message.data(), n);
    out->message[n] = '\0';
}

inline omnichat_error_t makeError(omnichat_status_t status, std::string_view message, int32_t httpStatus = 0,
                                  int64_t retryAfterMs = -1) {
    omnichat_error_t e{};
    e.struct_size = sizeof e;
    fillError(&e, status, message, httpStatus, retryAfterMs);
    return e;
}

// Runs `body`, converting any exception into an error category.
template <class F>
omnichat_status_t guarded(omnichat_error_t* error, F&& body) noexcept {
    try {
        body();
        return OMNICHAT_OK;
    } catch (const Error& e) {
        fillError(error, e.status(), e.what(), e.httpStatus(), e.retryAfterMs());
        return e.status();
    } catch (const std::exception& e) {
        fillError(error, OMNICHAT_ERR_INTERNAL, e.what());
    } catch (...) {
        fillError(error, OMNICHAT_ERR_INTERNAL, "unknown exception");
    }
    return OMNICHAT_ERR_INTERNAL;
}

// Declares one option for a plugin's option table.
// `environment`: a variable that sets the option for the instance named
// after the plugin (ABI 1.6), or nullptr.
constexpr omnichat_option_t option(const char* name, omnichat_option_type_t type, const char* defaultValue,
                                   bool required, const char* description, const char* environment = nullptr) {
    return omnichat_option_t{sizeof(omnichat_option_t), name, type, defaultValue, required, description, environment};
}

}  // namespace omnichat
