#include "units/app_units.h"

#include <gtest/gtest.h>

#include "fakes/fake_host.h"
#include "fakes/fake_secret_store.h"
#include "fakes/fake_systemd.h"
#include "fakes/fake_unit_store.h"

namespace siax::units {
namespace {

class AppUnitsTest : public ::testing::Test {
 protected:
  fakes::FakeSystemd systemd;
  fakes::FakeUnitStore store;
  fakes::FakeHost host = fakes::FakeHost::typical();
  AppUnits units{systemd, store, host, PreflightSettings{}};

  static core::AppDefinition app() {
    core::AppDefinition d;
    d.name = "api";
    d.script_path = "/srv/app/server.js";
    d.user = "app";
    d.working_directory = "/srv/app";
    return d;
  }
};

TEST_F(AppUnitsTest, InstallWritesTheUnitAndReloads) {
  auto out = units.install(app());
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_TRUE(out->changed);
  EXPECT_EQ(out->unit, "siax-app-api.service");
  EXPECT_EQ(out->path, "/etc/systemd/system/siax-app-api.service");
  ASSERT_TRUE(store.files.contains("siax-app-api.service"));
  // The fake does not load units from disk: the check finds it not loaded, so a reload.
  EXPECT_EQ(systemd.calls,
            (std::vector<std::string>{"list-states", "status siax-app-api.service", "daemon-reload"}));
}

TEST_F(AppUnitsTest, ANewUnitSystemdLoadsFromDiskNeedsNoReload) {
  systemd.loads_from_disk = [&](const std::string& u) { return store.files.contains(u); };
  auto out = units.install(app());
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(systemd.calls, (std::vector<std::string>{"list-states", "status siax-app-api.service"}));
  EXPECT_EQ(systemd.units["siax-app-api.service"].load_state, "loaded");
}

TEST_F(AppUnitsTest, AnUpdateIsAlwaysReloaded) {
  systemd.loads_from_disk = [&](const std::string& u) { return store.files.contains(u); };
  ASSERT_TRUE(units.install(app()));
  systemd.calls.clear();
  auto d = app();
  d.environment["X"] = "1";
  ASSERT_TRUE(units.install(d));
  EXPECT_EQ(systemd.calls, (std::vector<std::string>{"daemon-reload"}));
}

TEST_F(AppUnitsTest, AUnitSystemdStillHasLoadedIsReloadedEvenWithoutAFile) {
  // Its file was removed by hand without a reload: systemd keeps the old definition.
  systemd.loads_from_disk = [&](const std::string& u) { return store.files.contains(u); };
  systemd.units["siax-app-api.service"].load_state = "loaded";
  ASSERT_TRUE(units.install(app()));
  EXPECT_EQ(systemd.calls, (std::vector<std::string>{"list-states", "daemon-reload"}));
}

TEST_F(AppUnitsTest, AnUnreadableListOfLoadedUnitsMeansAReload) {
  systemd.loads_from_disk = [&](const std::string& u) { return store.files.contains(u); };
  systemd.failures["list-states"] = Error{ErrorKind::Unavailable, "dbus_error", "gone", {}};
  ASSERT_TRUE(units.install(app()));
  EXPECT_EQ(systemd.calls, (std::vector<std::string>{"list-states", "daemon-reload"}));
}

TEST_F(AppUnitsTest, ANewUnitStartedNextIsNotReadBeforeItsStart) {
  // Each read of a unit nothing holds loads and unloads it in systemd: the start loads it.
  auto out = units.install(app(), LoadCheck::AtStart);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_TRUE(out->load_pending);
  EXPECT_EQ(systemd.calls, (std::vector<std::string>{"list-states"}));
  ASSERT_TRUE(units.start_new("api"));
  EXPECT_EQ(systemd.calls, (std::vector<std::string>{"list-states", "start siax-app-api.service"}));
}

TEST_F(AppUnitsTest, AnUpdateStartedNextIsStillReloaded) {
  ASSERT_TRUE(units.install(app()));
  systemd.calls.clear();
  auto d = app();
  d.environment["X"] = "1";
  auto out = units.install(d, LoadCheck::AtStart);
  ASSERT_TRUE(out);
  EXPECT_FALSE(out->load_pending);
  EXPECT_EQ(systemd.calls, (std::vector<std::string>{"daemon-reload"}));
}

TEST_F(AppUnitsTest, AUnitSystemdDoesNotFindIsStartedAgainAfterOneReload) {
  ASSERT_TRUE(units.install(app(), LoadCheck::AtStart));
  systemd.calls.clear();
  systemd.failures["start"] = Error{ErrorKind::NotFound, "unit_not_found", "Unit siax-app-api.service not found.", {}};
  systemd.failures_left["start"] = 1;
  ASSERT_TRUE(units.start_new("api"));
  EXPECT_EQ(systemd.calls, (std::vector<std::string>{"start siax-app-api.service", "daemon-reload",
                                                     "start siax-app-api.service"}));
  EXPECT_EQ(systemd.units["siax-app-api.service"].active_state, "active");
}

TEST_F(AppUnitsTest, AStartStillNotFoundAfterTheReloadIsReportedWithOneReloadOnly) {
  ASSERT_TRUE(units.install(app()));
  systemd.calls.clear();
  systemd.failures["start"] = Error{ErrorKind::NotFound, "unit_not_found", "Unit siax-app-api.service not found.", {}};
  auto s = units.start("api");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "unit_not_found");
  EXPECT_EQ(systemd.calls, (std::vector<std::string>{"reset-failed siax-app-api.service", "start siax-app-api.service",
                                                     "daemon-reload", "start siax-app-api.service"}));
}

TEST_F(AppUnitsTest, OtherStartFailuresAreNotRetried) {
  ASSERT_TRUE(units.install(app()));
  systemd.calls.clear();
  systemd.failures["start"] = Error{ErrorKind::OperationFailed, "start_failed", "exit 1", {}};
  ASSERT_FALSE(units.start_new("api"));
  EXPECT_EQ(systemd.calls, (std::vector<std::string>{"start siax-app-api.service"}));
}

TEST_F(AppUnitsTest, ConfirmLoadIsTheCheckInstallWouldHaveMade) {
  systemd.loads_from_disk = [&](const std::string& u) { return store.files.contains(u); };
  ASSERT_TRUE(units.install(app(), LoadCheck::AtStart));
  systemd.calls.clear();
  ASSERT_TRUE(units.confirm_load("api"));
  EXPECT_EQ(systemd.calls, (std::vector<std::string>{"status siax-app-api.service"}));
}

TEST(SystemdHasLoaded, OnlyALoadedEntryOfThatUnitCounts) {
  const std::string u = "siax-app-a.service";
  EXPECT_FALSE(systemd_has_loaded({}, u));
  EXPECT_FALSE(systemd_has_loaded({{u, "not-found", "inactive", "dead"}}, u));
  EXPECT_FALSE(systemd_has_loaded({{"siax-app-b.service", "loaded", "active", "running"}}, u));
  EXPECT_TRUE(systemd_has_loaded({{u, "loaded", "inactive", "dead"}}, u));
  EXPECT_TRUE(systemd_has_loaded({{u, "error", "inactive", "dead"}}, u));
}

TEST_F(AppUnitsTest, InstallingTheSameDefinitionTwiceChangesNothing) {
  ASSERT_TRUE(units.install(app()));
  auto again = units.install(app());
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->changed);
  EXPECT_EQ(store.writes, 1);
  EXPECT_EQ(systemd.calls.size(), 3u);  // list-states, status, daemon-reload: the first install only
}

