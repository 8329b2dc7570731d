// Fuzzes token verification. A forged signature stops a token at the first
// check, so besides raw tokens the fuzzer also writes tokens it signs with
// the right secret: then its header and claims reach the rest of the checks.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "auth/jwt.hpp"

namespace {

constexpr const char* kSecret = "fuzz-secret";
constexpr int64_t kNow = 1'800'000'000;

std::string base64url(const std::string& bytes) {
    static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        uint32_t n = uint8_t(bytes[i]) << 16 | uint8_t(bytes[i + 1]) << 8 | uint8_t(bytes[i + 2]);
        for (int shift : {18, 12, 6, 0}) out += alphabet[(n >> shift) & 63];
    }
    if (size_t rest = bytes.size() - i) {
        uint32_t n = uint8_t(bytes[i]) << 16 | (rest == 2 ? uint8_t(bytes[i + 1]) << 8 : 0);
        out += alphabet[(n >> 18) & 63];
        out += alphabet[(n >> 12) & 63];
        if (rest == 2) out += alphabet[(n >> 6) & 63];
    }
    return out;
}

std::string signedToken(const std::string& header, const std::string& payload) {
    std::string input = base64url(header) + "." + base64url(payload);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), kSecret, 11, reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &length);
    return input + "." + base64url(std::string(reinterpret_cast<char*>(mac), length));
}

}  // namespace

// The first byte picks what the rest is: a whole token, the claims of a
// token signed with an HS256 header, or the header of one with fixed
// claims.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const omnichat::JwtAuthenticator auth(kSecret);
    if (size == 0) return 0;
    std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    std::optional<std::string> subject;
    switch (data[0] % 3) {
        case 0: subject = auth.verify(rest, kNow); break;
        case 1: subject = auth.verify(signedToken(R"({"alg":"HS256","typ":"JWT"})", rest), kNow); break;
        default: subject = auth.verify(signedToken(rest, R"({"sub":"u","exp":1900000000})"), kNow); break;
    }
    if (subject && subject->empty()) std::abort();
    return 0;
}
