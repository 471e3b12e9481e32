#include "auth/roles.h"

#include <gtest/gtest.h>

namespace siax::auth {
namespace {

TEST(Roles, RoundTripThroughStrings) {
  for (Role r : {Role::Viewer, Role::Operator, Role::Admin}) {
    auto parsed = role_from_string(to_string(r));
    ASSERT_TRUE(parsed) << to_string(r);
    EXPECT_EQ(*parsed, r);
  }
  EXPECT_EQ(to_string(Role::Viewer), "viewer");
  EXPECT_EQ(to_string(Role::Operator), "operator");
  EXPECT_EQ(to_string(Role::Admin), "admin");
}

TEST(Roles, ParsingIsCaseInsensitive) {
  EXPECT_EQ(role_from_string("Admin").value(), Role::Admin);
  EXPECT_EQ(role_from_string("OPERATOR").value(), Role::Operator);
}

TEST(Roles, UnknownRoleIsAnErrorListingTheValidOnes) {
  for (const char* bad : {"", "root", "admins", " admin", "adm", "viewer\n"}) {
    auto r = role_from_string(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::InvalidInput);
    EXPECT_EQ(r.error().code, "invalid_role");
    EXPECT_NE(r.error().message.find("viewer, operator, admin"), std::string::npos);
  }
}

TEST(Roles, HigherRolesIncludeLowerOnes) {
  EXPECT_TRUE(allows(Role::Admin, Role::Admin));
  EXPECT_TRUE(allows(Role::Admin, Role::Operator));
  EXPECT_TRUE(allows(Role::Admin, Role::Viewer));
  EXPECT_FALSE(allows(Role::Operator, Role::Admin));
  EXPECT_TRUE(allows(Role::Operator, Role::Operator));
  EXPECT_TRUE(allows(Role::Operator, Role::Viewer));
  EXPECT_FALSE(allows(Role::Viewer, Role::Admin));
  EXPECT_FALSE(allows(Role::Viewer, Role::Operator));
  EXPECT_TRUE(allows(Role::Viewer, Role::Viewer));
  static_assert(allows(Role::Admin, Role::Viewer));
}

}  // namespace
}  // namespace siax::auth
