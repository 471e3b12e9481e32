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

TEST(CommonStrings, LtrimRemovesTheGivenBytesAtTheStartOnly) {
  EXPECT_EQ(ltrim(" \tlevel "), "level ");
  EXPECT_EQ(ltrim(" \t"), "");
  EXPECT_EQ(ltrim(""), "");
  EXPECT_EQ(ltrim("\r x", " \t\r"), "x");
  EXPECT_EQ(ltrim("\r x"), "\r x");  // a carriage return is kept unless asked
}

TEST(CommonStrings, IstartsWithIgnoresAsciiCase) {
  EXPECT_TRUE(istarts_with("Traceback (most recent call last)", "traceback"));
  EXPECT_TRUE(istarts_with("abc", ""));
  EXPECT_FALSE(istarts_with("ab", "abc"));
  EXPECT_FALSE(istarts_with("xabc", "abc"));
  static_assert(istarts_with("ERROR: x", "error"));
}

}  // namespace
}  // namespace siax
