#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace omnichat {

// HS256 bearer tokens. Poco's verifier checks the signature and the
// algorithm; exp and nbf are checked here because Poco does not.
class JwtAuthenticator {
public:
    explicit JwtAuthenticator(std::string secret);

    // The token's subject when the token is acceptable at `nowSeconds`:
    // HS256 signature valid, exp present and in the future, nbf (if any) not
    // in the future, sub a non-empty string.
    std::optional<std::string> verify(std::string_view token, int64_t nowSeconds) const;

    std::string mint(const std::string& subject, int64_t ttlSeconds, int64_t nowSeconds) const;

private:
    std::string secret_;
    // Holds OpenSSL initialized for the authenticator's life. Without it
    // each verify's digest engine initializes and tears OpenSSL down again,
    // and two reactor threads doing so at once corrupt the heap.
    std::shared_ptr<void> openSsl_;
};

}  // namespace omnichat
