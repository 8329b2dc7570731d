#include "auth/jwt.hpp"

#include <Poco/Base64Encoder.h>
#include <Poco/JSON/Array.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>
#include <gtest/gtest.h>

#include <sstream>

namespace omnichat {
namespace {

constexpr const char* kSecret = "unit-test-secret";
constexpr int64_t kNow = 1'800'000'000;

std::string base64url(const std::string& in) {
    std::ostringstream out;
    Poco::Base64Encoder enc(out, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
    enc << in;
    enc.close();
    return out.str();
}

std::string sign(Poco::JWT::Token t, const std::string& algorithm = Poco::JWT::Signer::ALGO_HS256,
                 const std::string& secret = kSecret) {
    Poco::JWT::Signer signer(secret);
    signer.addAlgorithm(algorithm);
    return signer.sign(t, algorithm);
}

Poco::JWT::Token claims(const std::string& sub = "alice", int64_t exp = kNow + 60) {
    Poco::JWT::Token t;
    t.setType("JWT");
    if (!sub.empty()) t.setSubject(sub);
    t.payload().set("exp", static_cast<Poco::Int64>(exp));
    return t;
}

const JwtAuthenticator auth(kSecret);

TEST(Jwt, AcceptsAValidToken) { EXPECT_EQ(auth.verify(sign(claims()), kNow), "alice"); }

TEST(Jwt, MintedTokensVerify) { EXPECT_EQ(auth.verify(auth.mint("bob", 60, kNow), kNow + 1), "bob"); }

TEST(Jwt, RejectsExpired) {
    EXPECT_FALSE(auth.verify(sign(claims("alice", kNow - 1)), kNow));
    EXPECT_FALSE(auth.verify(sign(claims("alice", kNow)), kNow));  // exp is exclusive
}

TEST(Jwt, RejectsMissingExp) {
    Poco::JWT::Token t;
    t.setSubject("alice");
    EXPECT_FALSE(auth.verify(sign(t), kNow));
}

TEST(Jwt, RejectsNotYetValid) {
    auto t = claims();
    t.payload().set("nbf", static_cast<Poco::Int64>(kNow + 30));
    EXPECT_FALSE(auth.verify(sign(t), kNow));
    t.payload().set("nbf", static_cast<Poco::Int64>(kNow - 30));
    EXPECT_EQ(auth.verify(sign(t), kNow), "alice");
}

TEST(Jwt, RejectsWrongSecret) { EXPECT_FALSE(auth.verify(sign(claims(), "HS256", "other"), kNow)); }

TEST(Jwt, RejectsOtherAlgorithms) {
    EXPECT_FALSE(auth.verify(sign(claims(), Poco::JWT::Signer::ALGO_HS512), kNow));
    std::string payload = base64url(R"({"sub":"alice","exp":)" + std::to_string(kNow + 60) + "}");
    EXPECT_FALSE(auth.verify(base64url(R"({"alg":"none","typ":"JWT"})") + "." + payload + ".", kNow));
    EXPECT_FALSE(
        auth.verify(base64url(R"({"alg":"RS256","typ":"JWT"})") + "." + payload + "." + base64url("sig"), kNow));
}

TEST(Jwt, RejectsTamperedPayload) {
    auto token = sign(claims());
    auto first = token.find('.'), second = token.find('.', first + 1);
    std::string forged = base64url(R"({"sub":"mallory","exp":)" + std::to_string(kNow + 60) + "}");
    EXPECT_FALSE(auth.verify(token.substr(0, first + 1) + forged + token.substr(second), kNow));
}

TEST(Jwt, RejectsGarbage) {
    for (const char* bad : {"", "abc", "a.b.c", "....", "eyJhbGciOiJIUzI1NiJ9.e30"})
        EXPECT_FALSE(auth.verify(bad, kNow));
}

TEST(Jwt, RejectsMissingOrNonStringSub) {
    EXPECT_FALSE(auth.verify(sign(claims("")), kNow));
    auto t = claims();
    t.payload().set("sub", 42);
    EXPECT_FALSE(auth.verify(sign(t), kNow));
}

// A token seen before is not decoded again; its times still count on every
// use, and a changed byte makes it another token.
TEST(Jwt, ATokenSeenBeforeIsStillCheckedEveryTime) {
    const JwtAuthenticator fresh(kSecret);
    auto t = claims("alice", kNow + 60);
    t.payload().set("nbf", static_cast<Poco::Int64>(kNow - 10));
    auto token = sign(t);
    EXPECT_EQ(fresh.verify(token, kNow), "alice");
    EXPECT_EQ(fresh.verify(token, kNow + 59), "alice");
    EXPECT_FALSE(fresh.verify(token, kNow + 60));
    EXPECT_FALSE(fresh.verify(token, kNow - 11));
    auto forged = token;
    forged.back() = forged.back() == 'A' ? 'B' : 'A';
    EXPECT_FALSE(fresh.verify(forged, kNow));
    EXPECT_FALSE(fresh.verify(token + "x", kNow));
    EXPECT_FALSE(fresh.verify(token.substr(0, token.size() - 1), kNow));
}

// Poco's verifier accepted each of these; a token has one spelling.
TEST(Jwt, RejectsTokensNotInTheirOneCanonicalForm) {
    auto token = sign(claims());
    ASSERT_EQ(auth.verify(token, kNow), "alice");
    for (const auto& variant : {token + ".x", token + ".", token + ".a.b", token + "=", token + "==", " " + token,
                                token + " ", token.substr(0, token.find('.')) + "=" + token.substr(token.find('.'))})
        EXPECT_FALSE(auth.verify(variant, kNow)) << variant;
    // The signature's last character with its unused bits set: the same
    // bytes, spelled otherwise.
    auto last = token.back();
    static const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    auto value = alphabet.find(last);
    ASSERT_NE(value, std::string::npos);
    auto noncanonical = token;
    noncanonical.back() = alphabet[value | 1];  // a 256-bit MAC leaves 2 unused bits in its last character
    ASSERT_NE(noncanonical, token);
    EXPECT_FALSE(auth.verify(noncanonical, kNow));
}

TEST(Jwt, RejectsCriticalExtensionsItDoesNotKnow) {
    auto t = claims();
    Poco::JSON::Array critical;
    critical.add("exp");
    t.header().set("crit", critical);
    EXPECT_FALSE(auth.verify(sign(t), kNow));
}

TEST(Jwt, RejectsSubjectsNoLogShouldPrint) {
    EXPECT_FALSE(auth.verify(sign(claims("alice\nINFO forged line")), kNow));
    EXPECT_FALSE(auth.verify(sign(claims(std::string(JwtAuthenticator::kMaxSubjectBytes + 1, 'a'))), kNow));
    EXPECT_EQ(auth.verify(sign(claims(std::string(JwtAuthenticator::kMaxSubjectBytes, 'a'))), kNow),
              std::string(JwtAuthenticator::kMaxSubjectBytes, 'a'));
    EXPECT_EQ(auth.verify(sign(claims("zoë@example.org")), kNow), "zoë@example.org");
}

TEST(Jwt, RejectsTimesBeyondAnyDate) {
    EXPECT_FALSE(auth.verify(sign(claims("alice", static_cast<int64_t>(1e15))), kNow));  // 30 million years
    auto t = claims();
    t.payload().set("exp", "tomorrow");
    EXPECT_FALSE(auth.verify(sign(t), kNow));
}

TEST(Jwt, AMaximumLifetimeBoundsExpAndIat) {
    const JwtAuthenticator bounded(kSecret, JwtPolicy{3600});
    EXPECT_EQ(bounded.verify(sign(claims("alice", kNow + 3600)), kNow), "alice");
    EXPECT_FALSE(bounded.verify(sign(claims("alice", kNow + 3601)), kNow));
    auto t = claims("alice", kNow + 60);
    t.payload().set("iat", static_cast<Poco::Int64>(kNow - 7200));  // issued for 2 h
    EXPECT_FALSE(bounded.verify(sign(t), kNow));
    EXPECT_EQ(auth.verify(sign(t), kNow), "alice");  // no bound by default
}

// Many distinct tokens: the map empties itself and verifying goes on.
TEST(Jwt, ManyTokensKeepVerifying) {
    const JwtAuthenticator fresh(kSecret);
    for (int i = 0; i < 5000; ++i) {
        auto user = "user" + std::to_string(i);
        ASSERT_EQ(fresh.verify(sign(claims(user)), kNow), user);
    }
    auto first = sign(claims("user0"));
    EXPECT_EQ(fresh.verify(first, kNow), "user0");
}

}  // namespace
}  // namespace omnichat
