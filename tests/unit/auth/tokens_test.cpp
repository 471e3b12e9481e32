#include "auth/tokens.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace siax::auth {
namespace {

TEST(Tokens, FormatIsPrefixAnd43Base64UrlCharacters) {
  auto t = generate_token();
  ASSERT_TRUE(t);
  EXPECT_EQ(t->size(), 48u);
  EXPECT_EQ(t->substr(0, 5), "siax_");
  EXPECT_EQ(t->find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", 5),
            std::string::npos)
      << *t;
  EXPECT_TRUE(looks_like_token(*t)) << *t;
}

TEST(Tokens, AreUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto t = generate_token();
    ASSERT_TRUE(t);
    EXPECT_TRUE(looks_like_token(*t)) << *t;
    EXPECT_TRUE(seen.insert(*t).second) << "duplicate " << *t;
  }
}

TEST(Tokens, HashIsLowercaseHexSha256) {
  // FIPS 180-2 test vectors.
  EXPECT_EQ(hash_token("abc").value(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hash_token("").value(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Tokens, HashIsStableAndDistinguishesTokens) {
  auto t = generate_token();
  ASSERT_TRUE(t);
  EXPECT_EQ(hash_token(*t).value(), hash_token(*t).value());
  EXPECT_EQ(hash_token(*t)->size(), 64u);
  EXPECT_NE(hash_token(*t).value(), hash_token(*t + "x").value());
}

TEST(Tokens, LooksLikeTokenRejectsNearMisses) {
  const std::string good = "siax_" + std::string(42, 'A') + "A";
  EXPECT_TRUE(looks_like_token(good));
  EXPECT_FALSE(looks_like_token(""));
  EXPECT_FALSE(looks_like_token("siax_"));
  EXPECT_FALSE(looks_like_token(good.substr(0, 47)));                     // too short
  EXPECT_FALSE(looks_like_token(good + "A"));                             // too long
  EXPECT_FALSE(looks_like_token("SIAX_" + good.substr(5)));               // prefix is case-sensitive
  EXPECT_FALSE(looks_like_token("siax-" + good.substr(5)));               // wrong prefix
  EXPECT_FALSE(looks_like_token("siax_" + std::string(42, 'A') + "="));   // padding
  EXPECT_FALSE(looks_like_token("siax_" + std::string(42, 'A') + "+"));   // standard alphabet
  EXPECT_FALSE(looks_like_token("siax_" + std::string(41, 'A') + " A"));  // space
  EXPECT_FALSE(looks_like_token("siax_" + std::string(42, 'A') + "B"));   // impossible last character
  EXPECT_TRUE(looks_like_token("siax_" + std::string(42, 'A') + "E"));
}

TEST(BearerFromHeader, ExtractsTheToken) {
  EXPECT_EQ(bearer_from_header("Bearer abc"), "abc");
  EXPECT_EQ(bearer_from_header("bearer abc"), "abc");
  EXPECT_EQ(bearer_from_header("BEARER abc"), "abc");
  EXPECT_EQ(bearer_from_header("BeArEr abc"), "abc");
  EXPECT_EQ(bearer_from_header("Bearer    abc   "), "abc");
  EXPECT_EQ(bearer_from_header("  Bearer\tabc\t"), "abc");
  EXPECT_EQ(bearer_from_header("Bearer siax_abc-_="), "siax_abc-_=");
}

TEST(BearerFromHeader, RejectsOtherSchemesAndMalformedValues) {
  for (const char* bad : {"", "Bearer", "Bearer ", "Bearer    ", "Bearerabc", "Basic abc", "Token abc", "Bear abc",
                          "Bearer a b", "Bearer a\tb", "abc", " Bearer", "Bearer a\x01", "Bearer\nabc"}) {
    EXPECT_FALSE(bearer_from_header(bad)) << '"' << bad << '"';
  }
}

}  // namespace
}  // namespace siax::auth