TEST_F(AppUnitsTest, InvalidDefinitionTouchesNothing) {
  auto d = app();
  d.script_path = "/srv/app/missing.js";
  auto out = units.install(d);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().kind, ErrorKind::InvalidInput);
  EXPECT_TRUE(store.files.empty());
  EXPECT_TRUE(systemd.calls.empty());
}

TEST_F(AppUnitsTest, ReadOnlyUnitDirectoryIsAPermissionErrorBeforeAnyChange) {
  store.is_writable = false;
  auto out = units.install(app());
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().kind, ErrorKind::PermissionDenied);
  ASSERT_NE(out.error().detail("missing_right"), nullptr);
  EXPECT_EQ(*out.error().detail("missing_right"), "write_unit_files");
  EXPECT_TRUE(systemd.calls.empty());
}

TEST_F(AppUnitsTest, RefusedReloadRestoresThePreviousFile) {
  ASSERT_TRUE(units.install(app()));
  const auto before = store.files["siax-app-api.service"];
  systemd.failures["daemon-reload"] = Error{ErrorKind::PermissionDenied, "permission_denied", "no", {}};
  auto d = app();
  d.environment["X"] = "1";
  auto out = units.install(d);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().kind, ErrorKind::PermissionDenied);
  EXPECT_EQ(store.files["siax-app-api.service"], before);
}

