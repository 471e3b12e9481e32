// siax-agent: the composition root. Parses the command line, builds the real
// adapters and hands them to the modules. The only code not shared with tests.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "adapters/linux/fs_unit_store.h"
#include "adapters/linux/linux_host.h"
#include "adapters/linux/sdbus_systemd.h"
#include "api/app_json.h"
#include "core/unit_renderer.h"
#include "units/app_units.h"

namespace {

using siax::ErrorKind;
using nlohmann::json;

/// Exit codes scripts can rely on (documented in the README).
int exit_code_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::InvalidInput: return 2;
    case ErrorKind::NotFound: return 3;
    case ErrorKind::PermissionDenied: return 4;
    case ErrorKind::Unavailable:
    case ErrorKind::Timeout: return 5;
    case ErrorKind::Conflict:
    case ErrorKind::RateLimited: return 6;
    case ErrorKind::OperationFailed:
    case ErrorKind::Internal: return 1;
  }
  return 1;
}

int report(const siax::Error& e, bool as_json) {
  if (as_json) {
    json details = json::object();
    for (const auto& [k, v] : e.details) details[k] = v;
    std::cout << json{{"success", false},
                      {"data", nullptr},
                      {"error", {{"code", e.code}, {"kind", siax::to_string(e.kind)}, {"message", e.message},
                                 {"details", details}}}}
                     .dump(2)
              << "\n";
  } else {
    std::cerr << "error: " << e.message << "\n";
  }
  return exit_code_for(e.kind);
}

int print_ok(const json& data, bool as_json, const std::string& text) {
  if (as_json) {
    std::cout << json{{"success", true}, {"data", data}, {"error", nullptr}}.dump(2) << "\n";
  } else if (!text.empty()) {
    std::cout << text << "\n";
  }
  return 0;
}

siax::Result<json> read_json_file(const std::string& path) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), {});
  } else {
    std::ifstream in(path);
    if (!in) return siax::fail(ErrorKind::InvalidInput, "file_not_found", fmt::format("cannot read {}", path));
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    return siax::fail(ErrorKind::InvalidInput, "invalid_json", fmt::format("{} is not valid JSON", path));
  }
  return j;
}

struct Wiring {
  std::unique_ptr<siax::adapters::SdbusSystemd> systemd;
  siax::adapters::FsUnitStore store;
  siax::adapters::LinuxHost host;
  std::unique_ptr<siax::units::AppUnits> units;
};

siax::Result<std::unique_ptr<Wiring>> wire(const std::string& unit_dir, bool allow_root, int settle_ms,
                                           int job_timeout_ms) {
  siax::adapters::SdbusSystemd::Options opts;
  opts.start_settle = std::chrono::milliseconds(settle_ms);
  opts.job_timeout = std::chrono::milliseconds(job_timeout_ms);
  auto systemd = siax::adapters::SdbusSystemd::connect(opts);
  if (!systemd) return tl::unexpected(systemd.error());
  auto w = std::make_unique<Wiring>(Wiring{std::move(*systemd), siax::adapters::FsUnitStore(unit_dir), {}, nullptr});
  siax::units::PreflightSettings settings;
  settings.allow_root = allow_root;
  w->units = std::make_unique<siax::units::AppUnits>(*w->systemd, w->store, w->host, settings);
  return w;
}

json permissions_json(const siax::units::Permissions& p) {
  return {{"systemd_reachable", p.systemd_reachable}, {"read_status", p.read_status},
          {"manage_units", p.manage_units},           {"write_unit_files", p.write_unit_files},
          {"read_journal", p.read_journal},           {"unit_directory", p.unit_directory},
          {"missing", p.missing}};
}

