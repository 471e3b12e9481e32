// The pure part of the unit watcher: object paths of systemd units to app names. The
// watcher's signal handling runs against the real systemd in
// tests/integration/systemd_layer_test.cpp.
#include "adapters/linux/unit_watcher.h"

#include <gtest/gtest.h>

namespace siax::adapters {
namespace {

TEST(UnitObjectPath, DecodesOurUnits) {
  EXPECT_EQ(app_from_unit_object_path("/org/freedesktop/systemd1/unit/siax_2dapp_2dapi_2eservice"), "api");
  EXPECT_EQ(app_from_unit_object_path("/org/freedesktop/systemd1/unit/siax_2dapp_2dmy_5fapp_2d2_2eservice"),
            "my_app-2");
}

TEST(UnitObjectPath, IgnoresOtherUnitsAndOtherPaths) {
  EXPECT_EQ(app_from_unit_object_path("/org/freedesktop/systemd1/unit/cron_2eservice"), "");
  EXPECT_EQ(app_from_unit_object_path("/org/freedesktop/systemd1/unit/siax_2dapp_2dapi_2esocket"), "");
  EXPECT_EQ(app_from_unit_object_path("/org/freedesktop/systemd1/job/42"), "");
  EXPECT_EQ(app_from_unit_object_path("/org/freedesktop/systemd1"), "");
  EXPECT_EQ(app_from_unit_object_path(""), "");
}

TEST(UnitObjectPath, RefusesBrokenEscapes) {
  EXPECT_EQ(app_from_unit_object_path("/org/freedesktop/systemd1/unit/siax_2dapp_2dapi_2"), "");
  EXPECT_EQ(app_from_unit_object_path("/org/freedesktop/systemd1/unit/siax_zzapp"), "");
}

}  // namespace
}  // namespace siax::adapters