TEST_F(AppUnitsTest, RefusedReloadOfANewAppLeavesNoFile) {
  systemd.failures["daemon-reload"] = Error{ErrorKind::PermissionDenied, "permission_denied", "no", {}};
  ASSERT_FALSE(units.install(app()));
  EXPECT_TRUE(store.files.empty());
}

TEST_F(AppUnitsTest, LifecycleOfAnUnknownAppIsNotFound) {
  for (auto op : {&AppUnits::start, &AppUnits::stop, &AppUnits::restart, &AppUnits::enable, &AppUnits::disable}) {
    auto s = (units.*op)("ghost");
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().kind, ErrorKind::NotFound);
    EXPECT_EQ(s.error().code, "app_not_found");
  }
  EXPECT_TRUE(systemd.calls.empty());
}

TEST_F(AppUnitsTest, InvalidNamesNeverReachSystemd) {
  auto s = units.start("../../etc/passwd");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, ErrorKind::InvalidInput);
  EXPECT_TRUE(systemd.calls.empty());
}

TEST_F(AppUnitsTest, LifecycleDrivesTheUnit) {
  ASSERT_TRUE(units.install(app()));
  ASSERT_TRUE(units.start("api"));
  auto st = units.status("api");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->phase(), core::UnitPhase::Active);
  const auto pid = st->main_pid;
  ASSERT_TRUE(units.restart("api"));
  EXPECT_NE(units.status("api")->main_pid, pid);
  ASSERT_TRUE(units.stop("api"));
  EXPECT_EQ(units.status("api")->phase(), core::UnitPhase::Inactive);
}

TEST_F(AppUnitsTest, RemoveDisablesStopsDeletesReloadsAndResets) {
  ASSERT_TRUE(units.install(app()));
  ASSERT_TRUE(units.enable("api"));
  ASSERT_TRUE(units.start("api"));
  systemd.calls.clear();
  ASSERT_TRUE(units.remove("api"));
  EXPECT_TRUE(store.files.empty());
  EXPECT_EQ(systemd.calls,
            (std::vector<std::string>{"status siax-app-api.service", "disable siax-app-api.service",
                                      "stop siax-app-api.service", "daemon-reload",
                                      "reset-failed siax-app-api.service"}));
}

TEST_F(AppUnitsTest, RemoveIsSafeToRepeat) {
  ASSERT_TRUE(units.install(app()));
  ASSERT_TRUE(units.remove("api"));
  ASSERT_TRUE(units.remove("api"));
  EXPECT_TRUE(store.files.empty());
}

TEST_F(AppUnitsTest, RemoveRefusedDisableChangesNothing) {
  ASSERT_TRUE(units.install(app()));
  ASSERT_TRUE(units.start("api"));
  systemd.failures["disable"] = Error{ErrorKind::PermissionDenied, "permission_denied", "no", {}};
  auto s = units.remove("api");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, ErrorKind::PermissionDenied);
  EXPECT_TRUE(store.files.contains("siax-app-api.service"));
  EXPECT_EQ(units.status("api")->phase(), core::UnitPhase::Active);
}

TEST_F(AppUnitsTest, RemoveWithFailedStopReEnables) {
  ASSERT_TRUE(units.install(app()));
  ASSERT_TRUE(units.enable("api"));
  systemd.failures["stop"] = Error{ErrorKind::Timeout, "job_timeout", "slow", {}};
  ASSERT_FALSE(units.remove("api"));
  EXPECT_EQ(systemd.units["siax-app-api.service"].unit_file_state, "enabled");
  EXPECT_TRUE(store.files.contains("siax-app-api.service"));
}

TEST_F(AppUnitsTest, PermissionsListWhatIsMissing) {
  store.is_writable = false;
  host.journal = false;
  systemd.capabilities.manage_units = false;
  systemd.capabilities.manage_units_reason = "polkit says no";
  auto p = units.permissions();
  EXPECT_TRUE(p.systemd_reachable);
  EXPECT_FALSE(p.manage_units);
  EXPECT_FALSE(p.write_unit_files);
  EXPECT_FALSE(p.read_journal);
  EXPECT_EQ(p.missing.size(), 3u);
  EXPECT_EQ(p.unit_directory, "/etc/systemd/system");
}

