#include "units/preflight.h"

#include <algorithm>

#include <fmt/format.h>

namespace siax::units {
namespace {

auto invalid(std::string code, std::string message) {
  return fail(ErrorKind::InvalidInput, std::move(code), std::move(message));
}

std::string parent_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

/// The user can search every directory from / down to `dir` (inclusive).
Status check_searchable(const ports::Host& host, const ports::UserInfo& user, const std::string& dir,
                        std::string_view field) {
  std::string prefix;
  std::vector<std::string> dirs = {"/"};
  for (std::size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos == dir.size() || dir[pos] == '/') dirs.push_back(dir.substr(0, pos));
  }
  for (const auto& d : dirs) {
    auto info = host.stat(d);
    if (info.kind == ports::FileKind::Directory && !permits(info, user, kExec)) {
      return invalid("path_not_accessible",
                     fmt::format("{}: user '{}' cannot enter directory {} (mode {:o}, owner uid {}): give it search "
                                 "permission (chmod o+x {}) or pick another user",
                                 field, user.name, d, info.mode, info.uid, d));
    }
  }
  return ok();
}

Status check_file(const ports::Host& host, const ports::UserInfo& user, const std::string& path, std::string_view field,
                  unsigned want) {
  auto info = host.stat(path);
  if (info.kind == ports::FileKind::Missing) {
    return invalid("file_not_found", fmt::format("{} {} does not exist: check the path", field, path));
  }
  if (info.kind != ports::FileKind::Regular) {
    return invalid("not_a_file", fmt::format("{} {} is not a regular file", field, path));
  }
  if (auto s = check_searchable(host, user, parent_of(path), field); !s) return s;
  if (!permits(info, user, want)) {
    const char* what = want == (kRead | kExec) ? "read and execute" : want == kExec ? "execute" : "read";
    return invalid("file_not_accessible",
                   fmt::format("{} {}: user '{}' cannot {} it (mode {:o}, owner uid {}): fix its permissions "
                               "(chmod/chown) or pick another user",
                               field, path, user.name, what, info.mode, info.uid));
  }
  return ok();
}

/// "pkg.sub:app" -> candidate files under the working directory.
std::vector<std::string> module_files(const std::string& wd, const std::string& module) {
  std::string mod = module.substr(0, module.find(':'));
  std::replace(mod.begin(), mod.end(), '.', '/');
  std::string base = wd == "/" ? "/" + mod : wd + "/" + mod;
  return {base + ".py", base + "/__init__.py"};
}

}  // namespace

bool permits(const ports::FileInfo& info, const ports::UserInfo& user, unsigned want) noexcept {
  if (user.uid == 0) {
    if ((want & kExec) == 0 || info.kind == ports::FileKind::Directory) return true;
    return (info.mode & 0111) != 0;
  }
  unsigned bits = 0;
  if (info.uid == user.uid) {
    bits = (info.mode >> 6) & 7;
  } else if (std::find(user.groups.begin(), user.groups.end(), info.gid) != user.groups.end()) {
    bits = (info.mode >> 3) & 7;
  } else {
    bits = info.mode & 7;
  }
  return (bits & want) == want;
}

Status preflight(const core::AppDefinition& def, const ports::Host& host, const PreflightSettings& settings) {
  auto user = host.find_user(def.user);
  if (!user) {
    return invalid("user_not_found",
                   fmt::format("user '{}' does not exist on this host: create it (useradd --system {}) or pick an "
                               "existing user",
                               def.user, def.user));
  }
  if (user->uid == 0 && !settings.allow_root) {
    return invalid("root_not_allowed",
                   fmt::format("apps may not run as root (user '{}' has uid 0): pick an unprivileged user, or set "
                               "allow_root_apps = true in the agent's configuration",
                               def.user));
  }
  auto wd = host.stat(def.working_directory);
  if (wd.kind == ports::FileKind::Missing) {
    return invalid("directory_not_found",
                   fmt::format("working_directory {} does not exist: create it or fix the path", def.working_directory));
  }
  if (wd.kind != ports::FileKind::Directory) {
    return invalid("not_a_directory", fmt::format("working_directory {} is not a directory", def.working_directory));
  }
  if (auto s = check_searchable(host, *user, def.working_directory, "working_directory"); !s) return s;

  const auto& in = settings.interpreters;
  switch (def.runtime) {
    case core::Runtime::NodeScript:
      if (auto s = check_file(host, *user, def.script_path, "script_path", kRead); !s) return s;
      if (auto s = check_file(host, *user, in.node, "the Node.js interpreter", kExec); !s) return s;
      break;
    case core::Runtime::NpmStart:
      if (auto s = check_file(host, *user, def.working_directory + "/package.json", "package.json", kRead); !s) return s;
      if (auto s = check_file(host, *user, in.npm, "npm", kExec); !s) return s;
      if (auto s = check_file(host, *user, in.node, "the Node.js interpreter", kExec); !s) return s;
      break;
    case core::Runtime::PythonScript:
      if (auto s = check_file(host, *user, def.script_path, "script_path", kRead); !s) return s;
      if (auto s = check_file(host, *user, in.python, "the Python interpreter", kExec); !s) return s;
      break;
    case core::Runtime::Uvicorn: {
      auto candidates = module_files(def.working_directory, def.module);
      auto found = std::find_if(candidates.begin(), candidates.end(), [&](const std::string& f) {
        return host.stat(f).kind == ports::FileKind::Regular;
      });
      if (found == candidates.end()) {
        return invalid("module_not_found",
                       fmt::format("module '{}' not found: expected {} or {} (the module is looked up in the "
                                   "working directory)",
                                   def.module, candidates[0], candidates[1]));
      }
      if (auto s = check_file(host, *user, *found, "module", kRead); !s) return s;
      if (auto s = check_file(host, *user, in.python, "the Python interpreter", kExec); !s) return s;
      break;
    }
    case core::Runtime::Custom:
      if (auto s = check_file(host, *user, def.script_path, "script_path", kExec); !s) return s;
      break;
  }
  return ok();
}

}  // namespace siax::units
