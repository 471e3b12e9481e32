#include "cli/unit_commands.h"

#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "adapters/linux/fs_secret_store.h"
#include "adapters/linux/fs_unit_store.h"
#include "adapters/linux/helper_socket_client.h"
#include "adapters/linux/linux_host.h"
#include "adapters/linux/sdbus_systemd.h"
#include "appdef/app_json.h"
#include "cli/output.h"
#include "core/unit_renderer.h"

namespace siax::cli {
namespace {

using nlohmann::json;

json permissions_json(const units::Permissions& p) {
  return {{"systemd_reachable", p.systemd_reachable}, {"read_status", p.read_status},
          {"manage_units", p.manage_units},           {"write_unit_files", p.write_unit_files},
          {"read_journal", p.read_journal},           {"unit_directory", p.unit_directory},
          {"missing", p.missing}};
}

std::string permissions_text(const units::Permissions& p) {
  auto yes = [](bool b) { return b ? "yes" : "NO"; };
  std::string out = fmt::format(
      "systemd reachable   {}\nread unit status    {}\nmanage siax units   {}\nwrite unit files    {} ({})\n"
      "read the journal    {}",
      yes(p.systemd_reachable), yes(p.read_status), yes(p.manage_units), yes(p.write_unit_files), p.unit_directory,
      yes(p.read_journal));
  for (const auto& m : p.missing) out += "\n  missing: " + m;
  return out;
}

}  // namespace

UnitCommands::UnitCommands(CLI::App& app) {
  permissions_ = app.add_subcommand("permissions", "what the agent is allowed to do on this host");
  unit_ = app.add_subcommand("unit", "the systemd layer directly (no server)");
  unit_->require_subcommand(1);
  render_ = unit_->add_subcommand("render", "print the unit an app definition (JSON) renders to");
  render_->add_option("definition", def_file_, "JSON file, or - for standard input")->required();
  install_ = unit_->add_subcommand("install", "check, render and install an app's unit, then reload systemd");
  install_->add_option("definition", def_file_, "JSON file, or - for standard input")->required();
  for (const char* verb : {"start", "stop", "restart", "enable", "disable", "remove", "status"}) {
    auto* sub = unit_->add_subcommand(verb, fmt::format("{} an app's unit", verb));
    sub->add_option("app", app_name_, "the app's name")->required();
    verbs_[verb] = sub;
  }
  list_ = unit_->add_subcommand("list", "apps with a siax-app-* unit");
}

int UnitCommands::render(const config::Config& cfg, bool as_json) {
  auto j = read_json_file(def_file_);
  if (!j) return report(j.error(), as_json);
  auto def = appdef::definition_from_json(*j);
  if (!def) return report(def.error(), as_json);
  auto text = core::render_unit(
      *def, {cfg.runtimes.node, cfg.runtimes.npm, cfg.runtimes.python},
      adapters::FsSecretStore(adapters::default_secrets_directory(cfg.paths.state_dir)).path_of(def->name));
  if (!text) return report(text.error(), as_json);
  return print_ok({{"unit", core::unit_name_for(def->name)}, {"content", *text}}, as_json, *text);
}

int UnitCommands::run(const config::Config& cfg, const GlobalOptions& g) {
  if (*render_) return render(cfg, g.as_json);
  adapters::SdbusSystemd::Options opts;
  opts.start_settle = cfg.apps.start_settle;
  opts.job_timeout = cfg.apps.job_timeout;
  auto systemd = adapters::SdbusSystemd::connect(opts);
  if (!systemd) return report(systemd.error(), g.as_json);
  adapters::FsUnitStore store(cfg.paths.unit_dir);
  adapters::FsSecretStore secrets(adapters::default_secrets_directory(cfg.paths.state_dir));
  adapters::LinuxHost host;
  units::PreflightSettings settings;
  settings.allow_root = cfg.apps.allow_root_apps;
  settings.interpreters = {cfg.runtimes.node, cfg.runtimes.npm, cfg.runtimes.python};
  units::AppUnits units(**systemd, store, host, settings, &secrets);
  // User mode: unit files go through the root unit helper when one is configured.
  adapters::HelperSocketClient unit_helper_client(cfg.paths.unit_helper_socket,
                                                  2 * cfg.apps.job_timeout + std::chrono::seconds(15));
  if (!cfg.paths.unit_helper_socket.empty() && ::geteuid() != 0) units.use_helper(&unit_helper_client);
  return run_on(units, g.as_json);
}

int UnitCommands::run_on(units::AppUnits& units, bool as_json) {
  if (*permissions_) {
    auto p = units.permissions();
    return print_ok(permissions_json(p), as_json, permissions_text(p));
  }
  if (*install_) {
    auto j = read_json_file(def_file_);
    if (!j) return report(j.error(), as_json);
    auto def = appdef::definition_from_json(*j);
    if (!def) return report(def.error(), as_json);
    auto out = units.install(*def);
    if (!out) return report(out.error(), as_json);
    return print_ok({{"unit", out->unit}, {"path", out->path}, {"changed", out->changed}}, as_json,
                    fmt::format("{} {}", out->changed ? "installed" : "unchanged", out->path));
  }
  if (*list_) {
    auto list = units.list_installed();
    if (!list) return report(list.error(), as_json);
    std::string text;
    for (const auto& a : *list) text += a + "\n";
    if (!text.empty()) text.pop_back();
    return print_ok(*list, as_json, text);
  }
  if (*verbs_["status"]) {
    auto st = units.status(app_name_);
    if (!st) return report(st.error(), as_json);
    return print_ok(appdef::status_to_json(*st), as_json,
                    fmt::format("{}: {} ({}/{}), pid {}, restarts {}", st->unit, core::to_string(st->phase()),
                                st->active_state, st->sub_state, st->main_pid, st->restart_count));
  }
  Status s;
  std::string done;
  if (*verbs_["start"]) s = units.start(app_name_), done = "started";
  else if (*verbs_["stop"]) s = units.stop(app_name_), done = "stopped";
  else if (*verbs_["restart"]) s = units.restart(app_name_), done = "restarted";
  else if (*verbs_["enable"]) s = units.enable(app_name_), done = "enabled";
  else if (*verbs_["disable"]) s = units.disable(app_name_), done = "disabled";
  else if (*verbs_["remove"]) s = units.remove(app_name_), done = "removed";
  if (!s) return report(s.error(), as_json);
  return print_ok({{"app", app_name_}}, as_json, fmt::format("{} {}", app_name_, done));
}

}  // namespace siax::cli
