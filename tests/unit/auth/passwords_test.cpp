#include "auth/passwords.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace siax::auth {
namespace {

constexpr std::uint32_t kFast = 1000;  // the minimum: keeps the suite fast

TEST(Passwords, HashFormat) {
  auto h = hash_password("correct horse", kFast);
  ASSERT_TRUE(h);
  // pbkdf2-sha256$1000$<24 chars: 16 bytes>$<44 chars: 32 bytes>
  EXPECT_EQ(h->rfind("pbkdf2-sha256$1000$", 0), 0u) << *h;
  const auto salt_start = std::string("pbkdf2-sha256$1000$").size();
  const auto sep = h->find('$', salt_start);
  ASSERT_NE(sep, std::string::npos);
  EXPECT_EQ(sep - salt_start, 24u);
  EXPECT_EQ(h->size() - sep - 1, 44u);
}

TEST(Passwords, DefaultIterationCountIsInTheEncoding) {
  EXPECT_EQ(kDefaultPbkdf2Iterations, 200'000u);
  // One real default-strength hash, to prove the default path works end to end.
  auto h = hash_password("pw");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->rfind("pbkdf2-sha256$200000$", 0), 0u);
  EXPECT_TRUE(verify_password("pw", *h));
}

TEST(Passwords, RoundTrip) {
  for (const char* pw : {"", "a", "correct horse battery staple", "päss wörd ✓", "with$dollar"}) {
    auto h = hash_password(pw, kFast);
    ASSERT_TRUE(h) << pw;
    EXPECT_TRUE(verify_password(pw, *h)) << pw;
  }
  const std::string long_pw(10'000, 'x');
  EXPECT_TRUE(verify_password(long_pw, hash_password(long_pw, kFast).value()));
}

TEST(Passwords, WrongPasswordFails) {
  auto h = hash_password("secret", kFast);
  ASSERT_TRUE(h);
  for (const char* pw : {"Secret", "secret ", "secre", "", "secrets"}) {
    EXPECT_FALSE(verify_password(pw, *h)) << pw;
  }
}

TEST(Passwords, SaltMakesEveryHashDifferent) {
  auto a = hash_password("same", kFast);
  auto b = hash_password("same", kFast);
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(verify_password("same", *a));
  EXPECT_TRUE(verify_password("same", *b));
}

TEST(Passwords, VerifiesAKnownPbkdf2Vector) {
  // RFC 7914 §11-style vector for PBKDF2-HMAC-SHA256: P="passwordPASSWORDpassword",
  // S="saltSALTsaltSALTsaltSALTsaltSALTsalt", c=4096 (first 32 bytes: 348c89db...dd53e1).
  const std::string encoded =
      "pbkdf2-sha256$4096$c2FsdFNBTFRzYWx0U0FMVHNhbHRTQUxUc2FsdFNBTFRzYWx0$"
      "NIyJ28vTKy8y2BS4EW6EzysXNH68GAAYHE4qH7jdU+E=";
  EXPECT_TRUE(verify_password("passwordPASSWORDpassword", encoded));
  EXPECT_FALSE(verify_password("passwordPASSWORDpassworD", encoded));
}

TEST(Passwords, MalformedEncodingsAreFalseNeverACrash) {
  const std::string good = hash_password("pw", kFast).value();
  const auto p1 = good.find('$');
  const auto p2 = good.find('$', p1 + 1);
  const auto p3 = good.find('$', p2 + 1);
  const std::string salt = good.substr(p2 + 1, p3 - p2 - 1);
  const std::string hash = good.substr(p3 + 1);
  const std::string bad[] = {
      "",
      "$",
      "$$$",
      "pbkdf2-sha256",
      "pbkdf2-sha256$",
      "pbkdf2-sha256$1000",
      "pbkdf2-sha256$1000$" + salt,
      "pbkdf2-sha256$1000$" + salt + "$",
      "pbkdf2-sha1$1000$" + salt + "$" + hash,
      "PBKDF2-SHA256$1000$" + salt + "$" + hash,
      "pbkdf2-sha256$$" + salt + "$" + hash,
      "pbkdf2-sha256$abc$" + salt + "$" + hash,
      "pbkdf2-sha256$-1000$" + salt + "$" + hash,
      "pbkdf2-sha256$+1000$" + salt + "$" + hash,
      "pbkdf2-sha256$ 1000$" + salt + "$" + hash,
      "pbkdf2-sha256$01000$" + salt + "$" + hash,
      "pbkdf2-sha256$1000x$" + salt + "$" + hash,
      "pbkdf2-sha256$999$" + salt + "$" + hash,          // below the minimum
      "pbkdf2-sha256$99999999999$" + salt + "$" + hash,  // overflows uint32
      "pbkdf2-sha256$4294967295$" + salt + "$" + hash,   // above the maximum: no minutes of CPU
      "pbkdf2-sha256$1000$" + salt + "$" + hash + "$",   // extra field
      "pbkdf2-sha256$1000$" + salt + "$" + hash + "$extra",
      "pbkdf2-sha256$1000$$" + hash,                            // empty salt
      "pbkdf2-sha256$1000$YWJj$" + hash,                        // 3-byte salt: too short
      "pbkdf2-sha256$1000$" + salt + "$" + hash.substr(4),      // truncated hash
      "pbkdf2-sha256$1000$" + salt + "$" + hash + "AAAA",       // hash too long
      "pbkdf2-sha256$1000$" + salt.substr(1) + "$" + hash,      // broken base64
      "pbkdf2-sha256$1000$" + salt + "$" + hash.substr(0, 43),  // missing padding
      "pbkdf2-sha256$1000$" + salt + "$!" + hash.substr(1),
      std::string("pbkdf2-sha256$1000$") + salt + '\0' + "$" + hash,
      "pbkdf2-sha256$1000$" + salt + "$" + hash + "\n",
  };
  for (const auto& enc : bad) EXPECT_FALSE(verify_password("pw", enc)) << enc;
  EXPECT_TRUE(verify_password("pw", good));
}

TEST(Passwords, IterationCountOutOfRangeIsRefused) {
  for (std::uint32_t n : {0u, 1u, 999u, 10'000'001u}) {
    auto h = hash_password("pw", n);
    ASSERT_FALSE(h) << n;
    EXPECT_EQ(h.error().kind, ErrorKind::InvalidInput);
    EXPECT_EQ(h.error().code, "invalid_iterations");
  }
}

TEST(Passwords, GeneratedPasswordsAreReadableAndRandom) {
  const std::string alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  std::set<std::string> seen;
  std::set<char> used;
  for (int i = 0; i < 200; ++i) {
    auto pw = generate_password();
    ASSERT_TRUE(pw);
    EXPECT_EQ(pw->size(), 20u);
    EXPECT_EQ(pw->find_first_not_of(alphabet), std::string::npos) << *pw;
    EXPECT_TRUE(seen.insert(*pw).second);
    used.insert(pw->begin(), pw->end());
  }
  for (char lookalike : {'0', 'O', '1', 'l', 'I'}) EXPECT_EQ(used.count(lookalike), 0u) << lookalike;
  EXPECT_GT(used.size(), 50u);  // 4000 draws cover (almost) the whole 56-symbol alphabet
}

}  // namespace
}  // namespace siax::auth
