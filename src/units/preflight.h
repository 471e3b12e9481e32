#pragma once
/// Checks before acting: what must hold on the host before an app's unit is written.
/// Logic over the Host port only (testable with a fake host).
#include "common/result.h"
#include "core/app_definition.h"
#include "ports/host.h"

namespace siax::units {

struct PreflightSettings {
  bool allow_root = false;  ///< whether apps may run as root (off by default)
  core::Interpreters interpreters;
};

/// Access wanted on a file, as in access(2).
enum Access : unsigned { kRead = 4, kWrite = 2, kExec = 1 };

/// Whether `user` has `want` on a file with `info`'s owner and mode (root reads and
/// writes anything, and executes what has any execute bit). Pure.
[[nodiscard]] bool permits(const ports::FileInfo& info, const ports::UserInfo& user, unsigned want) noexcept;

/// Every host check for `def`, the first failure reported (InvalidInput):
/// the user exists (and is not root unless allowed); the working directory exists
/// and the user can enter it; the script/module/package.json exists, is a regular
/// file and the user can read it (and execute it, for custom executables) through
/// directories it can search; the interpreter exists and is executable.
[[nodiscard]] Status preflight(const core::AppDefinition& def, const ports::Host& host,
                               const PreflightSettings& settings);

}  // namespace siax::units
