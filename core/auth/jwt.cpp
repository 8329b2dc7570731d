#include "auth/jwt.hpp"

#include <Poco/Crypto/OpenSSLInitializer.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>

namespace omnichat {
namespace {

constexpr size_t kDecodedCapacity = 4096;
constexpr size_t kLongestCachedToken = 2048;  // bounds the map's memory

// A numeric claim as seconds; nullopt when absent; throws when not a
// number or beyond any real date (a float that large has no int64 value).
std::optional<int64_t> numericClaim(const Poco::JSON::Object& payload, const std::string& name) {
    if (!payload.has(name)) return std::nullopt;
    auto v = payload.get(name);
    if (!v.isNumeric()) throw std::invalid_argument(name);
    double seconds = v.convert<double>();
    constexpr double kLimit = 1e15;  // some 30 million years
    if (!(seconds > -kLimit && seconds < kLimit)) throw std::invalid_argument(name);
    return static_cast<int64_t>(seconds);
}

}  // namespace

JwtAuthenticator::JwtAuthenticator(std::string secret)
    : secret_(std::move(secret)), openSsl_(std::make_shared<Poco::Crypto::OpenSSLInitializer>()) {}

std::optional<std::string> JwtAuthenticator::verify(std::string_view token, int64_t nowSeconds) const {
    std::optional<Claims> claims;
    {
        std::lock_guard lock(decodedMutex_);
        if (auto it = decoded_.find(token); it != decoded_.end()) claims = it->second;
    }
    if (!claims) {
        claims = decode(token);
        if (!claims) return std::nullopt;
        if (token.size() <= kLongestCachedToken) {
            std::lock_guard lock(decodedMutex_);
            if (decoded_.size() >= kDecodedCapacity) decoded_.clear();
            decoded_.emplace(token, *claims);
        }
    }
    if (nowSeconds >= claims->expires) return std::nullopt;
    if (claims->notBefore && nowSeconds < *claims->notBefore) return std::nullopt;
    return std::move(claims->subject);
}

std::optional<JwtAuthenticator::Claims> JwtAuthenticator::decode(std::string_view token) const {
    try {
        Poco::JWT::Signer signer(secret_);  // allows HS256 only
        Poco::JWT::Token t = signer.verify(std::string(token));
        if (t.getAlgorithm() != "HS256") return std::nullopt;
        const auto& payload = t.payload();
        auto exp = numericClaim(payload, "exp");
        if (!exp) return std::nullopt;
        auto nbf = numericClaim(payload, "nbf");
        if (!payload.has("sub") || !payload.get("sub").isString()) return std::nullopt;
        auto sub = payload.getValue<std::string>("sub");
        if (sub.empty()) return std::nullopt;
        return Claims{std::move(sub), *exp, nbf};
    } catch (...) {
        // Every malformed, tampered or foreign token ends here alike.
        return std::nullopt;
    }
}

std::string JwtAuthenticator::mint(const std::string& subject, int64_t ttlSeconds, int64_t nowSeconds) const {
    Poco::JWT::Token t;
    t.setType("JWT");
    t.setSubject(subject);
    t.payload().set("iat", static_cast<Poco::Int64>(nowSeconds));
    t.payload().set("exp", static_cast<Poco::Int64>(nowSeconds + ttlSeconds));
    Poco::JWT::Signer signer(secret_);
    return signer.sign(t, Poco::JWT::Signer::ALGO_HS256);
}

}  // namespace omnichat
