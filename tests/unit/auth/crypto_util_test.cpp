#include "auth/crypto_util.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace siax::auth {
namespace {

std::vector<unsigned char> bytes(std::string_view s) { return {s.begin(), s.end()}; }

TEST(Base64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    const auto b = bytes(plain);
    EXPECT_EQ(base64_encode(b.data(), b.size()), encoded) << plain;
    auto decoded = base64_decode(encoded);
    ASSERT_TRUE(decoded) << encoded;
    EXPECT_EQ(*decoded, b) << encoded;
  }
}

TEST(Base64, UrlAlphabetWithoutPadding) {
  const unsigned char b[] = {0xfb, 0xff, 0xfe};
  EXPECT_EQ(base64url_encode(b, 3), "-__-");
  EXPECT_EQ(base64_encode(b, 3), "+//+");
  const unsigned char one[] = {'f'};
  EXPECT_EQ(base64url_encode(one, 1), "Zg");
}

TEST(Base64, DecodeRejectsMalformedInput) {
  for (const char* bad :
       {"Zg", "Zg=", "Z===", "====", "Zg==Zg==", "Zm9v ", " Zm9v", "Zm-v", "Zm_v", "Zh==", "Zm9=", "Zm=v", "Zm9v\n"}) {
    EXPECT_FALSE(base64_decode(bad)) << bad;
  }
}

TEST(ConstantTimeEquals, ComparesContent) {
  EXPECT_TRUE(constant_time_equals("", ""));
  EXPECT_TRUE(constant_time_equals("abc", "abc"));
  EXPECT_FALSE(constant_time_equals("abc", "abd"));
  EXPECT_FALSE(constant_time_equals("abc", "abcd"));
  EXPECT_FALSE(constant_time_equals("", "a"));
}

TEST(RandomBytes, ReturnsRequestedSizeAndDiffers) {
  auto a = random_bytes(32);
  auto b = random_bytes(32);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->size(), 32u);
  EXPECT_NE(*a, *b);
  auto empty = random_bytes(0);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST(HexEncode, Lowercase) {
  const unsigned char b[] = {0x00, 0xab, 0xff};
  EXPECT_EQ(hex_encode(b, 3), "00abff");
}

}  // namespace
}  // namespace siax::auth
