#include "cli/apps_commands.h"

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <set>
#include <thread>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/client.h"
#include "cli/output.h"
#include "cli/stream_client.h"

namespace siax::cli {
namespace {

using nlohmann::json;

std::string apps_table(const json& apps) {
  std::string out = fmt::format("{:<24} {:<13} {:>8} {:>11} {:>8}  {}\n", "NAME", "STATUS", "PID", "MEMORY",
                                "RESTARTS", "ENABLED");
  for (const auto& a : apps) {
    out += fmt::format("{:<24} {:<13} {:>8} {:>11} {:>8}  {}\n", cell(a["name"]), cell(a["status"]), cell(a["pid"]),
                       human_bytes(a["memory_usage"]), cell(a.value("restart_count", json(nullptr))),
                       a.value("enabled", false) ? "yes" : "no");
  }
  if (!out.empty()) out.pop_back();
  return out;
}

/// One line for `apps status NAME` from an app object (GET /api/apps or the stream).
std::string status_line(const json& d) {
  return fmt::format("{}: {} ({}), pid {}, restarts {}{}", cell(d["name"]), cell(d["status"]),
                     cell(d.value("systemd_status", json(nullptr))), cell(d.value("pid", json(nullptr))),
                     cell(d.value("restart_count", json(nullptr))),
                     d.contains("reason") && d["reason"].is_string() && !d["reason"].get<std::string>().empty()
                         ? ", " + cell(d["reason"])
                         : "");
}

/// `apps list --watch` (only = "") and `apps status NAME --watch`: follows GET /api/stream
/// and redraws on every change (the table in place; one line per change for one app).
/// With --json, prints every event's data as one line. Reconnects with Last-Event-ID when
/// the stream breaks; Ctrl-C ends it.
int watch_apps(const Endpoint& ep, const std::string& only, bool as_json) {
  std::map<std::string, json> apps;
  std::string last_id;
  std::string last_line;
  int failures = 0;
  while (true) {
    const std::string target = last_id.empty() ? "/api/stream" : "/api/stream?last_event_id=" + last_id;
    auto s = follow_stream(ep, target, [&](const SseEvent& e) {
      failures = 0;
      last_id = e.id;
      auto data = json::parse(e.data, nullptr, false);
      if (!data.is_object()) return true;
      if (as_json) {
        std::cout << json{{"event", e.type}, {"data", data}}.dump() << std::endl;
        return true;
      }
      if (e.type == "snapshot") {
        apps.clear();
        for (const auto& a : data["apps"]) apps[a.value("name", "")] = a;
      } else if (e.type == "app") {
        apps[data["app"].value("name", "")] = data["app"];
      } else if (e.type == "app_removed") {
        apps.erase(data.value("name", ""));
      } else {
        return true;
      }
      if (!only.empty()) {
        auto it = apps.find(only);
        std::string line = it == apps.end() ? only + ": not registered" : status_line(it->second);
        if (line != last_line) std::cout << line << std::endl;
        last_line = line;
        return true;
      }
      json list = json::array();
      for (const auto& [name, a] : apps) list.push_back(a);
      const std::string table = apps_table(list);
      if (::isatty(STDOUT_FILENO) != 1) {  // a pipe or file: one table per change, no screen codes
        if (table != last_line) std::cout << "# state version " << e.id << "\n" << table << "\n" << std::endl;
        last_line = table;
        return true;
      }
      // Home, clear the screen, draw: the table is updated in place.
      std::cout << "\x1b[H\x1b[2J" << table << "\n\n(live: " << apps.size()
                << " apps, state version " << e.id << "; Ctrl-C to stop)" << std::endl;
      return true;
    });
    if (s) return 0;
    if (s.error().code == "stream_refused" || ++failures > 5) return report(s.error(), as_json);
    std::cerr << s.error().message << "; reconnecting...\n";
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

/// The first line of a stream, without its line end.
std::string first_line(std::istream& in) {
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

/// The token: --token-file FILE, --token - (standard input), --token VALUE (visible in
/// `ps`: prefer the other two), $SIAX_TOKEN, else <state_dir>/cli-token.
std::string token_from(const std::string& flag, const std::string& file, const std::string& state_dir) {
  if (!file.empty()) {
    std::ifstream in(file);
    return first_line(in);
  }
  if (flag == "-") return first_line(std::cin);
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("SIAX_TOKEN"); env != nullptr && *env != '\0') return env;
  std::ifstream in(state_dir + "/cli-token");
  std::string token;
  in >> token;
  return token;
}

/// The text of an audit list.
std::string audit_table(const json& list) {
  std::string out;
  for (const auto& e : list) {
    const auto at = std::chrono::system_clock::time_point(std::chrono::microseconds(e.value("at_usec", std::int64_t{0})));
    out += fmt::format("{:>6} {:%Y-%m-%d %H:%M:%S} {:<22} {:<10} {:<16} {}\n", e.value("id", std::int64_t{0}),
                       std::chrono::time_point_cast<std::chrono::seconds>(at), e.value("actor", ""),
                       e.value("action", ""), e.value("target", ""), e.value("result", ""));
  }
  if (!out.empty()) out.pop_back();
  return out;
}

}  // namespace

AppsCommands::AppsCommands(CLI::App& app) {
  apps_ = app.add_subcommand("apps", "manage apps through the running agent");
  apps_->require_subcommand(1);
  list_ = apps_->add_subcommand("list", "all apps with their status");
  list_->add_flag("--watch", watch_, "keep the table on screen, updated as the agent's state changes");
  for (const char* verb : {"status", "show", "start", "stop", "restart", "enable", "disable", "delete"}) {
    auto* sub = apps_->add_subcommand(verb, fmt::format("{} an app", verb));
    sub->add_option("name", app_name_, "the app's name")->required();
    verbs_[verb] = sub;
  }
  verbs_["status"]->add_flag("--watch", watch_, "print a line each time the app's state changes");
  register_ = apps_->add_subcommand("register", "register an app from a JSON definition");
  register_->add_option("definition", def_file_, "JSON file, or - for standard input")->required();
  register_->add_flag("--start", start_, "start it once registered");
  register_->add_flag("--enable", enable_, "enable it at boot");
  register_->add_flag("--adopt", adopt_, "take over an existing siax-app-<name>.service");
  update_ = apps_->add_subcommand("update", "replace an app's definition (restarts it if running)");
  update_->add_option("name", app_name_, "the app's name")->required();
  update_->add_option("definition", def_file_, "JSON file, or - for standard input")->required();
  audit_ = app.add_subcommand("audit", "the audit log, newest first");
  audit_->add_option("--app", audit_app_, "only this app");
  audit_->add_option("--limit", audit_limit_, "how many entries")->check(CLI::Range(1, 1000));
}

int AppsCommands::run(const config::Config& cfg, const GlobalOptions& g) {
  Endpoint ep;
  ep.host = cfg.server.listen_address == "0.0.0.0" ? "127.0.0.1" : cfg.server.listen_address;
  ep.port = cfg.server.port;
  if (cfg.server.tls_enabled()) ep.tls_cert_file = cfg.server.tls_cert_file;
  if (g.token_flag == "-" && def_file_ == "-") {
    return report({ErrorKind::InvalidInput, "stdin_twice",
                   "--token - and a definition from - both want standard input: use --token-file for the token",
                   {}},
                  g.as_json);
  }
  ep.token = token_from(g.token_flag, g.token_file, cfg.paths.state_dir);
  if (!g.use_tcp) ep.unix_socket = cfg.paths.state_dir + "/agent.sock";
  if (*audit_) {
    std::string target = fmt::format("/api/audit?limit={}", audit_limit_);
    if (!audit_app_.empty()) target += "&target=" + audit_app_;
    auto r = call(ep, "GET", target, std::nullopt);
    if (!r) return report(r.error(), g.as_json);
    return print_reply(*r, g.as_json, audit_table);
  }
  return run_apps(ep, g.as_json);
}

int AppsCommands::run_apps(const Endpoint& ep, bool as_json) {
  auto send = [&](const std::string& method, const std::string& target, std::optional<json> body,
                  const std::function<std::string(const json&)>& text) {
    auto r = call(ep, method, target, body);
    if (!r) return report(r.error(), as_json);
    return print_reply(*r, as_json, text);
  };
  if (*list_ && watch_) return watch_apps(ep, "", as_json);
  if (*verbs_["status"] && watch_) return watch_apps(ep, app_name_, as_json);
  if (*list_) {
    // The table's fields only: the rest of each app is not built (less to allocate).
    static const std::set<std::string, std::less<>> kTableFields{"name",          "status",        "pid",
                                                                 "memory_usage", "restart_count", "enabled"};
    auto r = call(ep, "GET", "/api/apps", std::nullopt, as_json ? nullptr : &kTableFields);
    if (!r) return report(r.error(), as_json);
    return print_reply(*r, as_json, apps_table);
  }
  if (*register_ || *update_) {
    auto body = read_json_file(def_file_);
    if (!body) return report(body.error(), as_json);
    if (*update_) {
      return send("PUT", "/api/apps/" + app_name_, *body,
                  [](const json& d) { return fmt::format("updated {}: {}", cell(d["name"]), cell(d["status"])); });
    }
    if (start_) (*body)["start"] = true;
    if (enable_) (*body)["enable"] = true;
    if (adopt_) (*body)["adopt"] = true;
    return send("POST", "/api/apps/register", *body, [](const json& d) {
      std::string out = fmt::format("registered {} ({})", cell(d["name"]), cell(d["unit_path"]));
      if (d.contains("start_error")) out += "\nbut the start failed: " + cell(d["start_error"]["message"]);
      return out;
    });
  }
  if (*verbs_["status"]) {
    return send("GET", "/api/apps/" + app_name_ + "/status", std::nullopt, [](const json& d) {
      return fmt::format("{}: {} ({}), pid {}, restarts {}{}", cell(d["name"]), cell(d["status"]),
                         cell(d["systemd_status"]), cell(d["pid"]), cell(d["restart_count"]),
                         d.contains("failure") ? ", " + cell(d["failure"]) : "");
    });
  }
  if (*verbs_["show"]) return send("GET", "/api/apps/" + app_name_, std::nullopt, [](const json& d) { return d.dump(2); });
  if (*verbs_["delete"]) {
    return send("DELETE", "/api/apps/" + app_name_, std::nullopt,
                [&](const json&) { return fmt::format("deleted {}", app_name_); });
  }
  for (const char* verb : {"start", "stop", "restart", "enable", "disable"}) {
    if (!*verbs_[verb]) continue;
    return send("POST", fmt::format("/api/apps/{}/{}", app_name_, verb), std::nullopt, [&](const json& d) {
      return fmt::format("{}: {} done, now {}", app_name_, verb, d.contains("state") ? cell(d["state"]["status"]) : "?");
    });
  }
  return 1;
}

}  // namespace siax::cli