TEST_F(AppUnitsTest, ListInstalledMergesFilesAndLoadedUnits) {
  store.files["siax-app-a.service"] = "x";
  systemd.units["siax-app-b.service"] = {};
  systemd.units["siax-app-a.service"] = {};
  auto apps = units.list_installed();
  ASSERT_TRUE(apps);
  EXPECT_EQ(*apps, (std::vector<std::string>{"a", "b"}));
}

class AppUnitsSecretsTest : public AppUnitsTest {
 protected:
  fakes::FakeSecretStore secrets;
  AppUnits with_store{systemd, store, host, PreflightSettings{}, &secrets};

  static core::AppDefinition secret_app(std::map<std::string, std::string> values) {
    auto d = app();
    for (const auto& [k, v] : values) d.secret_names.push_back(k);
    d.secret_values = std::move(values);
    return d;
  }
};

TEST_F(AppUnitsSecretsTest, InstallWritesTheSecretFileAndTheUnitNamesIt) {
  auto out = with_store.install(secret_app({{"TOKEN", "t0p-s3cret"}}));
  ASSERT_TRUE(out) << out.error().message;
  ASSERT_TRUE(secrets.files.contains("api"));
  EXPECT_NE(secrets.files["api"].find("TOKEN=\"t0p-s3cret\"\n"), std::string::npos);
  const auto& unit = store.files["siax-app-api.service"];
  EXPECT_NE(unit.find("EnvironmentFile=/etc/siax-agent/secrets/api.env\n"), std::string::npos);
  EXPECT_EQ(unit.find("t0p-s3cret"), std::string::npos);
  EXPECT_EQ(out->content.find("t0p-s3cret"), std::string::npos);
}

TEST_F(AppUnitsSecretsTest, ANewValueAloneIsAChange) {
  ASSERT_TRUE(with_store.install(secret_app({{"TOKEN", "one"}})));
  auto again = with_store.install(secret_app({{"TOKEN", "one"}}));
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->changed);
  auto other = with_store.install(secret_app({{"TOKEN", "two"}}));
  ASSERT_TRUE(other);
  EXPECT_TRUE(other->changed);  // the unit is the same, the app must restart for the new value
  EXPECT_NE(secrets.files["api"].find("\"two\""), std::string::npos);
}

TEST_F(AppUnitsSecretsTest, NamesWithoutValuesKeepTheFileAnEmptyMapRemovesIt) {
  ASSERT_TRUE(with_store.install(secret_app({{"TOKEN", "one"}})));
  auto keep = secret_app({{"TOKEN", "one"}});
  keep.secret_values.reset();
  keep.description = "changed";
  auto kept = with_store.install(keep);
  ASSERT_TRUE(kept) << kept.error().message;
  EXPECT_NE(secrets.files["api"].find("\"one\""), std::string::npos);
  EXPECT_NE(store.files["siax-app-api.service"].find("EnvironmentFile="), std::string::npos);
  auto none = with_store.install(secret_app({}));
  ASSERT_TRUE(none);
  EXPECT_FALSE(secrets.files.contains("api"));
  EXPECT_EQ(store.files["siax-app-api.service"].find("EnvironmentFile="), std::string::npos);
}

TEST_F(AppUnitsSecretsTest, AFailedReloadPutsTheOldSecretsBack) {
  ASSERT_TRUE(with_store.install(secret_app({{"TOKEN", "old"}})));
  systemd.failures["daemon-reload"] = Error{ErrorKind::Internal, "dbus_error", "boom", {}};
  auto next = secret_app({{"TOKEN", "new"}, {"MORE", "x"}});
  next.description = "a unit that differs, so that systemd is reloaded";
  auto out = with_store.install(next);
  ASSERT_FALSE(out);
  EXPECT_NE(secrets.files["api"].find("\"old\""), std::string::npos);
  EXPECT_EQ(secrets.files["api"].find("new"), std::string::npos);
}

TEST_F(AppUnitsSecretsTest, RemoveDeletesTheSecretFile) {
  ASSERT_TRUE(with_store.install(secret_app({{"TOKEN", "one"}})));
  ASSERT_TRUE(with_store.remove("api"));
  EXPECT_FALSE(secrets.files.contains("api"));
}

TEST_F(AppUnitsSecretsTest, WithoutAStoreSecretsAreRefused) {
  auto out = units.install(secret_app({{"TOKEN", "one"}}));
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, "secret_environment_unsupported");
  EXPECT_TRUE(store.files.empty());
  EXPECT_TRUE(units.install(secret_app({})));  // no secrets: fine without a store
}

