#pragma once
/// The desired definition of one managed app, as the agent stores it and renders it
/// into a systemd unit. Pure value types; no I/O.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/health_check.h"

namespace siax::core {

/// How the app is started.
enum class Runtime {
  NodeScript,    ///< `node <script_path> [args]`
  NpmStart,      ///< `npm start` in the working directory (package.json there)
  PythonScript,  ///< `python3 <script_path> [args]`
  Uvicorn,       ///< `python3 -m uvicorn <module> --host <host> --port <port>` (FastAPI/ASGI)
  Custom,        ///< `<script_path> [args]`, an executable of the user's
};

[[nodiscard]] const char* to_string(Runtime runtime) noexcept;
[[nodiscard]] std::optional<Runtime> runtime_from_string(std::string_view text) noexcept;

/// systemd's Restart= values.
enum class RestartPolicy { No, Always, OnFailure, OnAbnormal, OnAbort, OnSuccess };

[[nodiscard]] const char* to_string(RestartPolicy policy) noexcept;
[[nodiscard]] std::optional<RestartPolicy> restart_policy_from_string(std::string_view text) noexcept;

struct AppDefinition {
  std::string name;  ///< see validate_app_name(): ^[a-z0-9][a-z0-9_-]{0,47}$ (after lower-casing by callers)
  Runtime runtime = Runtime::NodeScript;
  std::string script_path;  ///< absolute; the script (Node/Python) or the executable (Custom); unused by NpmStart/Uvicorn
  std::string module;       ///< Uvicorn only: "package.module:app"
  std::string host = "127.0.0.1";  ///< Uvicorn only: the address to bind
  std::uint16_t port = 0;          ///< Uvicorn: required; others: informative (health checks, PORT is not set for you)
  std::vector<std::string> args;   ///< extra arguments after the script / module
  std::string user;                ///< the Unix user the app runs as
  std::string working_directory;   ///< absolute
  std::map<std::string, std::string> environment;
  /// Names of the app's secret environment variables (docs/SECURITY.md, "Secret environment"):
  /// their values live only in a 0600 root file the unit reads with EnvironmentFile=.
  /// The registry and the API keep the names; the values are never stored or returned.
  std::vector<std::string> secret_names;  ///< sorted, unique
  /// The secret values, only while a register/update carries them to the secret file store:
  /// nullopt = keep the current file (an update without `secret_environment`), an empty
  /// map = no secrets (the file is removed). Never serialized (appdef::definition_to_json
  /// writes the names with "***"); the registry drops it.
  std::optional<std::map<std::string, std::string>> secret_values;
  RestartPolicy restart_policy = RestartPolicy::Always;
  std::uint32_t restart_sec = 2;
  std::optional<std::uint64_t> memory_max_bytes;  ///< MemoryMax=
  std::optional<std::uint32_t> cpu_quota_percent; ///< CPUQuota= (100 = one core)
  std::string description;
  std::optional<HealthCheck> health_check;  ///< HTTP check (monitor); not part of the unit file

  friend bool operator==(const AppDefinition&, const AppDefinition&) = default;
};

/// Absolute paths of the interpreters a unit needs, resolved on the host by the caller.
struct Interpreters {
  std::string node = "/usr/bin/node";
  std::string npm = "/usr/bin/npm";
  std::string python = "/usr/bin/python3";
};

/// "siax-app-<name>.service"
[[nodiscard]] std::string unit_name_for(const std::string& app_name);
/// The app name of a "siax-app-<name>.service" unit, or nullopt for any other unit.
[[nodiscard]] std::optional<std::string> app_name_from_unit(std::string_view unit_name);

inline constexpr std::string_view kUnitPrefix = "siax-app-";
inline constexpr std::string_view kUnitSuffix = ".service";

}  // namespace siax::core
