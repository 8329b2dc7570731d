#include "auth/jwt.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "auth/base64url.hpp"

namespace omnichat {
namespace {

constexpr size_t kDecodedCapacity = 4096;
constexpr size_t kLongestCachedToken = 2048;  // bounds the map's memory
constexpr size_t kLongestToken = 8192;
// The end of year 9999: a later time is no date a token means.
constexpr int64_t kLatestTime = 253402300799;

std::string hmacSha256(const std::string& key, std::string_view data) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
         data.size(), mac, &length);
    return std::string(reinterpret_cast<char*>(mac), length);
}

// A JSON object from a segment's bytes; nullopt when it is not one.
std::optional<nlohmann::json> jsonObject(const std::string& bytes) {
    auto value = nlohmann::json::parse(bytes, nullptr, false);
    if (value.is_discarded() || !value.is_object()) return std::nullopt;
    return value;
}

// A NumericDate claim as whole seconds: nullopt when absent; false in
// `valid` when present but not a number in any real date's range.
std::optional<int64_t> numericDate(const nlohmann::json& claims, const char* name, bool& valid) {
    auto it = claims.find(name);
    if (it == claims.end()) return std::nullopt;
    if (!it->is_number()) {
        valid = false;
        return std::nullopt;
    }
    double seconds = it->get<double>();
    if (!(seconds >= -kLatestTime && seconds <= kLatestTime)) {
        valid = false;
        return std::nullopt;
    }
    return static_cast<int64_t>(seconds);
}

bool plainText(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](unsigned char c) { return c >= 0x20 && c != 0x7f; });
}

}  // namespace

JwtAuthenticator::JwtAuthenticator(std::string secret, JwtPolicy policy)
    : secret_(std::move(secret)), policy_(policy) {}

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
    if (!timely(*claims, nowSeconds)) return std::nullopt;
    return std::move(claims->subject);
}

bool JwtAuthenticator::timely(const Claims& claims, int64_t nowSeconds) const {
    if (nowSeconds >= claims.expires) return false;
    if (claims.notBefore && nowSeconds < *claims.notBefore) return false;
    if (const int64_t max = policy_.maxLifetimeSeconds; max > 0) {
        if (claims.expires - nowSeconds > max) return false;
        if (claims.issuedAt && claims.expires - *claims.issuedAt > max) return false;
    }
    return true;
}

std::optional<JwtAuthenticator::Claims> JwtAuthenticator::decode(std::string_view token) const {
    if (token.size() > kLongestToken) return std::nullopt;
    const auto first = token.find('.');
    const auto second = first == std::string_view::npos ? first : token.find('.', first + 1);
    if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos)
        return std::nullopt;  // exactly three segments
    auto headerBytes = base64UrlDecode(token.substr(0, first));
    auto payloadBytes = base64UrlDecode(token.substr(first + 1, second - first - 1));
    auto signature = base64UrlDecode(token.substr(second + 1));
    if (!headerBytes || !payloadBytes || !signature) return std::nullopt;

    // The signature first: nothing else of an unsigned token is read.
    const std::string expected = hmacSha256(secret_, token.substr(0, second));
    if (signature->size() != expected.size() || CRYPTO_memcmp(signature->data(), expected.data(), expected.size()) != 0)
        return std::nullopt;

    auto header = jsonObject(*headerBytes);
    if (!header) return std::nullopt;
    auto alg = header->find("alg");
    if (alg == header->end() || *alg != "HS256" || header->contains("crit")) return std::nullopt;

    auto payload = jsonObject(*payloadBytes);
    if (!payload) return std::nullopt;
    bool valid = true;
    auto exp = numericDate(*payload, "exp", valid);
    auto nbf = numericDate(*payload, "nbf", valid);
    auto iat = numericDate(*payload, "iat", valid);
    if (!valid || !exp) return std::nullopt;
    auto sub = payload->find("sub");
    if (sub == payload->end() || !sub->is_string()) return std::nullopt;
    const auto& subject = sub->get_ref<const std::string&>();
    if (subject.empty() || subject.size() > kMaxSubjectBytes || !plainText(subject)) return std::nullopt;
    return Claims{subject, *exp, nbf, iat};
}

std::string JwtAuthenticator::mint(const std::string& subject, int64_t ttlSeconds, int64_t nowSeconds) const {
    nlohmann::json claims = {{"sub", subject}, {"iat", nowSeconds}, {"exp", nowSeconds + ttlSeconds}};
    std::string input = base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})") + "." + base64UrlEncode(claims.dump());
    return input + "." + base64UrlEncode(hmacSha256(secret_, input));
}

}  // namespace omnichat