// ---- user mode: unit files through the root unit helper (a fake of its port) ----

struct FakeUnitHelper final : ports::UnitHelper {
  std::vector<std::string> calls;
  std::optional<Error> refuse;  ///< every call fails with this (the helper does not answer)
  core::AppDefinition last;
  Result<ports::HelperInstalled> install(const core::AppDefinition& def) override {
    calls.push_back("install " + def.name);
    last = def;
    if (refuse) return tl::unexpected(*refuse);
    return ports::HelperInstalled{"siax-app-" + def.name + ".service", "/etc/systemd/system/siax-app-" + def.name + ".service",
                                  "rendered by the helper", true};
  }
  Status remove(const std::string& app) override { return record("remove " + app); }
  Status enable(const std::string& app) override { return record("enable " + app); }
  Status disable(const std::string& app) override { return record("disable " + app); }
  Status ping() override { return record("ping"); }
  std::string where() const override { return "/run/siax-agent/helper.sock"; }
  Status record(std::string call) {
    calls.push_back(std::move(call));
    if (refuse) return tl::unexpected(*refuse);
    return ok();
  }
};

class AppUnitsHelperTest : public AppUnitsTest {
 protected:
  void SetUp() override {
    store.is_writable = false;  // the agent's user cannot write the unit directory
    with_helper.use_helper(&helper);
  }
  FakeUnitHelper helper;
  fakes::FakeSecretStore secrets;
  AppUnits with_helper{systemd, store, host, PreflightSettings{}, &secrets};
};

TEST_F(AppUnitsHelperTest, InstallSendsTheDefinitionNotUnitText) {
  auto d = app();
  d.secret_names = {"TOKEN"};
  d.secret_values = std::map<std::string, std::string>{{"TOKEN", "t0p"}};
  auto out = with_helper.install(d);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(helper.calls, std::vector<std::string>{"install api"});
  EXPECT_EQ(helper.last, d);
  EXPECT_EQ(out->content, "rendered by the helper");
  EXPECT_TRUE(store.files.empty()) << "the agent itself writes nothing";
  EXPECT_TRUE(secrets.files.empty()) << "the helper writes the secret file";
  EXPECT_TRUE(systemd.calls.empty()) << "the helper reloads systemd";
}

TEST_F(AppUnitsHelperTest, TheAgentsOwnChecksComeFirst) {
  auto d = app();
  d.script_path = "/srv/app/missing.js";
  EXPECT_FALSE(with_helper.install(d));
  d = app();
  d.user = "root";
  EXPECT_FALSE(with_helper.install(d));
  EXPECT_TRUE(helper.calls.empty());
}

TEST_F(AppUnitsHelperTest, EnableDisableRemoveGoToTheHelperStartStaysWithSystemd) {
  store.files["siax-app-api.service"] = "unit";
  ASSERT_TRUE(with_helper.enable("api"));
  ASSERT_TRUE(with_helper.disable("api"));
  ASSERT_TRUE(with_helper.remove("api"));
  ASSERT_TRUE(with_helper.start("api"));
  EXPECT_EQ(helper.calls, (std::vector<std::string>{"enable api", "disable api", "remove api"}));
  EXPECT_EQ(systemd.calls.back(), "start siax-app-api.service");
}

TEST_F(AppUnitsHelperTest, PermissionsAskTheHelper) {
  auto p = with_helper.permissions();
  EXPECT_TRUE(p.write_unit_files);
  for (const auto& m : p.missing) EXPECT_EQ(m.find("unit files"), std::string::npos) << m;
  helper.refuse = Error{ErrorKind::PermissionDenied, "permission_denied", "the unit helper at X does not answer", {}};
  p = with_helper.permissions();
  EXPECT_FALSE(p.write_unit_files);
  ASSERT_FALSE(p.missing.empty());
  EXPECT_NE(p.missing.back().find("unit helper"), std::string::npos);
}

TEST_F(AppUnitsHelperTest, AHelperThatDoesNotAnswerIsTheMissingRight) {
  helper.refuse = Error{ErrorKind::PermissionDenied, "permission_denied", "does not answer",
                        {{"missing_right", "write_unit_files"}}};
  auto out = with_helper.install(app());
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().kind, ErrorKind::PermissionDenied);
  ASSERT_NE(out.error().detail("missing_right"), nullptr);
  EXPECT_TRUE(store.files.empty());
}

}  // namespace
}  // namespace siax::units
