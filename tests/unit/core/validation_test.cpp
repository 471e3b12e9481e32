#include "core/validation.h"

#include <gtest/gtest.h>

namespace siax::core {
namespace {

AppDefinition node_app() {
  AppDefinition d;
  d.name = "api";
  d.runtime = Runtime::NodeScript;
  d.script_path = "/srv/app/server.js";
  d.user = "app";
  d.working_directory = "/srv/app";
  return d;
}

TEST(ValidateAppName, AcceptsDocumentedPattern) {
  const std::string longest(64, 'x');
  for (std::string_view n : {std::string_view("a"), std::string_view("api"), std::string_view("my-app_2"),
                             std::string_view("A1"), std::string_view(longest)}) {
    EXPECT_TRUE(validate_app_name(n)) << n;
  }
}

TEST(ValidateAppName, RejectsPathCharactersAndOddStarts) {
  for (const char* n : {"", "../etc", "a/b", "a b", "-x", "_x", "a.b", "a\nb", "a%b", "a$b", "a\"b", "ä"}) {
    auto s = validate_app_name(n);
    ASSERT_FALSE(s) << n;
    EXPECT_EQ(s.error().kind, ErrorKind::InvalidInput);
    EXPECT_EQ(s.error().code, "invalid_app_name");
  }
  EXPECT_FALSE(validate_app_name(std::string(65, 'x')));
}

TEST(ValidateAppName, MessageSaysHowToFix) {
  auto s = validate_app_name("a/b");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("'/'"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("a-z"), std::string::npos);
}

TEST(ValidateAppName, NeverEchoesControlCharacters) {
  auto s = validate_app_name("x\ny");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message.find('\n'), std::string::npos);
  EXPECT_NE(s.error().message.find("\\x0a"), std::string::npos);
}

TEST(ValidateUserName, AcceptsUnixNames) {
  for (const char* n : {"app", "_svc", "www-data", "node1", "machine$"}) EXPECT_TRUE(validate_user_name(n)) << n;
  for (const char* n : {"", "Root", "1abc", "a b", "a:b", "$", "a\n"}) EXPECT_FALSE(validate_user_name(n)) << n;
  EXPECT_FALSE(validate_user_name(std::string(33, 'a')));
}

TEST(ValidateEnvName, FollowsShellRules) {
  for (const char* n : {"PORT", "_X", "node_env", "A1"}) EXPECT_TRUE(validate_env_name(n)) << n;
  for (const char* n : {"", "1A", "A-B", "A=B", "A B", "A\n"}) EXPECT_FALSE(validate_env_name(n)) << n;
}

TEST(ValidatePath, RequiresAbsoluteNormalizedSafePaths) {
  EXPECT_TRUE(validate_absolute_path("p", "/srv/app/server.js"));
  EXPECT_TRUE(validate_absolute_path("p", "/srv/my app/100%/x.js"));  // spaces and % are escaped, not refused
  EXPECT_TRUE(validate_absolute_path("p", "/"));
  for (const char* p : {"", "srv/app", "./x", "/srv/../etc", "/srv/./x", "/srv//x", "/srv/x\n", "/a\\b",
                        "/srv/x ", "/srv/\x7f"}) {
    EXPECT_FALSE(validate_absolute_path("p", p)) << p;
  }
}

TEST(ValidateAsgiModule, NeedsModuleColonAttribute) {
  for (const char* m : {"main:app", "pkg.api:app", "a.b.c:factory.app"}) EXPECT_TRUE(validate_asgi_module(m)) << m;
  for (const char* m : {"", "main", ":app", "main:", "1x:app", "a-b:app", "main:app;rm", "../x:app"}) {
    EXPECT_FALSE(validate_asgi_module(m)) << m;
  }
}

TEST(ValidateDefinition, AcceptsAValidNodeApp) { EXPECT_TRUE(validate_definition(node_app())); }

TEST(ValidateDefinition, RejectsNewlinesEverywhereTheyCouldReachTheUnit) {
  auto d = node_app();
  d.environment["X"] = "a\nExecStartPre=/bin/rm -rf /";
  EXPECT_FALSE(validate_definition(d));
  d = node_app();
  d.description = "x\n[Service]";
  EXPECT_FALSE(validate_definition(d));
  d = node_app();
  d.args = {"ok", "bad\r"};
  EXPECT_FALSE(validate_definition(d));
  d = node_app();
  d.script_path = "/srv/app/x.js\nUser=root";
  EXPECT_FALSE(validate_definition(d));
}

TEST(ValidateDefinition, RuntimeSpecificFields) {
  auto d = node_app();
  d.runtime = Runtime::Uvicorn;
  d.module = "main:app";
  d.port = 0;
  auto s = validate_definition(d);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "invalid_port");
  d.port = 8000;
  EXPECT_TRUE(validate_definition(d));
  d.host = "0.0.0.0; rm";
  EXPECT_FALSE(validate_definition(d));

  d = node_app();
  d.runtime = Runtime::NpmStart;
  d.script_path.clear();
  EXPECT_TRUE(validate_definition(d));
  d.runtime = Runtime::PythonScript;
  EXPECT_FALSE(validate_definition(d));  // needs a script
}

TEST(ValidateDefinition, Limits) {
  auto d = node_app();
  d.memory_max_bytes = 1000;
  EXPECT_FALSE(validate_definition(d));
  d.memory_max_bytes = 512ULL << 20;
  EXPECT_TRUE(validate_definition(d));
  d.cpu_quota_percent = 0;
  EXPECT_FALSE(validate_definition(d));
  d.cpu_quota_percent = 150;
  EXPECT_TRUE(validate_definition(d));
  d.restart_sec = 100000;
  EXPECT_FALSE(validate_definition(d));
  d = node_app();
  for (int i = 0; i < 200; ++i) d.environment["V" + std::to_string(i)] = "x";
  EXPECT_FALSE(validate_definition(d));
}

}  // namespace
}  // namespace siax::core
