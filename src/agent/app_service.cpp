#include "agent/app_service.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "core/unit_renderer.h"
#include "core/validation.h"

namespace siax::agent {

const char* to_string(Verb verb) noexcept {
  switch (verb) {
    case Verb::Start: return "start";
    case Verb::Stop: return "stop";
    case Verb::Restart: return "restart";
    case Verb::Enable: return "enable";
    case Verb::Disable: return "disable";
  }
  return "start";
}

std::optional<Verb> verb_from_string(std::string_view text) noexcept {
  for (auto v : {Verb::Start, Verb::Stop, Verb::Restart, Verb::Enable, Verb::Disable}) {
    if (text == to_string(v)) return v;
  }
  return std::nullopt;
}

AppService::AppService(registry::Registry& registry, const ports::UnitFileStore& store, UnitsProvider units,
                       NowUsec now)
    : registry_(registry), store_(store), units_(std::move(units)), now_(std::move(now)) {}

Result<registry::AppRecord> AppService::require(const std::string& name) {
  if (auto s = core::validate_app_name(name); !s) return tl::unexpected(s.error());
  auto rec = registry_.get_app(name);
  if (!rec) return tl::unexpected(rec.error());
  if (!*rec) {
    return fail(ErrorKind::NotFound, "app_not_found",
                fmt::format("there is no app '{}': list the apps with GET /api/apps, or register it", name));
  }
  return **rec;
}

AppView AppService::view(registry::AppRecord record) {
  AppView v{std::move(record), std::nullopt, {}};
  auto st = units_().status(v.record.definition.name);
  if (st) {
    v.status = std::move(*st);
  } else {
    v.status_error = st.error().message;
  }
  return v;
}

Result<RegisterOutcome> AppService::register_app(const core::AppDefinition& given, const RegisterOptions& options) {
  // No secret_environment: no secrets (a file left by an earlier app of that name is removed).
  core::AppDefinition def = given;
  if (!def.secret_values) def.secret_values.emplace();
  if (auto s = core::validate_definition(def); !s) return tl::unexpected(s.error());
  auto existing = registry_.get_app(def.name);
  if (!existing) return tl::unexpected(existing.error());
  if (*existing) {
    return fail(ErrorKind::Conflict, "app_exists",
                fmt::format("an app named '{}' is already registered: update it with PUT /api/apps/{}, or delete it "
                            "first",
                            def.name, def.name));
  }
  const auto unit = core::unit_name_for(def.name);
  auto on_disk = store_.read(unit);
  if (!on_disk) return tl::unexpected(on_disk.error());
  if (*on_disk && !options.adopt) {
    return fail(ErrorKind::Conflict, "unit_exists",
                fmt::format("{} already exists but no registered app owns it: send \"adopt\": true to take it over "
                            "(the file is replaced by the rendered definition)",
                            store_.path_of(unit)));
  }
  auto& units = units_();
  // Started at once: the start loads the new unit (no status read before it, see LoadCheck).
  auto installed = units.install(def, options.start ? units::LoadCheck::AtStart : units::LoadCheck::Now);
  if (!installed) return tl::unexpected(installed.error());

  const auto now = now_();
  registry::AppRecord rec{def, false, now, now};
  rec.definition.secret_values.reset();  // the values live in the secret file only
  if (auto s = registry_.put_app(rec); !s) {
    if (!*on_disk) (void)units.remove(def.name);  // leave nothing behind
    return tl::unexpected(s.error());
  }
  RegisterOutcome out{{}, installed->path, std::nullopt};
  if (options.enable) {
    if (auto s = units.enable(def.name); s) {
      rec.enabled = true;
      (void)registry_.put_app(rec);
    } else {
      out.start_error = s.error();
    }
  }
  if (options.start && !out.start_error) {
    auto s = installed->load_pending ? units.start_new(def.name) : units.start(def.name);
    if (!s) out.start_error = s.error();
  } else if (installed->load_pending) {
    // Not started after all (the enable failed): load it now; a failure here shows at
    // the next start, which reloads when systemd does not know the unit.
    (void)units.confirm_load(def.name);
  }
  out.app = view(std::move(rec));
  return out;
}

Result<AppView> AppService::update_app(const core::AppDefinition& given) {
  auto rec = require(given.name);
  if (!rec) return tl::unexpected(rec.error());
  // No secret_environment in the update: the current secrets stay (names here, values in their file).
  core::AppDefinition def = given;
  if (!def.secret_values) def.secret_names = rec->definition.secret_names;
  if (auto s = core::validate_definition(def); !s) return tl::unexpected(s.error());
  auto& units = units_();
  auto before = units.status(def.name);
  const bool was_running = before && (before->phase() == core::UnitPhase::Active ||
                                      before->phase() == core::UnitPhase::Activating ||
                                      before->phase() == core::UnitPhase::AutoRestart);
  auto installed = units.install(def);
  if (!installed) return tl::unexpected(installed.error());
  rec->definition = def;
  rec->definition.secret_values.reset();  // the values live in the secret file only
  rec->updated_at_usec = now_();
  if (auto s = registry_.put_app(*rec); !s) return tl::unexpected(s.error());
  if (installed->changed && was_running) {
    if (auto s = units.restart(def.name); !s) return tl::unexpected(s.error());
  }
  return view(std::move(*rec));
}

Status AppService::unregister(const std::string& name) {
  if (auto s = core::validate_app_name(name); !s) return s;
  auto rec = registry_.get_app(name);
  if (!rec) return tl::unexpected(rec.error());
  auto on_disk = store_.read(core::unit_name_for(name));
  if (!on_disk) return tl::unexpected(on_disk.error());
  if (!*rec && !*on_disk) {
    return fail(ErrorKind::NotFound, "app_not_found", fmt::format("there is no app '{}' to delete", name));
  }
  if (*rec == std::nullopt && *on_disk) {
    return fail(ErrorKind::Conflict, "unit_not_registered",
                fmt::format("{} exists but is not a registered app: the agent does not delete units it does not "
                            "manage (adopt it first)",
                            store_.path_of(core::unit_name_for(name))));
  }
  if (auto s = units_().remove(name); !s) return s;
  auto removed = registry_.remove_app(name);
  if (!removed) return tl::unexpected(removed.error());
  return ok();
}

Status AppService::run(const std::string& name, Verb verb) {
  auto rec = require(name);
  if (!rec) return tl::unexpected(rec.error());
  auto& units = units_();
  switch (verb) {
    case Verb::Start: return units.start(name);
    case Verb::Stop: return units.stop(name);
    case Verb::Restart: return units.restart(name);
    case Verb::Enable:
    case Verb::Disable: {
      auto s = verb == Verb::Enable ? units.enable(name) : units.disable(name);
      if (!s) return s;
      rec->enabled = verb == Verb::Enable;
      rec->updated_at_usec = now_();
      return registry_.put_app(*rec);
    }
  }
  return ok();
}

Result<AppView> AppService::get(const std::string& name) {
  auto rec = require(name);
  if (!rec) return tl::unexpected(rec.error());
  return view(std::move(*rec));
}

Result<std::vector<AppView>> AppService::list() {
  auto recs = registry_.list_apps();
  if (!recs) return tl::unexpected(recs.error());
  std::vector<AppView> out;
  out.reserve(recs->size());
  for (auto& r : *recs) out.push_back(view(std::move(r)));
  return out;
}

Result<std::vector<AppView>> AppService::list(const StatusCache& cached) {
  auto states = units_().loaded_states();
  if (!states) return list();
  auto recs = registry_.list_apps();
  if (!recs) return tl::unexpected(recs.error());
  std::vector<AppView> out;
  out.reserve(recs->size());
  for (auto& r : *recs) {
    auto seen = cached ? cached(r.definition.name) : std::nullopt;
    if (seen) {
      const auto it = states->find(r.definition.name);
      const bool same = it != states->end()
                            ? it->second.load_state == seen->load_state && it->second.active_state == seen->active_state &&
                                  it->second.sub_state == seen->sub_state
                            : seen->active_state == "inactive";
      if (same) {
        out.push_back(AppView{std::move(r), std::move(seen), {}});
        continue;
      }
    }
    out.push_back(view(std::move(r)));
  }
  return out;
}

Result<std::string> AppService::preview(const core::AppDefinition& def) { return units_().check_and_render(def); }

Result<std::pair<std::optional<std::string>, std::string>> AppService::unit_files(const std::string& name) {
  auto rec = require(name);
  if (!rec) return tl::unexpected(rec.error());
  auto on_disk = store_.read(core::unit_name_for(name));
  if (!on_disk) return tl::unexpected(on_disk.error());
  auto rendered = units_().render(rec->definition);
  if (!rendered) return tl::unexpected(rendered.error());
  return std::pair{std::move(*on_disk), std::move(*rendered)};
}

std::vector<RecoveryFinding> AppService::recover(bool list_unknown) {
  std::vector<RecoveryFinding> findings;
  auto recs = registry_.list_apps();
  if (!recs) {
    findings.push_back({"", "repair_failed", fmt::format("cannot read the registry: {}", recs.error().message)});
    return findings;
  }
  auto& units = units_();
  std::set<std::string> known;
  for (const auto& rec : *recs) {
    const auto& name = rec.definition.name;
    known.insert(name);
    const auto unit = core::unit_name_for(name);
    auto on_disk = store_.read(unit);
    auto rendered = units.render(rec.definition);
    if (!on_disk || !rendered) {
      findings.push_back({name, "repair_failed",
                          !on_disk ? on_disk.error().message : rendered.error().message});
      continue;
    }
    std::string kind;
    if (!*on_disk) {
      kind = "unit_missing_repaired";
    } else {
      switch (core::classify_unit_file(**on_disk, *rendered)) {
        case core::UnitFileState::Current: continue;
        case core::UnitFileState::Stale: kind = "unit_stale_repaired"; break;
        case core::UnitFileState::Edited:
          findings.push_back({name, "unit_edited",
                              fmt::format("{} was edited by hand; the agent leaves it as it is. Re-apply the app's "
                                          "definition (PUT /api/apps/{}) to overwrite it",
                                          store_.path_of(unit), name)});
          continue;
        case core::UnitFileState::Foreign:
          findings.push_back({name, "unit_foreign",
                              fmt::format("{} was not written by the agent; it is left as it is", store_.path_of(unit))});
          continue;
      }
    }
    // install() writes and reloads only; it never starts or stops the app.
    auto installed = units.install(rec.definition);
    if (installed) {
      findings.push_back({name, kind, fmt::format("{} rewritten from the registered definition", installed->path)});
    } else {
      findings.push_back({name, "repair_failed", installed.error().message});
    }
  }
  if (!list_unknown) return findings;
  auto present = units.list_installed();
  if (present) {
    for (const auto& app : *present) {
      if (!known.contains(app)) {
        findings.push_back({app, "unknown_unit",
                            fmt::format("{} is not in the registry: register the app with \"adopt\": true to manage "
                                        "it",
                                        core::unit_name_for(app))});
      }
    }
  }
  return findings;
}

}  // namespace siax::agent
