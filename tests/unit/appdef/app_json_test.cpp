#include "appdef/app_json.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace siax::appdef {
namespace {

using nlohmann::json;

TEST(DefinitionFromJson, AcceptsThePreviousAgentsBody) {
  auto body = json::parse(R"({
    "app_name": "orders", "script_path": "/srv/orders/index.js", "working_directory": "/srv/orders",
    "user": "app", "environment": {"PORT": "3000", "DEBUG": 1}, "restart_policy": "always",
    "app_type": "nodejs", "description": "Orders"})");
  auto def = definition_from_json(body);
  ASSERT_TRUE(def) << def.error().message;
  EXPECT_EQ(def->name, "orders");
  EXPECT_EQ(def->runtime, core::Runtime::NodeScript);
  EXPECT_EQ(def->environment.at("PORT"), "3000");
  EXPECT_EQ(def->environment.at("DEBUG"), "1");
  EXPECT_EQ(def->restart_policy, core::RestartPolicy::Always);
}

TEST(DefinitionFromJson, RuntimesFromAppTypeAndFlags) {
  auto base = json{{"app_name", "a"}, {"user", "app"}, {"working_directory", "/srv/a"}};
  auto with = [&](json extra) {
    auto b = base;
    b.update(extra);
    return definition_from_json(b);
  };
  EXPECT_EQ(with({{"app_type", "python"}, {"script_path", "/srv/a/x.py"}})->runtime, core::Runtime::PythonScript);
  EXPECT_EQ(with({{"app_type", "python"}, {"module", "main:app"}, {"port", 8000}})->runtime, core::Runtime::Uvicorn);
  EXPECT_EQ(with({{"app_type", "fastapi"}, {"module", "main:app"}, {"port", 8000}})->runtime, core::Runtime::Uvicorn);
  EXPECT_EQ(with({{"use_npm_start", true}})->runtime, core::Runtime::NpmStart);
  auto custom = with({{"custom_executable", "/srv/a/bin/run"}});
  EXPECT_EQ(custom->runtime, core::Runtime::Custom);
  EXPECT_EQ(custom->script_path, "/srv/a/bin/run");
  EXPECT_EQ(with({{"runtime", "npm"}})->runtime, core::Runtime::NpmStart);
  EXPECT_FALSE(with({{"runtime", "java"}}));
}

TEST(DefinitionFromJson, RefusesWrongTypesAndUnknownFields) {
  auto base = json{{"app_name", "a"}, {"user", "app"}, {"working_directory", "/srv/a"}};
  for (auto extra : {json{{"port", "80"}}, json{{"port", 70000}}, json{{"environment", "X=1"}},
                     json{{"environment", {{"X", json::array()}}}}, json{{"args", "a b"}},
                     json{{"restart_policy", "sometimes"}}, json{{"scirpt_path", "/x"}}, json{{"memory_max", "lots"}},
                     json{{"cpu_quota", 0}}, json{{"user", 5}}}) {
    auto b = base;
    b.update(extra);
    auto def = definition_from_json(b);
    EXPECT_FALSE(def) << extra.dump();
    if (!def) {
      EXPECT_EQ(def.error().kind, ErrorKind::InvalidInput);
    }
  }
  EXPECT_FALSE(definition_from_json(json::array()));
  EXPECT_FALSE(definition_from_json(json{{"user", "app"}}));  // no name
}

TEST(DefinitionFromJson, SizesAndLimits) {
  auto b = json{{"app_name", "a"}, {"user", "app"}, {"working_directory", "/srv/a"}, {"memory_max", "512M"},
                {"cpu_quota", 50}, {"restart_sec", 7}, {"args", {"--x", "1"}}};
  auto def = definition_from_json(b);
  ASSERT_TRUE(def) << def.error().message;
  EXPECT_EQ(def->memory_max_bytes, 512ULL << 20);
  EXPECT_EQ(def->cpu_quota_percent, 50u);
  EXPECT_EQ(def->restart_sec, 7u);
  EXPECT_EQ(def->args.size(), 2u);
}

TEST(ParseSize, Suffixes) {
  EXPECT_EQ(*parse_size("1024"), 1024u);
  EXPECT_EQ(*parse_size("1K"), 1024u);
  EXPECT_EQ(*parse_size("2G"), 2ULL << 30);
  EXPECT_FALSE(parse_size("1T"));
  EXPECT_FALSE(parse_size(""));
  EXPECT_FALSE(parse_size("99999999999999999999G"));
}

TEST(DefinitionJson, RoundTrips) {
  core::AppDefinition d;
  d.name = "api";
  d.runtime = core::Runtime::Uvicorn;
  d.module = "main:app";
  d.port = 8000;
  d.user = "app";
  d.working_directory = "/srv/api";
  d.environment = {{"A", "1"}};
  d.memory_max_bytes = 1 << 30;
  auto back = definition_from_json(definition_to_json(d));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, d);
}

TEST(DefinitionJson, SecretEnvironmentIsParsedAndNeverReturned) {
  json body = {{"app_name", "api"},          {"script_path", "/srv/app/server.js"},
               {"working_directory", "/srv/app"}, {"user", "app"},
               {"secret_environment", {{"ZED", "last-secret"}, {"API_KEY", "sk-live-123"}, {"N", 42}}}};
  auto def = definition_from_json(body);
  ASSERT_TRUE(def) << def.error().message;
  EXPECT_EQ(def->secret_names, (std::vector<std::string>{"API_KEY", "N", "ZED"}));
  ASSERT_TRUE(def->secret_values);
  EXPECT_EQ(def->secret_values->at("API_KEY"), "sk-live-123");
  EXPECT_EQ(def->secret_values->at("N"), "42");
  const auto out = definition_to_json(*def);
  const std::string text = out.dump();
  EXPECT_EQ(text.find("sk-live-123"), std::string::npos) << text;
  EXPECT_EQ(text.find("last-secret"), std::string::npos) << text;
  EXPECT_EQ(out["secret_environment"], (json{{"API_KEY", "***"}, {"N", "***"}, {"ZED", "***"}}));
  // Read back (as the registry does): the names, and "***" values the registry drops.
  auto back = definition_from_json(out);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->secret_names, def->secret_names);
}

TEST(DefinitionJson, NoSecretEnvironmentMeansKeepAndEmptyMeansNone) {
  json body = {{"app_name", "api"}, {"script_path", "/srv/app/server.js"}, {"working_directory", "/srv/app"},
               {"user", "app"}};
  auto absent = definition_from_json(body);
  ASSERT_TRUE(absent);
  EXPECT_FALSE(absent->secret_values);
  EXPECT_FALSE(definition_to_json(*absent).contains("secret_environment"));
  body["secret_environment"] = json::object();
  auto empty = definition_from_json(body);
  ASSERT_TRUE(empty);
  ASSERT_TRUE(empty->secret_values);
  EXPECT_TRUE(empty->secret_values->empty());
}

TEST(DefinitionJson, SecretEnvironmentMustBeAnObjectOfScalars) {
  json body = {{"app_name", "api"}, {"script_path", "/srv/app/server.js"}, {"working_directory", "/srv/app"},
               {"user", "app"}, {"secret_environment", json::array({"A=b"})}};
  auto def = definition_from_json(body);
  ASSERT_FALSE(def);
  EXPECT_EQ(def.error().code, "invalid_secret_environment");
  body["secret_environment"] = {{"A", {{"nested", "x"}}}};
  EXPECT_FALSE(definition_from_json(body));
}

}  // namespace
}  // namespace siax::appdef
