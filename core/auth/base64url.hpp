#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace omnichat {

// base64url without padding (RFC 7515's encoding of JWS segments).
std::string base64UrlEncode(std::string_view bytes);
// The bytes of `text` when it is base64url in its one canonical form: the
// URL alphabet only, no padding, no whitespace, and the bits after the last
// byte zero. Anything else is nullopt, so one value has one spelling.
std::optional<std::string> base64UrlDecode(std::string_view text);

}  // namespace omnichat
