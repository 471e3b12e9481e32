#include "common/strings.h"

#include <gtest/gtest.h>

namespace siax {
namespace {

TEST(CommonStrings, IequalsIgnoresAsciiCaseOnly) {
  EXPECT_TRUE(iequals("Content-Length", "content-length"));
  EXPECT_TRUE(iequals("", ""));
  EXPECT_FALSE(iequals("abc", "abcd"));
  EXPECT_FALSE(iequals("a-b", "a_b"));
  EXPECT_FALSE(iequals("\xc3\x89", "\xc3\xa9"));  // É vs é: not ASCII, compared as bytes
  static_assert(iequals("TRUE", "true"));
}

TEST(CommonStrings, TrimRemovesTheGivenBytesAtBothEnds) {
  EXPECT_EQ(trim("  \tBearer x \t"), "Bearer x");
  EXPECT_EQ(trim(" \t "), "");
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim("a b"), "a b");
  EXPECT_EQ(trim("\n 12 \r\n"), "\n 12 \r\n");  // newlines are kept unless asked
  EXPECT_EQ(trim("\n 12 \r\n", " \t\r\n"), "12");
  EXPECT_EQ(ascii_lower('Q'), 'q');
  EXPECT_EQ(ascii_lower('['), '[');
}

}  // namespace
}  // namespace siax
