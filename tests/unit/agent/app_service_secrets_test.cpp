#include <gtest/gtest.h>

#include "agent/app_service.h"
#include "appdef/app_json.h"
#include "fakes/fake_host.h"
#include "fakes/fake_registry.h"
#include "fakes/fake_secret_store.h"
#include "fakes/fake_systemd.h"
#include "fakes/fake_unit_store.h"

#include <nlohmann/json.hpp>

namespace siax::agent {
namespace {

class AppServiceSecretsTest : public ::testing::Test {
 protected:
  fakes::FakeSystemd systemd;
  fakes::FakeUnitStore store;
  fakes::FakeSecretStore secrets;
  fakes::FakeHost host = fakes::FakeHost::typical();
  fakes::FakeRegistry registry;
  units::AppUnits units{systemd, store, host, units::PreflightSettings{}, &secrets};
  AppService service{registry, store, [this]() -> units::AppUnits& { return units; }, [] { return 1000; }};

  static core::AppDefinition app(std::optional<std::map<std::string, std::string>> values) {
    core::AppDefinition d;
    d.name = "api";
    d.script_path = "/srv/app/server.js";
    d.user = "app";
    d.working_directory = "/srv/app";
    if (values) {
      for (const auto& [k, v] : *values) d.secret_names.push_back(k);
    }
    d.secret_values = std::move(values);
    return d;
  }
};

TEST_F(AppServiceSecretsTest, TheRegistryAndTheViewHoldNamesOnly) {
  auto out = service.register_app(app(std::map<std::string, std::string>{{"TOKEN", "v4lue"}}), {});
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_FALSE(registry.apps["api"].definition.secret_values);
  EXPECT_EQ(registry.apps["api"].definition.secret_names, std::vector<std::string>{"TOKEN"});
  EXPECT_FALSE(out->app.record.definition.secret_values);
  EXPECT_EQ(appdef::definition_to_json(out->app.record.definition).dump().find("v4lue"), std::string::npos);
  EXPECT_TRUE(secrets.files.contains("api"));
}

TEST_F(AppServiceSecretsTest, AnUpdateWithoutSecretsKeepsThemAnEmptyOneRemovesThem) {
  ASSERT_TRUE(service.register_app(app(std::map<std::string, std::string>{{"TOKEN", "v4lue"}}), {}));
  auto keep = app(std::nullopt);
  keep.description = "new text";
  auto kept = service.update_app(keep);
  ASSERT_TRUE(kept) << kept.error().message;
  EXPECT_EQ(registry.apps["api"].definition.secret_names, std::vector<std::string>{"TOKEN"});
  EXPECT_NE(secrets.files["api"].find("v4lue"), std::string::npos);
  EXPECT_NE(store.files[core::unit_name_for("api")].find("EnvironmentFile="), std::string::npos);

  auto removed = service.update_app(app(std::map<std::string, std::string>{}));
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_TRUE(registry.apps["api"].definition.secret_names.empty());
  EXPECT_FALSE(secrets.files.contains("api"));
  EXPECT_EQ(store.files[core::unit_name_for("api")].find("EnvironmentFile="), std::string::npos);
}

TEST_F(AppServiceSecretsTest, AKeptSecretNameCannotAlsoBeAPlainVariable) {
  ASSERT_TRUE(service.register_app(app(std::map<std::string, std::string>{{"TOKEN", "v4lue"}}), {}));
  auto clash = app(std::nullopt);
  clash.environment = {{"TOKEN", "plain"}};
  auto out = service.update_app(clash);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, "invalid_secret_environment");
  EXPECT_NE(secrets.files["api"].find("v4lue"), std::string::npos);
}

TEST_F(AppServiceSecretsTest, UnregisterRemovesTheSecretFile) {
  ASSERT_TRUE(service.register_app(app(std::map<std::string, std::string>{{"TOKEN", "v4lue"}}), {}));
  ASSERT_TRUE(service.unregister("api"));
  EXPECT_FALSE(secrets.files.contains("api"));
}

TEST_F(AppServiceSecretsTest, RegisterWithoutSecretsRemovesALeftOverFile) {
  secrets.files["api"] = "TOKEN=\"stale\"\n";
  ASSERT_TRUE(service.register_app(app(std::nullopt), {}));
  EXPECT_FALSE(secrets.files.contains("api"));
}

}  // namespace
}  // namespace siax::agent
