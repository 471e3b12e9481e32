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

// ---- SHA-256, HMAC-SHA256, PBKDF2 (Nettle: the same outputs as OpenSSL's and libgcrypt's) --

std::string hex(const Sha256Digest& d) { return hex_encode(d.data(), d.size()); }

TEST(Sha256, Fips180Vectors) {
  EXPECT_EQ(hex(sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex(sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(HmacSha256, Rfc4231AndEdgeVectors) {
  // RFC 4231 test case 2.
  EXPECT_EQ(hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Empty key and data, and a key longer than the block (hashed first); values from
  // Python's hmac module.
  EXPECT_EQ(hex(hmac_sha256("", "")), "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  EXPECT_EQ(hex(hmac_sha256(std::string(100, 'k'), "data")),
            "09380ee4b802da2363bc96e8e0d133ba275458ea8ddbc564f986fc12b31f8cb1");
}

TEST(Pbkdf2Sha256, Rfc7914AndEmptyPassword) {
  // RFC 7914 section 11: P="passwd", S="salt", c=1, dkLen=64.
  unsigned char out[64];
  const auto salt = bytes("salt");
  ASSERT_TRUE(pbkdf2_sha256("passwd", salt.data(), salt.size(), 1, out, sizeof out));
  EXPECT_EQ(hex_encode(out, sizeof out),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
            "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
  // An empty password is a valid input (Python's hashlib.pbkdf2_hmac).
  const auto salt8 = bytes("saltsalt");
  ASSERT_TRUE(pbkdf2_sha256("", salt8.data(), salt8.size(), 1000, out, 32));
  EXPECT_EQ(hex_encode(out, 32), "3e0661ee06a100bed97329d06f71c16ab8ca76a14b7dc1fe6ad3f29ae3efffdb");
  // No salt or no iterations: refused, not computed.
  EXPECT_FALSE(pbkdf2_sha256("pw", salt.data(), 0, 1, out, 32));
  EXPECT_FALSE(pbkdf2_sha256("pw", salt.data(), salt.size(), 0, out, 32));
}

TEST(RandomBytes, LargeAndEmptyRequests) {
  EXPECT_TRUE(random_bytes(0).value().empty());
  const auto big = random_bytes(4096).value();  // more than one getrandom call may need
  EXPECT_EQ(big.size(), 4096u);
  EXPECT_NE(random_bytes(32).value(), random_bytes(32).value());
  std::set<unsigned char> seen(big.begin(), big.end());
  EXPECT_GT(seen.size(), 200u);  // 4096 random bytes cover nearly all 256 values
}

}  // namespace
}  // namespace siax::auth
