#pragma once
/// The systemd layer as the rest of the agent sees it: an app definition in, a
/// systemd unit out, and the lifecycle of that unit.
///
/// Works over the ports only (SystemdManager, UnitFileStore, Host). Thread: one
/// instance per thread (it uses a SystemdManager, which is not thread-safe);
/// operations on one app must be serialized by the caller.
///
/// Nothing is left half-done: a failed install restores the previous unit file;
/// a permission error is reported before anything is changed where it can be
/// known in advance.
#include <map>
#include <string>

#include "common/result.h"
#include "core/app_definition.h"
#include "core/unit_status.h"
#include "ports/host.h"
#include "ports/secret_file_store.h"
#include "ports/systemd_manager.h"
#include "ports/unit_helper.h"
#include "ports/unit_file_store.h"
#include "units/preflight.h"

namespace siax::units {

struct InstallOutcome {
  std::string unit;       ///< siax-app-<name>.service
  std::string path;       ///< where the unit file is
  std::string content;    ///< what was rendered
  bool changed = false;   ///< false when the file already had this content
};

/// What the agent is allowed to do on this host (the panel's yellow banner).
struct Permissions {
  bool systemd_reachable = false;
  bool read_status = false;
  bool manage_units = false;
  bool write_unit_files = false;
  bool read_journal = false;
  std::string unit_directory;
  /// One line per missing right: what is missing and how to grant it.
  std::vector<std::string> missing;
};

/// True when `loaded` (systemd's list of loaded units) has `unit` loaded from a file: a
/// not-found entry (a unit referenced before its file existed) or no entry at all means
/// systemd will read the file from disk on the next reference, without a daemon-reload.
[[nodiscard]] bool systemd_has_loaded(const std::vector<ports::UnitListEntry>& loaded, const std::string& unit);

class AppUnits {
 public:
  /// `secrets` holds the apps' secret environment files; without one, a definition with a
  /// secret_environment is refused ("secret_environment_unsupported").
  AppUnits(ports::SystemdManager& systemd, ports::UnitFileStore& store, const ports::Host& host,
           PreflightSettings settings, ports::SecretFileStore* secrets = nullptr);

  /// Validates (syntax and host checks), renders, writes the unit atomically and
  /// reloads systemd (not for a unit systemd has never loaded: then it is loaded from the
  /// new file at once and checked, with a reload only when systemd did not pick it up). Does not start or enable. The secret environment file: written
  /// first when `def.secret_values` has values, removed after the unit when it is an
  /// empty map, left as it is when nullopt; put back as it was when the unit cannot be
  /// written or reloaded. `changed` is also true when only the secret file changed.
  [[nodiscard]] Result<InstallOutcome> install(const core::AppDefinition& def);
  /// Renders without touching anything (for previews and drift checks). Never contains a
  /// secret value (only the EnvironmentFile= path).
  [[nodiscard]] Result<std::string> render(const core::AppDefinition& def) const;
  /// The checks of install() (syntax and host), then render(): the unit that install()
  /// would write, without writing anything (the panel's preview).
  [[nodiscard]] Result<std::string> check_and_render(const core::AppDefinition& def) const;

  [[nodiscard]] Status start(const std::string& app);
  [[nodiscard]] Status stop(const std::string& app);
  [[nodiscard]] Status restart(const std::string& app);
  [[nodiscard]] Status enable(const std::string& app);
  [[nodiscard]] Status disable(const std::string& app);
  [[nodiscard]] Status daemon_reload();
  /// Stops and disables the unit, removes its file and its secret environment file,
  /// reloads systemd and forgets a failed state. Safe to repeat; succeeds when the app is already gone.
  [[nodiscard]] Status remove(const std::string& app);

  [[nodiscard]] Result<core::UnitStatus> status(const std::string& app);
  /// The states of every loaded siax-app-* unit, by app name, in one call to systemd.
  [[nodiscard]] Result<std::map<std::string, ports::UnitListEntry>> loaded_states();
  /// Apps whose siax-app-*.service unit file exists or is loaded.
  [[nodiscard]] Result<std::vector<std::string>> list_installed();

  [[nodiscard]] Permissions permissions();

  /// Writes unit files through the root unit helper (user mode): install, remove, enable and
  /// disable go to `helper` (after the same checks here, so that errors come early and
  /// clear); start, stop, restart and status stay with the SystemdManager. The secret store
  /// then only names the file (EnvironmentFile=): the helper writes it. nullptr: none.
  void use_helper(ports::UnitHelper* helper) noexcept { helper_ = helper; }

 private:
  [[nodiscard]] Result<std::string> unit_of(const std::string& app) const;
  [[nodiscard]] Status require_unit_file(const std::string& app, const std::string& unit) const;
  /// After a unit file was written: a daemon-reload, or, for a unit new to systemd, a load
  /// of it (status) with a reload only if it did not load.
  [[nodiscard]] Status reload_after_write(const std::string& unit, bool new_to_systemd);

  ports::SystemdManager& systemd_;
  ports::UnitFileStore& store_;
  const ports::Host& host_;
  PreflightSettings settings_;
  ports::SecretFileStore* secrets_;
  ports::UnitHelper* helper_ = nullptr;
};

}  // namespace siax::units