std::string permissions_text(const siax::units::Permissions& p) {
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

int main(int argc, char** argv) {
  CLI::App app{"siax-agent: runs Node.js and Python apps as systemd services"};
  app.require_subcommand(1);
  bool as_json = false;
  std::string unit_dir = "/etc/systemd/system";
  bool allow_root = false;
  int settle_ms = 500;
  int job_timeout_ms = 30'000;
  app.add_flag("--json", as_json, "print JSON ({success, data, error}) instead of text");
  app.add_option("--unit-dir", unit_dir, "where unit files are written")->capture_default_str();
  app.add_flag("--allow-root-apps", allow_root, "allow apps that run as root");
  app.add_option("--start-settle-ms", settle_ms, "watch a started unit this long for an immediate exit")
      ->capture_default_str()
      ->check(CLI::Range(0, 60'000));
  app.add_option("--job-timeout-ms", job_timeout_ms, "how long to wait for a systemd job")
      ->capture_default_str()
      ->check(CLI::Range(100, 600'000));

  auto* version = app.add_subcommand("version", "print the version");
  auto* perms = app.add_subcommand("permissions", "what the agent is allowed to do on this host");
  auto* unit = app.add_subcommand("unit", "the systemd layer, directly (no server)");
  unit->require_subcommand(1);
  std::string def_file;
  auto* render = unit->add_subcommand("render", "print the unit an app definition (JSON) renders to");
  render->add_option("definition", def_file, "JSON file, or - for standard input")->required();
  auto* install = unit->add_subcommand("install", "check, render and install an app's unit, then reload systemd");
  install->add_option("definition", def_file, "JSON file, or - for standard input")->required();
  std::string app_name;
  std::map<std::string, CLI::App*> verbs;
  for (const char* verb : {"start", "stop", "restart", "enable", "disable", "remove", "status"}) {
    auto* sub = unit->add_subcommand(verb, fmt::format("{} an app's unit", verb));
    sub->add_option("app", app_name, "the app's name")->required();
    verbs[verb] = sub;
  }
  auto* list = unit->add_subcommand("list", "apps with a siax-app-* unit");
  auto* serve = app.add_subcommand("serve", "run the agent (for now: report permissions and wait for SIGTERM)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (*version) return print_ok({{"version", SIAX_VERSION}}, as_json, fmt::format("siax-agent {}", SIAX_VERSION));

  if (*render) {
    auto j = read_json_file(def_file);
    if (!j) return report(j.error(), as_json);
    auto def = siax::api::definition_from_json(*j);
    if (!def) return report(def.error(), as_json);
    auto text = siax::core::render_unit(*def, siax::core::Interpreters{});
    if (!text) return report(text.error(), as_json);
    return print_ok({{"unit", siax::core::unit_name_for(def->name)}, {"content", *text}}, as_json, *text);
  }

  auto w = wire(unit_dir, allow_root, settle_ms, job_timeout_ms);
  if (!w) return report(w.error(), as_json);
  auto& units = *(*w)->units;

  if (*perms) {
    auto p = units.permissions();
    return print_ok(permissions_json(p), as_json, permissions_text(p));
  }
  if (*serve) {
    auto p = units.permissions();
    std::cout << fmt::format("siax-agent {} serving (no HTTP server yet)\n{}\n", SIAX_VERSION, permissions_text(p))
              << std::flush;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    int sig = 0;
    sigwait(&set, &sig);
    std::cout << "siax-agent: stopping on signal " << sig << "\n";
    return 0;
  }
  if (*install) {
    auto j = read_json_file(def_file);
    if (!j) return report(j.error(), as_json);
    auto def = siax::api::definition_from_json(*j);
    if (!def) return report(def.error(), as_json);
    auto out = units.install(*def);
    if (!out) return report(out.error(), as_json);
    return print_ok({{"unit", out->unit}, {"path", out->path}, {"changed", out->changed}}, as_json,
                    fmt::format("{} {}", out->changed ? "installed" : "unchanged", out->path));
  }
  if (*list) {
    auto apps = units.list_installed();
    if (!apps) return report(apps.error(), as_json);
    std::string text;
    for (const auto& a : *apps) text += a + "\n";
    if (!text.empty()) text.pop_back();
    return print_ok(*apps, as_json, text);
  }
  if (*verbs["status"]) {
    auto st = units.status(app_name);
    if (!st) return report(st.error(), as_json);
    auto j = siax::api::status_to_json(*st);
    return print_ok(j, as_json,
                    fmt::format("{}: {} ({}/{}), pid {}, restarts {}", st->unit, siax::core::to_string(st->phase()),
                                st->active_state, st->sub_state, st->main_pid, st->restart_count));
  }
  siax::Status s;
  std::string done;
  if (*verbs["start"]) s = units.start(app_name), done = "started";
  else if (*verbs["stop"]) s = units.stop(app_name), done = "stopped";
  else if (*verbs["restart"]) s = units.restart(app_name), done = "restarted";
  else if (*verbs["enable"]) s = units.enable(app_name), done = "enabled";
  else if (*verbs["disable"]) s = units.disable(app_name), done = "disabled";
  else if (*verbs["remove"]) s = units.remove(app_name), done = "removed";
  if (!s) return report(s.error(), as_json);
  return print_ok({{"app", app_name}}, as_json, fmt::format("{} {}", app_name, done));
}
