#pragma once
/// The agent's apps: the registry (desired definitions) kept in step with systemd.
///
/// Thread: every method blocks (SQLite, systemd jobs) and must run on a worker thread,
/// never on the HTTP io thread. Methods may run concurrently for different apps; the
/// caller (the HTTP layer) serializes operations on one app with an OpSerializer and
/// rate-limits them before dispatching here. Each worker thread gets its own AppUnits
/// (its own D-Bus connection) from the provider.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "core/app_definition.h"
#include "core/unit_status.h"
#include "ports/unit_file_store.h"
#include "registry/registry.h"
#include "units/app_units.h"

namespace siax::agent {

enum class Verb { Start, Stop, Restart, Enable, Disable };
[[nodiscard]] const char* to_string(Verb verb) noexcept;
[[nodiscard]] std::optional<Verb> verb_from_string(std::string_view text) noexcept;

struct AppView {
  registry::AppRecord record;
  std::optional<core::UnitStatus> status;  ///< absent when systemd could not be asked
  std::string status_error;                ///< why status is absent
};

struct RegisterOptions {
  bool enable = false;
  bool start = false;
  bool adopt = false;  ///< take over an existing siax-app-<name>.service unknown to the registry
};

struct RegisterOutcome {
  AppView app;
  std::string unit_path;
  std::optional<Error> start_error;  ///< registered, but the requested start failed
};

/// One finding of a recovery pass (see docs/API.md, "Recovery").
struct RecoveryFinding {
  std::string app;
  std::string kind;    ///< "unit_missing_repaired", "unit_stale_repaired", "unit_edited", "unit_foreign", "unknown_unit", "repair_failed"
  std::string detail;  ///< one line for people
};

class AppService {
 public:
  using UnitsProvider = std::function<units::AppUnits&()>;
  using NowUsec = std::function<std::int64_t()>;

  AppService(registry::Registry& registry, const ports::UnitFileStore& store, UnitsProvider units, NowUsec now);

  /// Validates, installs the unit, records the app; then enables/starts as asked.
  /// Conflict when the app exists (or an unknown unit of that name exists and adopt is off).
  /// Without `secret_values` the app has no secrets. The registry keeps the secret names only.
  [[nodiscard]] Result<RegisterOutcome> register_app(const core::AppDefinition& def, const RegisterOptions& options);
  /// Replaces the definition, re-renders the unit, restarts the app if it was running.
  /// `secret_values` nullopt keeps the current secrets; an empty map removes them.
  [[nodiscard]] Result<AppView> update_app(const core::AppDefinition& def);
  /// Stops, disables, removes the unit and forgets the app. NotFound when there is nothing to remove.
  [[nodiscard]] Status unregister(const std::string& name);
  /// A lifecycle operation on a registered app (NotFound otherwise).
  [[nodiscard]] Status run(const std::string& name, Verb verb);

  [[nodiscard]] Result<AppView> get(const std::string& name);
  [[nodiscard]] Result<std::vector<AppView>> list();
  /// A recent full status of an app's unit (the monitor's last one), or nullopt.
  using StatusCache = std::function<std::optional<core::UnitStatus>(const std::string& app)>;
  /// Like list(), with one call to systemd for all the units' states instead of one per
  /// unit: an app whose cached status has the same load/active/sub states as systemd's
  /// list now (or, unloaded by systemd, was inactive) is shown with the cached status;
  /// any other is asked for afresh. Falls back to list() when the one call fails.
  [[nodiscard]] Result<std::vector<AppView>> list(const StatusCache& cached);
  /// The unit register_app would write for `def` (same checks), writing nothing.
  [[nodiscard]] Result<std::string> preview(const core::AppDefinition& def);
  /// The unit file as it is on disk and as the agent would render it now.
  [[nodiscard]] Result<std::pair<std::optional<std::string>, std::string>> unit_files(const std::string& name);

  /// Compares the registry with the unit directory and systemd. Rewrites unit files the
  /// agent wrote that are missing or stale (then daemon-reload); reports edited and
  /// foreign files and unknown siax-app-* units. Never starts, stops or restarts an app.
  /// `list_unknown`: also ask systemd for every siax-app-* unit and unit file, to report
  /// those not in the registry (ListUnitFilesByPatterns costs systemd 0.3-0.5 s with the
  /// host's unit files: the periodic pass leaves it out; start-up and POST do it).
  [[nodiscard]] std::vector<RecoveryFinding> recover(bool list_unknown = true);

 private:
  [[nodiscard]] Result<registry::AppRecord> require(const std::string& name);
  [[nodiscard]] AppView view(registry::AppRecord record);

  registry::Registry& registry_;
  const ports::UnitFileStore& store_;
  UnitsProvider units_;
  NowUsec now_;
};

}  // namespace siax::agent
