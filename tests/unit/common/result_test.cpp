#include "common/result.h"

#include <gtest/gtest.h>

namespace siax {
namespace {

Result<int> half(int x) {
  if (x % 2 != 0) return fail(ErrorKind::InvalidInput, "odd", "x is odd", {{"x", std::to_string(x)}});
  return x / 2;
}

TEST(Result, CarriesValueOrError) {
  EXPECT_EQ(*half(4), 2);
  auto r = half(3);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::InvalidInput);
  EXPECT_EQ(r.error().code, "odd");
  ASSERT_NE(r.error().detail("x"), nullptr);
  EXPECT_EQ(*r.error().detail("x"), "3");
  EXPECT_EQ(r.error().detail("y"), nullptr);
}

TEST(Result, KindsHaveStableNames) {
  EXPECT_STREQ(to_string(ErrorKind::PermissionDenied), "permission_denied");
  EXPECT_STREQ(to_string(ErrorKind::NotFound), "not_found");
  EXPECT_STREQ(to_string(ErrorKind::RateLimited), "rate_limited");
}

}  // namespace
}  // namespace siax
