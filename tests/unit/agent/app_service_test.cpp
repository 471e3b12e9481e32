#include "agent/app_service.h"

#include <gtest/gtest.h>

#include "core/unit_renderer.h"
#include "fakes/fake_host.h"
#include "fakes/fake_registry.h"
#include "fakes/fake_systemd.h"
#include "fakes/fake_unit_store.h"

namespace siax::agent {
namespace {

class AppServiceTest : public ::testing::Test {
 protected:
  fakes::FakeSystemd systemd;
  fakes::FakeUnitStore store;
  fakes::FakeHost host = fakes::FakeHost::typical();
  fakes::FakeRegistry registry;
  units::AppUnits units{systemd, store, host, units::PreflightSettings{}};
  std::int64_t clock = 1000;
  AppService service{registry, store, [this]() -> units::AppUnits& { return units; }, [this] { return clock; }};

  static core::AppDefinition app(const std::string& name = "api") {
    core::AppDefinition d;
    d.name = name;
    d.script_path = "/srv/app/server.js";
    d.user = "app";
    d.working_directory = "/srv/app";
    return d;
  }
  static std::string unit(const std::string& name = "api") { return core::unit_name_for(name); }
};

TEST_F(AppServiceTest, RegisterInstallsRecordsEnablesAndStarts) {
  auto out = service.register_app(app(), {.enable = true, .start = true});
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_FALSE(out->start_error);
  EXPECT_TRUE(store.files.contains(unit()));
  ASSERT_TRUE(registry.apps.contains("api"));
  EXPECT_TRUE(registry.apps["api"].enabled);
  EXPECT_EQ(registry.apps["api"].created_at_usec, 1000);
  ASSERT_TRUE(out->app.status);
  EXPECT_EQ(out->app.status->phase(), core::UnitPhase::Active);
}

TEST_F(AppServiceTest, ARegistrationStartedAtOnceDoesNotReadTheNewUnitBeforeItsStart) {
  auto out = service.register_app(app(), {.start = true});
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_FALSE(out->start_error);
  // No status read, reset-failed or reload before the start (each would load the unit).
  EXPECT_EQ(systemd.calls, (std::vector<std::string>{"list-states", "start " + unit(), "status " + unit()}));
}

TEST_F(AppServiceTest, ARegistrationNotStartedHasTheNewUnitLoaded) {
  systemd.loads_from_disk = [&](const std::string& u) { return store.files.contains(u); };
  ASSERT_TRUE(service.register_app(app(), {}));
  EXPECT_EQ(systemd.calls, (std::vector<std::string>{"list-states", "status " + unit(), "status " + unit()}));
}

TEST_F(AppServiceTest, ARegistrationWhoseEnableFailedStillHasItsUnitChecked) {
  systemd.failures["enable"] = Error{ErrorKind::PermissionDenied, "permission_denied", "no", {}};
  auto out = service.register_app(app(), {.enable = true, .start = true});
  ASSERT_TRUE(out);
  ASSERT_TRUE(out->start_error);
  // The fake does not load from disk: the check reloads.
  EXPECT_EQ(systemd.calls, (std::vector<std::string>{"list-states", "enable " + unit(), "status " + unit(),
                                                     "daemon-reload", "status " + unit()}));
}

TEST_F(AppServiceTest, RegisterTwiceIsAConflict) {
  ASSERT_TRUE(service.register_app(app(), {}));
  auto again = service.register_app(app(), {});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::Conflict);
  EXPECT_EQ(again.error().code, "app_exists");
}

TEST_F(AppServiceTest, InvalidRegistrationLeavesNothing) {
  auto d = app();
  d.user = "ghost";
  auto out = service.register_app(d, {.start = true});
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, "user_not_found");
  EXPECT_TRUE(store.files.empty());
  EXPECT_TRUE(registry.apps.empty());
  EXPECT_TRUE(systemd.calls.empty());
}

TEST_F(AppServiceTest, RegistryFailureRemovesTheNewUnit) {
  registry.fail_puts = Error{ErrorKind::Internal, "registry_error", "disk full", {}};
  ASSERT_FALSE(service.register_app(app(), {}));
  EXPECT_TRUE(store.files.empty());
}

