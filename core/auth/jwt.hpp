#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

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
    struct Claims {
        std::string subject;
        int64_t expires;
        std::optional<int64_t> notBefore;
    };
    // Signature, algorithm and claim types checked; times not yet.
    std::optional<Claims> decode(std::string_view token) const;

    std::string secret_;
    // Tokens already decoded, found by their whole text. A client sends the
    // same token on every request, and decoding one (Poco's JSON parser and
    // an HMAC) costs ~17 us of a reactor thread. Only tokens with our
    // signature get in, their times are checked on every use, and the map
    // is emptied when full.
    struct TokenHash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    mutable std::mutex decodedMutex_;
    mutable std::unordered_map<std::string, Claims, TokenHash, std::equal_to<>> decoded_;
    // Holds OpenSSL initialized for the authenticator's life. Without it
    // each verify's digest engine initializes and tears OpenSSL down again,
    // and two reactor threads doing so at once corrupt the heap.
    std::shared_ptr<void> openSsl_;
};

}  // namespace omnichat
