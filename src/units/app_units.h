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
#include <optional>
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
  /// A unit new to systemd, written with LoadCheck::AtStart and not loaded yet: the
  /// caller starts it with start_new() (or, if it does not start it, calls confirm_load()).
  bool load_pending = false;
};

/// When install() has systemd load a unit it has never loaded (no daemon-reload needed).
enum class LoadCheck {
  Now,      ///< at once: a status read loads it; a daemon-reload if systemd did not see the file
  AtStart,  ///< the caller starts it next (start_new): the start loads it, no read before it.
            ///< Each read of a unit nothing holds loads and unloads it again in systemd
            ///< (~16 loads per status read): with 200 units that was most of systemd's work
            ///< per registration (docs/PERFORMANCE.md).
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
  /// new file as `check` says, with a reload only when systemd did not pick it up). Does
  /// not start or enable. The secret environment file: written
  /// first when `def.secret_values` has values, removed after the unit when it is an
  /// empty map, left as it is when nullopt; put back as it was when the unit cannot be
  /// written or reloaded. `changed` is also true when only the secret file changed.
  [[nodiscard]] Result<InstallOutcome> install(const core::AppDefinition& def, LoadCheck check = LoadCheck::Now);
  /// Renders without touching anything (for previews and drift checks). Never contains a
  /// secret value (only the EnvironmentFile= path).
  [[nodiscard]] Result<std::string> render(const core::AppDefinition& def) const;
  /// The checks of install() (syntax and host), then render(): the unit that install()
  /// would write, without writing anything (the panel's preview).
  [[nodiscard]] Result<std::string> check_and_render(const core::AppDefinition& def) const;

  /// Forgets a failed state, then starts. A unit systemd reports not found although its
  /// file exists (written in the same clock tick as systemd's last look at the directory,
  /// or by hand) is started again after one daemon-reload.
  [[nodiscard]] Status start(const std::string& app);
  /// start() for a unit install() just wrote with load_pending: no reset-failed first
  /// (systemd has no state for it to forget; asking would load and unload it).
  [[nodiscard]] Status start_new(const std::string& app);
  /// For a load_pending unit that is not started: the LoadCheck::Now check, afterwards.
  [[nodiscard]] Status confirm_load(const std::string& app);
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
  /// The secret environment file's change in one install().
  struct SecretChange {
    bool given = false;                   ///< def.secret_values was set
    std::optional<std::string> text;      ///< the file to write (values given)
    std::optional<std::string> previous;  ///< the file before, when text was written
    bool changed = false;                 ///< the file was (re)written
  };
  /// install() once the checks passed: writes the secret file and the unit, then loads
  /// or reloads as `check` says; puts both back as they were on failure.
  [[nodiscard]] Result<InstallOutcome> write_unit(const core::AppDefinition& def, InstallOutcome out,
                                                  SecretChange& env, LoadCheck check);
  /// systemd's start; on "no such unit", one daemon-reload and a second start.
  [[nodiscard]] Status start_loading(const std::string& unit);

  ports::SystemdManager& systemd_;
  ports::UnitFileStore& store_;
  const ports::Host& host_;
  PreflightSettings settings_;
  ports::SecretFileStore* secrets_;
  ports::UnitHelper* helper_ = nullptr;
};

}  // namespace siax::units
