#include "units/preflight.h"

#include <gtest/gtest.h>

#include "fakes/fake_host.h"

namespace siax::units {
namespace {

using core::AppDefinition;
using core::Runtime;

AppDefinition app(Runtime rt = Runtime::NodeScript) {
  AppDefinition d;
  d.name = "api";
  d.runtime = rt;
  d.script_path = "/srv/app/server.js";
  d.user = "app";
  d.working_directory = "/srv/app";
  return d;
}

std::string code_of(const Status& s) { return s ? "ok" : s.error().code; }

TEST(Preflight, PassesOnATypicalHost) {
  auto host = fakes::FakeHost::typical();
  EXPECT_EQ(code_of(preflight(app(), host, {})), "ok");
}

TEST(Preflight, UserMustExist) {
  auto host = fakes::FakeHost::typical();
  auto d = app();
  d.user = "ghost";
  auto s = preflight(d, host, {});
  EXPECT_EQ(code_of(s), "user_not_found");
  EXPECT_NE(s.error().message.find("useradd"), std::string::npos);
}

TEST(Preflight, RootOnlyWhenAllowed) {
  auto host = fakes::FakeHost::typical();
  auto d = app();
  d.user = "root";
  EXPECT_EQ(code_of(preflight(d, host, {})), "root_not_allowed");
  PreflightSettings allow;
  allow.allow_root = true;
  EXPECT_EQ(code_of(preflight(d, host, allow)), "ok");
}

TEST(Preflight, WorkingDirectoryMustExistAndBeADirectory) {
  auto host = fakes::FakeHost::typical();
  auto d = app();
  d.working_directory = "/srv/none";
  EXPECT_EQ(code_of(preflight(d, host, {})), "directory_not_found");
  d.working_directory = "/srv/app/server.js";
  EXPECT_EQ(code_of(preflight(d, host, {})), "not_a_directory");
}

TEST(Preflight, ScriptMustExistBeRegularAndReadableByTheUser) {
  auto host = fakes::FakeHost::typical();
  auto d = app();
  d.script_path = "/srv/app/missing.js";
  EXPECT_EQ(code_of(preflight(d, host, {})), "file_not_found");
  d.script_path = "/srv/app/pkg";
  EXPECT_EQ(code_of(preflight(d, host, {})), "not_a_file");
  host.file("/srv/app/secret.js", 0600, 0);  // root's, not readable by app
  d.script_path = "/srv/app/secret.js";
  auto s = preflight(d, host, {});
  EXPECT_EQ(code_of(s), "file_not_accessible");
  EXPECT_NE(s.error().message.find("chmod"), std::string::npos);
  host.file("/srv/app/own.js", 0600, 1000);  // the app user's own file
  d.script_path = "/srv/app/own.js";
  EXPECT_EQ(code_of(preflight(d, host, {})), "ok");
}

TEST(Preflight, DirectoriesOnTheWayMustBeSearchable) {
  auto host = fakes::FakeHost::typical();
  host.dir("/srv", 0700, 0);
  EXPECT_EQ(code_of(preflight(app(), host, {})), "path_not_accessible");
}

TEST(Preflight, GroupPermissionsCount) {
  auto host = fakes::FakeHost::typical();
  host.files["/srv/app/server.js"] = {ports::FileKind::Regular, 0, 1000, 0640};
  EXPECT_EQ(code_of(preflight(app(), host, {})), "ok");
  host.files["/srv/app/server.js"] = {ports::FileKind::Regular, 0, 2000, 0640};
  EXPECT_EQ(code_of(preflight(app(), host, {})), "file_not_accessible");
}

TEST(Preflight, InterpreterMustExist) {
  auto host = fakes::FakeHost::typical();
  host.files.erase("/usr/bin/node");
  EXPECT_EQ(code_of(preflight(app(), host, {})), "file_not_found");
  host.file("/usr/bin/node", 0644);  // not executable
  EXPECT_EQ(code_of(preflight(app(), host, {})), "file_not_accessible");
}

TEST(Preflight, UvicornModuleIsLookedUpInTheWorkingDirectory) {
  auto host = fakes::FakeHost::typical();
  auto d = app(Runtime::Uvicorn);
  d.port = 8000;
  d.module = "main:app";
  EXPECT_EQ(code_of(preflight(d, host, {})), "ok");
  d.module = "pkg.api:app";
  EXPECT_EQ(code_of(preflight(d, host, {})), "ok");
  d.module = "nothere:app";
  auto s = preflight(d, host, {});
  EXPECT_EQ(code_of(s), "module_not_found");
  EXPECT_NE(s.error().message.find("/srv/app/nothere.py"), std::string::npos);
}

TEST(Preflight, NpmNeedsPackageJson) {
  auto host = fakes::FakeHost::typical();
  auto d = app(Runtime::NpmStart);
  EXPECT_EQ(code_of(preflight(d, host, {})), "ok");
  host.files.erase("/srv/app/package.json");
  EXPECT_EQ(code_of(preflight(d, host, {})), "file_not_found");
}

TEST(Preflight, CustomExecutableMustBeExecutable) {
  auto host = fakes::FakeHost::typical();
  auto d = app(Runtime::Custom);
  d.script_path = "/srv/app/run.sh";
  EXPECT_EQ(code_of(preflight(d, host, {})), "ok");
  d.script_path = "/srv/app/server.js";  // 0644
  EXPECT_EQ(code_of(preflight(d, host, {})), "file_not_accessible");
}

TEST(Permits, FollowsOwnerGroupOtherBits) {
  ports::UserInfo u{"app", 1000, 1000, {1000, 27}};
  ports::FileInfo f{ports::FileKind::Regular, 1000, 0, 0400};
  EXPECT_TRUE(permits(f, u, kRead));
  EXPECT_FALSE(permits(f, u, kExec));
  f = {ports::FileKind::Regular, 0, 27, 0050};
  EXPECT_TRUE(permits(f, u, kRead | kExec));
  f = {ports::FileKind::Regular, 0, 0, 0004};
  EXPECT_TRUE(permits(f, u, kRead));
  f = {ports::FileKind::Regular, 1000, 1000, 0074};  // owner bits win even when they deny
  EXPECT_FALSE(permits(f, u, kRead));
  ports::UserInfo root{"root", 0, 0, {0}};
  f = {ports::FileKind::Regular, 5, 5, 0600};
  EXPECT_TRUE(permits(f, root, kRead));
  EXPECT_FALSE(permits(f, root, kExec));
}

}  // namespace
}  // namespace siax::units
