#include "units/app_units.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/unit_renderer.h"
#include "core/validation.h"

namespace siax::units {

AppUnits::AppUnits(ports::SystemdManager& systemd, ports::UnitFileStore& store, const ports::Host& host,
                   PreflightSettings settings, ports::SecretFileStore* secrets)
    : systemd_(systemd), store_(store), host_(host), settings_(std::move(settings)), secrets_(secrets) {}

Result<std::string> AppUnits::unit_of(const std::string& app) const {
  if (auto s = core::validate_app_name(app); !s) return tl::unexpected(s.error());
  return core::unit_name_for(app);
}

Status AppUnits::require_unit_file(const std::string& app, const std::string& unit) const {
  auto content = store_.read(unit);
  if (!content) return tl::unexpected(content.error());
  if (!*content) {
    return fail(ErrorKind::NotFound, "app_not_found",
                fmt::format("there is no app '{}' ({} does not exist): register it first", app, store_.path_of(unit)));
  }
  return ok();
}

Result<std::string> AppUnits::render(const core::AppDefinition& def) const {
  const std::string env_file = secrets_ != nullptr && core::validate_app_name(def.name) ? secrets_->path_of(def.name)
                                                                                        : std::string();
  return core::render_unit(def, settings_.interpreters, env_file);
}

Result<std::string> AppUnits::check_and_render(const core::AppDefinition& def) const {
  if (auto s = core::validate_definition(def); !s) return tl::unexpected(s.error());
  if (auto s = preflight(def, host_, settings_); !s) return tl::unexpected(s.error());
  return render(def);
}

Result<InstallOutcome> AppUnits::install(const core::AppDefinition& def, LoadCheck check) {
  if (auto s = core::validate_definition(def); !s) return tl::unexpected(s.error());
  if (auto s = preflight(def, host_, settings_); !s) return tl::unexpected(s.error());
  auto content = render(def);
  if (!content) return tl::unexpected(content.error());

  InstallOutcome out{core::unit_name_for(def.name), "", std::move(*content), false};
  out.path = store_.path_of(out.unit);
  if (helper_ != nullptr) {
    if ((!def.secret_names.empty() || (def.secret_values && !def.secret_values->empty())) && secrets_ == nullptr) {
      return fail(ErrorKind::InvalidInput, "secret_environment_unsupported",
                  "this agent has no store for secret environment files: leave secret_environment out");
    }
    auto done = helper_->install(def);
    if (!done) return tl::unexpected(done.error());
    return InstallOutcome{std::move(done->unit), std::move(done->path), std::move(done->content), done->changed};
  }
  if (!store_.writable()) {
    return fail(ErrorKind::PermissionDenied, "permission_denied",
                fmt::format("cannot write {}: the agent has no write access to the unit directory. Run it as root, "
                            "or use the unit helper described in docs/SECURITY.md",
                            out.path),
                {{"missing_right", "write_unit_files"}});
  }
  // The secret environment file: rendered (and so validated) before anything is written.
  SecretChange env;
  env.given = def.secret_values.has_value();
  if (env.given && !def.secret_values->empty()) {
    auto text = core::render_environment_file(def);
    if (!text) return tl::unexpected(text.error());
    env.text = std::move(*text);
  }
  if ((env.text || !def.secret_names.empty()) && secrets_ == nullptr) {
    return fail(ErrorKind::InvalidInput, "secret_environment_unsupported",
                "this agent has no store for secret environment files: leave secret_environment out");
  }
  return write_unit(def, std::move(out), env, check);
}

Result<InstallOutcome> AppUnits::write_unit(const core::AppDefinition& def, InstallOutcome out, SecretChange& env,
                                            LoadCheck check) {
  auto previous = store_.read(out.unit);
  if (!previous) return tl::unexpected(previous.error());
  if (env.text) {
    auto before = secrets_->read(def.name);
    if (!before) return tl::unexpected(before.error());
    env.previous = std::move(*before);
    env.changed = env.previous != env.text;
    if (env.changed) {
      if (auto s = secrets_->write(def.name, *env.text); !s) return tl::unexpected(s.error());
    }
  }
  // Puts the secret file back as it was (best effort: the caller sees the first error).
  auto restore_env = [&] {
    if (!env.changed) return;
    (void)(env.previous ? secrets_->write(def.name, *env.previous) : secrets_->remove(def.name));
  };
  // An empty secret_environment: the unit no longer names the file, so it goes after the unit.
  auto drop_env = [&]() -> Status {
    if (secrets_ != nullptr && env.given && def.secret_values->empty()) return secrets_->remove(def.name);
    return ok();
  };

  if (*previous && **previous == out.content) {
    out.changed = env.changed;
    if (auto s = drop_env(); !s) return tl::unexpected(s.error());
    return out;
  }

  // A unit systemd has never loaded needs no daemon-reload: systemd loads a unit it does
  // not know from disk when it is first referenced (its unit-path cache is refreshed when
  // a unit directory's mtime changes). A reload costs systemd 0.4-0.7 s with 200 units
  // (docs/PERFORMANCE.md). Asked before the write; an update, or a unit systemd still has
  // loaded (e.g. its file was removed without a reload), is reloaded as before.
  bool new_to_systemd = false;
  if (!*previous) {
    auto loaded = systemd_.list_unit_states(out.unit);
    new_to_systemd = loaded && !systemd_has_loaded(*loaded, out.unit);
  }
  if (auto s = store_.write(out.unit, out.content); !s) {
    restore_env();
    return tl::unexpected(s.error());
  }
  out.changed = true;
  if (new_to_systemd && check == LoadCheck::AtStart) {
    out.load_pending = true;  // the caller's start_new() loads it (and reloads if it must)
  } else if (auto s = reload_after_write(out.unit, new_to_systemd); !s) {
    // Put things back as they were: the old file, or none.
    auto restored = *previous ? store_.write(out.unit, **previous) : store_.remove(out.unit);
    (void)restored;  // the reload error is what the caller needs to see
    restore_env();
    return tl::unexpected(s.error());
  }
  if (auto s = drop_env(); !s) return tl::unexpected(s.error());
  return out;
}

bool systemd_has_loaded(const std::vector<ports::UnitListEntry>& loaded, const std::string& unit) {
  return std::any_of(loaded.begin(), loaded.end(),
                     [&](const ports::UnitListEntry& e) { return e.unit == unit && e.load_state != "not-found"; });
}

Status AppUnits::reload_after_write(const std::string& unit, bool new_to_systemd) {
  if (new_to_systemd) {
    // Make systemd load it now and check that it did. The directory's mtime has the
    // kernel's coarse clock: a write in the same tick as systemd's last look at the
    // directory is not seen, and then only a reload helps.
    auto st = systemd_.status(unit);
    if (st && st->load_state == "loaded") return ok();
  }
  return systemd_.daemon_reload();
}

Status AppUnits::start(const std::string& app) {
  auto unit = unit_of(app);
  if (!unit) return tl::unexpected(unit.error());
  if (auto s = require_unit_file(app, *unit); !s) return s;
  // A person asking for a start wants it tried even after a crash loop hit systemd's
  // start limit: forget the failed state (and the limit's counter) first. If that is
  // refused, the start itself reports the refusal.
  (void)systemd_.reset_failed(*unit);
  return start_loading(*unit);
}

Status AppUnits::start_new(const std::string& app) {
  auto unit = unit_of(app);
  if (!unit) return tl::unexpected(unit.error());
  if (auto s = require_unit_file(app, *unit); !s) return s;
  return start_loading(*unit);  // a unit new to systemd has no failed state to forget
}

Status AppUnits::confirm_load(const std::string& app) {
  auto unit = unit_of(app);
  if (!unit) return tl::unexpected(unit.error());
  return reload_after_write(*unit, true);
}

Status AppUnits::start_loading(const std::string& unit) {
  auto s = systemd_.start(unit);
  if (s || s.error().kind != ErrorKind::NotFound) return s;
  // systemd has no such unit although its file exists: written in the same clock tick as
  // systemd's last look at the unit directory, or by hand. A reload reads it; once.
  if (auto r = systemd_.daemon_reload(); !r) return r;
  return systemd_.start(unit);
}

Status AppUnits::stop(const std::string& app) {
  auto unit = unit_of(app);
  if (!unit) return tl::unexpected(unit.error());
  if (auto s = require_unit_file(app, *unit); !s) return s;
  return systemd_.stop(*unit);
}

Status AppUnits::restart(const std::string& app) {
  auto unit = unit_of(app);
  if (!unit) return tl::unexpected(unit.error());
  if (auto s = require_unit_file(app, *unit); !s) return s;
  // A person asking for a restart wants it tried even after a crash loop hit systemd's
  // start limit: forget the failed state (and the limit's counter) first. If that is
  // refused, the restart itself reports the refusal.
  (void)systemd_.reset_failed(*unit);
  return systemd_.restart(*unit);
}

Status AppUnits::enable(const std::string& app) {
  auto unit = unit_of(app);
  if (!unit) return tl::unexpected(unit.error());
  if (auto s = require_unit_file(app, *unit); !s) return s;
  if (helper_ != nullptr) return helper_->enable(app);
  return systemd_.enable(*unit);
}

Status AppUnits::disable(const std::string& app) {
  auto unit = unit_of(app);
  if (!unit) return tl::unexpected(unit.error());
  if (auto s = require_unit_file(app, *unit); !s) return s;
  if (helper_ != nullptr) return helper_->disable(app);
  return systemd_.disable(*unit);
}

Status AppUnits::daemon_reload() { return systemd_.daemon_reload(); }

Status AppUnits::remove(const std::string& app) {
  auto unit = unit_of(app);
  if (!unit) return tl::unexpected(unit.error());
  if (helper_ != nullptr) return helper_->remove(app);
  auto content = store_.read(*unit);
  if (!content) return tl::unexpected(content.error());
  if (*content && !store_.writable()) {
    return fail(ErrorKind::PermissionDenied, "permission_denied",
                fmt::format("cannot remove {}: the agent has no write access to the unit directory. Run it as root, "
                            "or use the unit helper described in docs/SECURITY.md",
                            store_.path_of(*unit)),
                {{"missing_right", "write_unit_files"}});
  }
  auto before = systemd_.status(*unit);
  if (!before) return tl::unexpected(before.error());
  const bool was_enabled = before->unit_file_state == "enabled";
  // Disable first: when that is refused, nothing has changed yet.
  if (*content) {
    if (auto s = systemd_.disable(*unit); !s) return s;
  }
  if (auto s = systemd_.stop(*unit); !s) {
    if (was_enabled) (void)systemd_.enable(*unit);  // undo, best effort; the stop error is what matters
    return s;
  }
  if (auto s = store_.remove(*unit); !s) return s;
  if (secrets_ != nullptr) {
    if (auto s = secrets_->remove(app); !s) return s;
  }
  if (auto s = systemd_.daemon_reload(); !s) return s;
  return systemd_.reset_failed(*unit);
}

Result<core::UnitStatus> AppUnits::status(const std::string& app) {
  auto unit = unit_of(app);
  if (!unit) return tl::unexpected(unit.error());
  return systemd_.status(*unit);
}

Result<std::map<std::string, ports::UnitListEntry>> AppUnits::loaded_states() {
  auto loaded = systemd_.list_unit_states(fmt::format("{}*{}", core::kUnitPrefix, core::kUnitSuffix));
  if (!loaded) return tl::unexpected(loaded.error());
  std::map<std::string, ports::UnitListEntry> out;
  for (auto& e : *loaded) {
    if (auto app = core::app_name_from_unit(e.unit)) out.emplace(*app, std::move(e));
  }
  return out;
}

Result<std::vector<std::string>> AppUnits::list_installed() {
  auto files = store_.list();
  if (!files) return tl::unexpected(files.error());
  auto loaded = systemd_.list_units(fmt::format("{}*{}", core::kUnitPrefix, core::kUnitSuffix));
  if (!loaded) return tl::unexpected(loaded.error());
  std::vector<std::string> apps;
  for (const auto* list : {&*files, &*loaded}) {
    for (const auto& u : *list) {
      if (auto app = core::app_name_from_unit(u)) apps.push_back(*app);
    }
  }
  std::sort(apps.begin(), apps.end());
  apps.erase(std::unique(apps.begin(), apps.end()), apps.end());
  return apps;
}

Permissions AppUnits::permissions() {
  Permissions p;
  auto caps = systemd_.probe_capabilities();
  p.systemd_reachable = caps.systemd_reachable;
  p.read_status = caps.read_status;
  p.manage_units = caps.manage_units;
  p.write_unit_files = store_.writable();
  std::string helper_problem;
  if (!p.write_unit_files && helper_ != nullptr) {
    auto answer = helper_->ping();
    p.write_unit_files = answer.has_value();
    if (!answer) helper_problem = answer.error().message;
  }
  p.read_journal = host_.journal_readable();
  p.unit_directory = store_.path_of("");
  if (!p.unit_directory.empty() && p.unit_directory.back() == '/') p.unit_directory.pop_back();
  if (!p.systemd_reachable) {
    p.missing.push_back(fmt::format("systemd is not reachable: {}", caps.manage_units_reason));
  } else {
    if (!p.read_status) p.missing.push_back("cannot read unit status over D-Bus: check the system bus policy");
    if (!p.manage_units) {
      p.missing.push_back(fmt::format("cannot start/stop siax-app-* units: {}", caps.manage_units_reason));
    }
  }
  if (!p.write_unit_files && !helper_problem.empty()) {
    p.missing.push_back(helper_problem);
  } else if (!p.write_unit_files) {
    p.missing.push_back(fmt::format("cannot write unit files in {}: run as root or install the unit helper "
                                    "(docs/SECURITY.md)",
                                    p.unit_directory));
  }
  if (!p.read_journal) {
    p.missing.push_back("cannot read the journal: add the agent's user to the systemd-journal group");
  }
  return p;
}

}  // namespace siax::units