TEST_F(AppServiceTest, UnknownUnitNeedsAdopt) {
  store.files[unit()] = "[Service]\nExecStart=/bin/true\n";
  auto out = service.register_app(app(), {});
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, "unit_exists");
  EXPECT_EQ(store.files[unit()], "[Service]\nExecStart=/bin/true\n");
  ASSERT_TRUE(service.register_app(app(), {.adopt = true}));
  EXPECT_TRUE(store.files[unit()].starts_with(core::kManagedMarker));
}

TEST_F(AppServiceTest, FailedStartKeepsTheRegistrationAndSaysWhy) {
  systemd.failures["start"] = Error{ErrorKind::OperationFailed, "start_failed", "exited with status 1", {}};
  auto out = service.register_app(app(), {.start = true});
  ASSERT_TRUE(out);
  ASSERT_TRUE(out->start_error);
  EXPECT_EQ(out->start_error->code, "start_failed");
  EXPECT_TRUE(registry.apps.contains("api"));
}

TEST_F(AppServiceTest, UpdateRestartsARunningAppOnlyWhenTheUnitChanged) {
  ASSERT_TRUE(service.register_app(app(), {.start = true}));
  systemd.calls.clear();
  ASSERT_TRUE(service.update_app(app()));  // same definition
  EXPECT_EQ(std::count(systemd.calls.begin(), systemd.calls.end(), "restart " + unit()), 0);
  auto d = app();
  d.environment["X"] = "1";
  clock = 2000;
  auto out = service.update_app(d);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(std::count(systemd.calls.begin(), systemd.calls.end(), "restart " + unit()), 1);
  EXPECT_EQ(registry.apps["api"].definition.environment.at("X"), "1");
  EXPECT_EQ(registry.apps["api"].updated_at_usec, 2000);
}

TEST_F(AppServiceTest, UpdateOfAStoppedAppDoesNotStartIt) {
  ASSERT_TRUE(service.register_app(app(), {}));
  auto d = app();
  d.environment["X"] = "1";
  ASSERT_TRUE(service.update_app(d));
  EXPECT_EQ(std::count(systemd.calls.begin(), systemd.calls.end(), "restart " + unit()), 0);
  EXPECT_EQ(std::count(systemd.calls.begin(), systemd.calls.end(), "start " + unit()), 0);
}

TEST_F(AppServiceTest, UpdateOfAnUnknownAppIsNotFound) {
  auto out = service.update_app(app("ghost"));
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().kind, ErrorKind::NotFound);
}

TEST_F(AppServiceTest, UnregisterLeavesNothingAndThenIsNotFound) {
  ASSERT_TRUE(service.register_app(app(), {.enable = true, .start = true}));
  ASSERT_TRUE(service.unregister("api"));
  EXPECT_TRUE(store.files.empty());
  EXPECT_TRUE(registry.apps.empty());
  auto again = service.unregister("api");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::NotFound);
}

TEST_F(AppServiceTest, UnregisterRefusesUnitsItDoesNotManage) {
  store.files[unit()] = "[Service]\n";
  auto s = service.unregister("api");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, ErrorKind::Conflict);
  EXPECT_TRUE(store.files.contains(unit()));
}

TEST_F(AppServiceTest, RunDrivesTheUnitAndRecordsEnablement) {
  ASSERT_TRUE(service.register_app(app(), {}));
  ASSERT_TRUE(service.run("api", Verb::Start));
  ASSERT_TRUE(service.run("api", Verb::Enable));
  EXPECT_TRUE(registry.apps["api"].enabled);
  ASSERT_TRUE(service.run("api", Verb::Disable));
  EXPECT_FALSE(registry.apps["api"].enabled);
  auto s = service.run("ghost", Verb::Start);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, ErrorKind::NotFound);
}

TEST_F(AppServiceTest, RecoveryRepairsMissingAndStaleUnitsWithoutTouchingTheApps) {
  ASSERT_TRUE(service.register_app(app("a"), {.start = true}));
  ASSERT_TRUE(service.register_app(app("b"), {.start = true}));
  store.files.erase(unit("a"));  // deleted
  auto older = app("b");
  older.environment["OLD"] = "1";
  store.files[unit("b")] = *units.render(older);  // written by an older definition
  systemd.calls.clear();
  auto findings = service.recover();
  ASSERT_EQ(findings.size(), 2u);
  EXPECT_EQ(findings[0].kind, "unit_missing_repaired");
  EXPECT_EQ(findings[1].kind, "unit_stale_repaired");
  EXPECT_EQ(store.files[unit("a")], *units.render(app("a")));
  EXPECT_EQ(store.files[unit("b")], *units.render(app("b")));
  for (const auto& c : systemd.calls) {
    EXPECT_FALSE(c.starts_with("start") || c.starts_with("stop") || c.starts_with("restart")) << c;
  }
}

