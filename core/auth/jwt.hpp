#pragma once
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace omnichat {

// What a token must also satisfy beyond its signature.
struct JwtPolicy {
    // exp may lie at most this far after iat and after now; 0: no limit.
    int64_t maxLifetimeSeconds = 0;
};

// HS256 bearer tokens (RFC 7519), read strictly: exactly three base64url
// segments in their canonical form, the header's alg exactly HS256 and no
// `crit` (no extension is understood, so none may be required), the MAC
// compared in constant time, exp required, nbf honoured, sub a short string
// without control characters. Each check is ours: Poco's verifier let
// trailing segments, padded signatures and unknown `crit` through, compared
// the MAC with ==, and checked neither exp nor nbf.
class JwtAuthenticator {
public:
    explicit JwtAuthenticator(std::string secret, JwtPolicy policy = {});

    // The token's subject when the token is acceptable at `nowSeconds`.
    std::optional<std::string> verify(std::string_view token, int64_t nowSeconds) const;

    std::string mint(const std::string& subject, int64_t ttlSeconds, int64_t nowSeconds) const;

    // The longest subject accepted, in bytes.
    static constexpr size_t kMaxSubjectBytes = 256;

private:
    struct Claims {
        std::string subject;
        int64_t expires;
        std::optional<int64_t> notBefore, issuedAt;
    };
    // Form, signature and claim types checked; times not yet.
    std::optional<Claims> decode(std::string_view token) const;
    bool timely(const Claims& claims, int64_t nowSeconds) const;

    std::string secret_;
    JwtPolicy policy_;
    // Tokens already decoded, found by their whole text. A client sends the
    // same token on every request, and decoding one (two JSON documents and
    // an HMAC) costs a reactor thread several microseconds. Only tokens with
    // our signature get in, their times are checked on every use, and the
    // map is emptied when full.
    struct TokenHash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    mutable std::mutex decodedMutex_;
    mutable std::unordered_map<std::string, Claims, TokenHash, std::equal_to<>> decoded_;
};

}  // namespace omnichat
