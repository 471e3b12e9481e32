// Environment values masked for callers below admin (issue 10, item 6).
#include "appdef/redact.h"

#include <gtest/gtest.h>

#include "appdef/app_json.h"
#include "core/unit_renderer.h"

namespace siax::appdef {
namespace {

core::AppDefinition secret_app() {
  core::AppDefinition d;
  d.name = "shop";
  d.runtime = core::Runtime::NodeScript;
  d.script_path = "/srv/shop/server.js";
  d.working_directory = "/srv/shop";
  d.user = "shop";
  d.environment = {{"API_KEY", "sk_live_51H\"x y"}, {"PORT", "3000"}, {"DB_URL", "postgres://u:hunter2@db/shop"}};
  return d;
}

TEST(Redact, DefinitionShowsNamesNotValues) {
  const auto j = redact_definition(definition_to_json(secret_app()));
  ASSERT_TRUE(j["environment"].is_object());
  EXPECT_EQ(j["environment"].size(), 3u);
  for (const auto& [k, v] : j["environment"].items()) EXPECT_EQ(v, "***") << k;
  EXPECT_EQ(j["app_name"], "shop");
  EXPECT_EQ(j.dump().find("hunter2"), std::string::npos);
}

TEST(Redact, RenderedUnitFileHasNoValueLeft) {
  auto unit = core::render_unit(secret_app(), core::Interpreters{});
  ASSERT_TRUE(unit) << unit.error().message;
  ASSERT_NE(unit->find("hunter2"), std::string::npos);  // the real unit has them
  const std::string masked = redact_unit_text(*unit);
  EXPECT_EQ(masked.find("hunter2"), std::string::npos) << masked;
  EXPECT_EQ(masked.find("sk_live"), std::string::npos) << masked;
  EXPECT_NE(masked.find("Environment=\"API_KEY=***\""), std::string::npos) << masked;
  EXPECT_NE(masked.find("Environment=\"PORT=***\""), std::string::npos) << masked;
  EXPECT_NE(masked.find("ExecStart="), std::string::npos);  // the rest is untouched
}

TEST(Redact, HandEditedFormsAreMaskedToo) {
  const std::string unit =
      "[Service]\n"
      "Environment=A=1 B=two\n"
      "  Environment='C=x y' \"D=q\\\"uote\"\n"
      "EnvironmentFile=/var/lib/siax-agent/env/shop.env\n"
      "ExecStart=/bin/true\n";
  EXPECT_EQ(redact_unit_text(unit),
            "[Service]\n"
            "Environment=A=*** B=***\n"
            "  Environment='C=***' \"D=***\"\n"
            "EnvironmentFile=/var/lib/siax-agent/env/shop.env\n"
            "ExecStart=/bin/true\n");
}

}  // namespace
}  // namespace siax::appdef
