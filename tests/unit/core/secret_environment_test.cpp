#include <gtest/gtest.h>

#include "core/unit_renderer.h"
#include "core/validation.h"

namespace siax::core {
namespace {

AppDefinition with_secrets(std::map<std::string, std::string> values) {
  AppDefinition d;
  d.name = "api";
  d.user = "app";
  d.working_directory = "/srv/app";
  d.script_path = "/srv/app/server.js";
  for (const auto& [k, v] : values) d.secret_names.push_back(k);
  d.secret_values = std::move(values);
  return d;
}

constexpr std::string_view kPath = "/etc/siax-agent/secrets/api.env";

TEST(SecretEnvironment, ValidValuesPass) {
  EXPECT_TRUE(validate_definition(with_secrets({{"DB_PASSWORD", "p@ss w0rd \"'$`\\%\ttab"}, {"EURO", "\xE2\x82\xAC"}})));
  EXPECT_TRUE(validate_definition(with_secrets({})));
}

TEST(SecretEnvironment, RefusesWhatAnEnvironmentFileCannotCarryWithoutEchoingTheValue) {
  for (const std::string& bad : {std::string("line1\nline2"), std::string("a\0b", 3), std::string("cr\r"),
                                std::string("\xFF\xFE"), std::string("\xEF\xBB\xBF" "bom"),
                                std::string("\xC0\xAF"), std::string("\xED\xA0\x80"), std::string("\xEF\xBF\xBF"),
                                std::string("\xC2\x85"), std::string("***")}) {
    auto s = validate_definition(with_secrets({{"TOKEN", "s3cr3t-" + bad}}));
    if (bad == "***") s = validate_definition(with_secrets({{"TOKEN", bad}}));
    ASSERT_FALSE(s) << "accepted a value with bytes of " << bad.size();
    EXPECT_EQ(s.error().code, "invalid_secret_environment");
    EXPECT_NE(s.error().message.find("TOKEN"), std::string::npos) << s.error().message;
    EXPECT_EQ(s.error().message.find("s3cr3t"), std::string::npos) << "the value is in the message";
  }
}

TEST(SecretEnvironment, RefusesBadNamesTooManyLargeValuesAndOverlaps) {
  EXPECT_FALSE(validate_definition(with_secrets({{"1BAD", "x"}})));
  EXPECT_FALSE(validate_definition(with_secrets({{"A-B", "x"}})));
  EXPECT_FALSE(validate_definition(with_secrets({{"BIG", std::string(kMaxEnvValue + 1, 'x')}})));
  std::map<std::string, std::string> many;
  for (std::size_t i = 0; i <= kMaxEnvVars; ++i) many["V" + std::to_string(i)] = "x";
  EXPECT_FALSE(validate_definition(with_secrets(many)));
  auto both = with_secrets({{"TOKEN", "x"}});
  both.environment = {{"TOKEN", "y"}};
  auto s = validate_definition(both);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("both"), std::string::npos);
  auto mismatch = with_secrets({{"TOKEN", "x"}});
  mismatch.secret_names = {"OTHER"};
  EXPECT_FALSE(validate_definition(mismatch));
}

TEST(SecretEnvironment, UnitNamesTheFileAndNoValue) {
  auto d = with_secrets({{"DB_PASSWORD", "hunter2"}});
  auto unit = render_unit(d, Interpreters{}, kPath);
  ASSERT_TRUE(unit) << unit.error().message;
  EXPECT_NE(unit->find("\nEnvironmentFile=/etc/siax-agent/secrets/api.env\n"), std::string::npos) << *unit;
  EXPECT_EQ(unit->find("hunter2"), std::string::npos);
  EXPECT_EQ(unit->find("DB_PASSWORD"), std::string::npos);
  // Names only (values unknown, as read back from the registry): the same unit.
  d.secret_values.reset();
  auto names_only = render_unit(d, Interpreters{}, kPath);
  ASSERT_TRUE(names_only);
  EXPECT_EQ(*names_only, *unit);
}

TEST(SecretEnvironment, NoSecretsNoEnvironmentFileLine) {
  auto unit = render_unit(with_secrets({}), Interpreters{}, kPath);
  ASSERT_TRUE(unit);
  EXPECT_EQ(unit->find("EnvironmentFile="), std::string::npos);
}

TEST(SecretEnvironment, ThePathIsEscapedAndCheckedAndRequired) {
  auto d = with_secrets({{"K", "v"}});
  auto pct = render_unit(d, Interpreters{}, "/var/lib/siax%agent/secrets/api.env");
  ASSERT_TRUE(pct) << pct.error().message;
  EXPECT_NE(pct->find("EnvironmentFile=/var/lib/siax%%agent/secrets/api.env\n"), std::string::npos);
  for (std::string_view bad : {"/var/lib/s*/api.env", "/var/lib/a b/api.env", "relative/api.env", "/a/../b.env",
                               "/a/[x]/b.env", "/a/\"q\"/b.env", "/a\n/b.env"}) {
    EXPECT_FALSE(render_unit(d, Interpreters{}, bad)) << bad;
  }
  auto none = render_unit(d, Interpreters{});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, "secret_environment_unsupported");
}

TEST(SecretEnvironment, FileQuotesEveryValueForSystemd) {
  EXPECT_EQ(quote_environment_file_value(R"(a"b\c$d`e)"), R"("a\"b\\c\$d\`e")");
  EXPECT_EQ(quote_environment_file_value(" lead 'q' %h\t"), "\" lead 'q' %h\t\"");
  auto text = render_environment_file(with_secrets({{"A", "x\"y"}, {"B", "$HOME"}, {"C", ""}}));
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_EQ(*text,
            "# Written by siax-agent from the app's secret_environment; edits here are overwritten.\n"
            "A=\"x\\\"y\"\n"
            "B=\"\\$HOME\"\n"
            "C=\"\"\n");
}

TEST(SecretEnvironment, FileIsBounded) {
  std::map<std::string, std::string> big;
  for (int i = 0; i < 5; ++i) big["V" + std::to_string(i)] = std::string(kMaxEnvValue, '$');  // doubled by escaping
  auto text = render_environment_file(with_secrets(big));
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().code, "secret_environment_too_large");
}

}  // namespace
}  // namespace siax::core