TEST_F(AppServiceTest, RecoveryReportsEditedForeignAndUnknownUnits) {
  ASSERT_TRUE(service.register_app(app("a"), {}));
  ASSERT_TRUE(service.register_app(app("b"), {}));
  auto edited = store.files[unit("a")];
  edited.replace(edited.find("User=app"), 8, "User=www");
  store.files[unit("a")] = edited;
  store.files[unit("b")] = "[Service]\nExecStart=/bin/true\n";
  store.files[unit("stray")] = "[Service]\n";
  auto findings = service.recover();
  ASSERT_EQ(findings.size(), 3u);
  EXPECT_EQ(findings[0].kind, "unit_edited");
  EXPECT_EQ(findings[1].kind, "unit_foreign");
  EXPECT_EQ(findings[2].kind, "unknown_unit");
  EXPECT_EQ(findings[2].app, "stray");
  EXPECT_EQ(store.files[unit("a")], edited);  // left as it is
}

TEST_F(AppServiceTest, RecoveryWithNothingToDoIsQuiet) {
  ASSERT_TRUE(service.register_app(app(), {}));
  EXPECT_TRUE(service.recover().empty());
}

TEST_F(AppServiceTest, ListWithACacheAsksSystemdOnceWhenNothingMoved) {
  ASSERT_TRUE(service.register_app(app("api"), {.start = true}));
  ASSERT_TRUE(service.register_app(app("web"), {}));  // installed, never started: not loaded
  systemd.units.erase(unit("web"));
  std::map<std::string, core::UnitStatus> cache;
  cache["api"] = systemd.units[unit("api")];
  cache["api"].memory_current_bytes = 4242;  // proves the cached copy is the one shown
  cache["web"].unit = unit("web");
  cache["web"].load_state = "loaded";
  cache["web"].active_state = "inactive";
  cache["web"].sub_state = "dead";
  systemd.calls.clear();
  auto views = service.list([&cache](const std::string& a) -> std::optional<core::UnitStatus> {
    auto it = cache.find(a);
    if (it == cache.end()) return std::nullopt;
    return it->second;
  });
  ASSERT_TRUE(views) << views.error().message;
  ASSERT_EQ(views->size(), 2u);
  EXPECT_EQ(systemd.calls, std::vector<std::string>{"list-states"});
  EXPECT_EQ((*views)[0].status->memory_current_bytes, 4242u);
  EXPECT_EQ((*views)[1].status->active_state, "inactive");
}

TEST_F(AppServiceTest, ListWithACacheAsksAfreshForAppsThatMoved) {
  ASSERT_TRUE(service.register_app(app("api"), {.start = true}));
  ASSERT_TRUE(service.register_app(app("web"), {.start = true}));
  std::map<std::string, core::UnitStatus> cache{{"api", systemd.units[unit("api")]},
                                                {"web", systemd.units[unit("web")]}};
  ASSERT_TRUE(units.stop("web"));  // the monitor has not seen this yet
  systemd.calls.clear();
  auto views = service.list([&cache](const std::string& a) -> std::optional<core::UnitStatus> { return cache.at(a); });
  ASSERT_TRUE(views);
  EXPECT_EQ(systemd.calls, (std::vector<std::string>{"list-states", "status " + unit("web")}));
  EXPECT_EQ((*views)[1].status->phase(), core::UnitPhase::Inactive);
}

TEST_F(AppServiceTest, ListWithACacheFallsBackWhenTheListFails) {
  ASSERT_TRUE(service.register_app(app("api"), {.start = true}));
  systemd.failures["list-states"] = Error{ErrorKind::Unavailable, "systemd_unavailable", "no bus", {}};
  systemd.calls.clear();
  auto views = service.list([](const std::string&) -> std::optional<core::UnitStatus> { return std::nullopt; });
  ASSERT_TRUE(views);
  EXPECT_EQ(systemd.calls, (std::vector<std::string>{"list-states", "status " + unit("api")}));
  ASSERT_TRUE((*views)[0].status);
}

}  // namespace
}  // namespace siax::agent
