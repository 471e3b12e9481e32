// siax-agent: the composition root. Parses the command line and the configuration,
// builds the real adapters and hands them to the modules. The only code not shared with
// tests. Subcommands:
//   serve                      run the agent (cli/serve.cpp)
//   apps ...                   a client of the local API (cli/client.cpp)
//   token ..., user ...        credentials, directly in the registry (root, local)
//   unit ..., permissions      the systemd layer directly, without a server
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "adapters/linux/fs_secret_store.h"
#include "adapters/linux/fs_unit_store.h"
#include "adapters/linux/linux_host.h"
#include "adapters/linux/sdbus_systemd.h"
#include "appdef/app_json.h"
#include "auth/passwords.h"
#include "auth/tokens.h"
#include "cli/client.h"
#include "cli/stream_client.h"
#include "cli/serve.h"
#include "config/config.h"
#include "core/unit_renderer.h"
#include "registry/sqlite_registry.h"
#include "units/app_units.h"

extern char** environ;

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

int exit_code_for_http(unsigned status) {
  if (status < 300) return 0;
  if (status == 400 || status == 413 || status == 431) return 2;
  if (status == 404) return 3;
  if (status == 401 || status == 403) return 4;
  if (status == 503 || status == 504) return 5;
  if (status == 409 || status == 429) return 6;
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

std::string cell(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::string human_bytes(const json& v) {
  if (!v.is_number()) return "-";
  double b = v.get<double>();
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  int i = 0;
  while (b >= 1024 && i < 3) {
    b /= 1024;
    ++i;
  }
  return fmt::format("{:.1f} {}", b, units[i]);
}

/// Prints the agent's reply: the envelope as is with --json, else a readable summary.
int print_reply(const siax::cli::Reply& r, bool as_json, const std::function<std::string(const json&)>& text) {
  const bool success = r.body.is_object() && r.body.value("success", false);
  if (as_json) {
    std::cout << (r.body.is_null() ? json{{"success", false}, {"data", nullptr}, {"error", r.raw}} : r.body).dump(2)
              << "\n";
  } else if (success) {
    auto out = text(r.body["data"]);
    if (!out.empty()) std::cout << out << "\n";
  } else {
    std::string message = r.raw;
    if (r.body.is_object() && r.body["error"].is_object()) message = r.body["error"].value("message", r.raw);
    std::cerr << fmt::format("error ({}): {}\n", r.status, message);
  }
  return exit_code_for_http(r.status);
}

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
int watch_apps(const siax::cli::Endpoint& ep, const std::string& only, bool as_json) {
  std::map<std::string, json> apps;
  std::string last_id;
  std::string last_line;
  int failures = 0;
  while (true) {
    const std::string target = last_id.empty() ? "/api/stream" : "/api/stream?last_event_id=" + last_id;
    auto s = siax::cli::follow_stream(ep, target, [&](const siax::cli::SseEvent& e) {
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
      // Home, clear the screen, draw: the table is updated in place.
      std::cout << "\x1b[H\x1b[2J" << apps_table(list) << "\n\n(live: " << apps.size()
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

std::int64_t now_usec() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
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
  std::string config_path;
  std::vector<std::string> sets;
  std::string token_flag;
  std::string token_file;
  app.add_flag("--json", as_json, "print JSON ({success, data, error}) instead of text");
  app.add_option("--config", config_path, "configuration file (default /etc/siax-agent/agent.toml if present)");
  app.add_option("--set", sets, "override a setting: --set server.port=9090 (repeatable)");
  app.add_option("--token", token_flag,
                 "API token for apps/audit commands; '-' reads it from standard input (default: $SIAX_TOKEN, "
                 "<state_dir>/cli-token). A value here is visible in 'ps': prefer '-' or --token-file");
  app.add_option("--token-file", token_file, "read the API token from the first line of this file")
      ->check(CLI::ExistingFile);
  bool use_tcp = false;
  app.add_flag("--tcp", use_tcp,
               "apps/audit: talk to the agent over TCP (server.listen_address:server.port) instead of its local socket "
               "<state_dir>/agent.sock; the token then goes to whatever listens on that port");

  auto* version = app.add_subcommand("version", "print the version");
  auto* show_config = app.add_subcommand("config", "print the effective configuration's defaults as TOML");
  auto* serve = app.add_subcommand("serve", "run the agent: HTTP API on server.listen_address:server.port");
  auto* perms = app.add_subcommand("permissions", "what the agent is allowed to do on this host");

  // --- apps: a client of the local API ---
  auto* apps = app.add_subcommand("apps", "manage apps through the running agent");
  apps->require_subcommand(1);
  std::string app_name;
  std::string def_file;
  bool opt_start = false;
  bool opt_enable = false;
  bool opt_adopt = false;
  auto* apps_list = apps->add_subcommand("list", "all apps with their status");
  bool opt_watch = false;
  apps_list->add_flag("--watch", opt_watch, "keep the table on screen, updated as the agent's state changes");
  std::map<std::string, CLI::App*> app_verbs;
  for (const char* verb : {"status", "show", "start", "stop", "restart", "enable", "disable", "delete"}) {
    auto* sub = apps->add_subcommand(verb, fmt::format("{} an app", verb));
    sub->add_option("name", app_name, "the app's name")->required();
    app_verbs[verb] = sub;
  }
  app_verbs["status"]->add_flag("--watch", opt_watch, "print a line each time the app's state changes");
  auto* apps_register = apps->add_subcommand("register", "register an app from a JSON definition");
  apps_register->add_option("definition", def_file, "JSON file, or - for standard input")->required();
  apps_register->add_flag("--start", opt_start, "start it once registered");
  apps_register->add_flag("--enable", opt_enable, "enable it at boot");
  apps_register->add_flag("--adopt", opt_adopt, "take over an existing siax-app-<name>.service");
  auto* apps_update = apps->add_subcommand("update", "replace an app's definition (restarts it if running)");
  apps_update->add_option("name", app_name, "the app's name")->required();
  apps_update->add_option("definition", def_file, "JSON file, or - for standard input")->required();
  auto* audit = app.add_subcommand("audit", "the audit log, newest first");
  std::string audit_app;
  int audit_limit = 50;
  audit->add_option("--app", audit_app, "only this app");
  audit->add_option("--limit", audit_limit, "how many entries")->check(CLI::Range(1, 1000));

  // --- tokens and users: directly in the registry (local, root) ---
  auto* token = app.add_subcommand("token", "API tokens (stored only as hashes)");
  token->require_subcommand(1);
  std::string token_name;
  std::string role_name = "viewer";
  auto* token_create = token->add_subcommand("create", "create a token; it is shown once");
  token_create->add_option("name", token_name, "a name for the token, e.g. deploy-bot")->required();
  token_create->add_option("--role", role_name, "viewer, operator or admin")->capture_default_str();
  auto* token_list = token->add_subcommand("list", "list tokens (never their secrets)");
  auto* token_revoke = token->add_subcommand("revoke", "revoke a token by id or name");
  token_revoke->add_option("token", token_name, "id or name")->required();
  auto* user = app.add_subcommand("user", "panel users");
  user->require_subcommand(1);
  std::string user_name;
  auto* user_passwd = user->add_subcommand("set-password", "set (or create) a panel user's password from stdin");
  user_passwd->add_option("name", user_name, "user name")->required();
  user_passwd->add_option("--role", role_name, "viewer, operator or admin (for a new user)");

  // --- the systemd layer directly ---
  auto* unit = app.add_subcommand("unit", "the systemd layer directly (no server)");
  unit->require_subcommand(1);
  auto* render = unit->add_subcommand("render", "print the unit an app definition (JSON) renders to");
  render->add_option("definition", def_file, "JSON file, or - for standard input")->required();
  auto* install = unit->add_subcommand("install", "check, render and install an app's unit, then reload systemd");
  install->add_option("definition", def_file, "JSON file, or - for standard input")->required();
  std::map<std::string, CLI::App*> verbs;
  for (const char* verb : {"start", "stop", "restart", "enable", "disable", "remove", "status"}) {
    auto* sub = unit->add_subcommand(verb, fmt::format("{} an app's unit", verb));
    sub->add_option("app", app_name, "the app's name")->required();
    verbs[verb] = sub;
  }
  auto* unit_list = unit->add_subcommand("list", "apps with a siax-app-* unit");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (*version) return print_ok({{"version", SIAX_VERSION}}, as_json, fmt::format("siax-agent {}", SIAX_VERSION));
  if (*show_config) {
    std::cout << siax::config::render_default_config();
    return 0;
  }

  siax::config::Overrides overrides;
  for (const auto& s : sets) {
    auto kv = siax::config::parse_override(s);
    if (!kv) return report(kv.error(), as_json);
    overrides.push_back(*kv);
  }
  auto cfg = siax::config::load_config(config_path.empty() ? std::nullopt : std::optional(config_path),
                                       siax::config::environment_from(environ), overrides);
  if (!cfg) return report(cfg.error(), as_json);

  if (*serve) return siax::cli::serve(*cfg);

  // --- client commands ---
  if (*apps || *audit) {
    siax::cli::Endpoint ep;
    ep.host = cfg->server.listen_address == "0.0.0.0" ? "127.0.0.1" : cfg->server.listen_address;
    ep.port = cfg->server.port;
    if (cfg->server.tls_enabled()) ep.tls_cert_file = cfg->server.tls_cert_file;
    if (token_flag == "-" && def_file == "-") {
      return report({ErrorKind::InvalidInput, "stdin_twice",
                     "--token - and a definition from - both want standard input: use --token-file for the token",
                     {}},
                    as_json);
    }
    ep.token = token_from(token_flag, token_file, cfg->paths.state_dir);
    if (!use_tcp) ep.unix_socket = cfg->paths.state_dir + "/agent.sock";
    auto send = [&](const std::string& method, const std::string& target, std::optional<json> body,
                    const std::function<std::string(const json&)>& text) {
      auto r = siax::cli::call(ep, method, target, body);
      if (!r) return report(r.error(), as_json);
      return print_reply(*r, as_json, text);
    };
    if (*audit) {
      std::string target = fmt::format("/api/audit?limit={}", audit_limit);
      if (!audit_app.empty()) target += "&target=" + audit_app;
      return send("GET", target, std::nullopt, [](const json& list) {
        std::string out;
        for (const auto& e : list) {
          const auto at = std::chrono::system_clock::time_point(
              std::chrono::microseconds(e.value("at_usec", std::int64_t{0})));
          out += fmt::format("{:>6} {:%Y-%m-%d %H:%M:%S} {:<22} {:<10} {:<16} {}\n", e.value("id", std::int64_t{0}),
                             std::chrono::time_point_cast<std::chrono::seconds>(at), e.value("actor", ""),
                             e.value("action", ""), e.value("target", ""), e.value("result", ""));
        }
        if (!out.empty()) out.pop_back();
        return out;
      });
    }
    if (*apps_list && opt_watch) return watch_apps(ep, "", as_json);
    if (*app_verbs["status"] && opt_watch) return watch_apps(ep, app_name, as_json);
    if (*apps_list) return send("GET", "/api/apps", std::nullopt, apps_table);
    if (*apps_register || *apps_update) {
      auto body = read_json_file(def_file);
      if (!body) return report(body.error(), as_json);
      if (*apps_register) {
        if (opt_start) (*body)["start"] = true;
        if (opt_enable) (*body)["enable"] = true;
        if (opt_adopt) (*body)["adopt"] = true;
        return send("POST", "/api/apps/register", *body, [](const json& d) {
          std::string out = fmt::format("registered {} ({})", cell(d["name"]), cell(d["unit_path"]));
          if (d.contains("start_error")) out += "\nbut the start failed: " + cell(d["start_error"]["message"]);
          return out;
        });
      }
      return send("PUT", "/api/apps/" + app_name, *body,
                  [](const json& d) { return fmt::format("updated {}: {}", cell(d["name"]), cell(d["status"])); });
    }
    if (*app_verbs["status"]) {
      return send("GET", "/api/apps/" + app_name + "/status", std::nullopt, [](const json& d) {
        return fmt::format("{}: {} ({}), pid {}, restarts {}{}", cell(d["name"]), cell(d["status"]),
                           cell(d["systemd_status"]), cell(d["pid"]), cell(d["restart_count"]),
                           d.contains("failure") ? ", " + cell(d["failure"]) : "");
      });
    }
    if (*app_verbs["show"]) {
      return send("GET", "/api/apps/" + app_name, std::nullopt, [](const json& d) { return d.dump(2); });
    }
    if (*app_verbs["delete"]) {
      return send("DELETE", "/api/apps/" + app_name, std::nullopt,
                  [&](const json&) { return fmt::format("deleted {}", app_name); });
    }
    for (const char* verb : {"start", "stop", "restart", "enable", "disable"}) {
      if (*app_verbs[verb]) {
        return send("POST", fmt::format("/api/apps/{}/{}", app_name, verb), std::nullopt, [&](const json& d) {
          return fmt::format("{}: {} done, now {}", app_name, verb,
                             d.contains("state") ? cell(d["state"]["status"]) : "?");
        });
      }
    }
  }

  // --- local registry commands ---
  if (*token || *user) {
    auto reg = siax::registry::SqliteRegistry::open(cfg->paths.state_dir + "/registry.db");
    if (!reg) return report(reg.error(), as_json);
    auto role = siax::registry::role_from_string(role_name);
    if (!role) {
      return report({ErrorKind::InvalidInput, "invalid_role", "the role must be viewer, operator or admin", {}},
                    as_json);
    }
    if (*token_create) {
      auto secret = siax::auth::generate_token();
      if (!secret) return report(secret.error(), as_json);
      auto hash = siax::auth::hash_token(*secret);
      if (!hash) return report(hash.error(), as_json);
      auto id = (*reg)->add_token(token_name, *role, *hash, now_usec());
      if (!id) return report(id.error(), as_json);
      return print_ok({{"id", *id}, {"name", token_name}, {"role", role_name}, {"token", *secret}}, as_json,
                      fmt::format("token {} ({}, {}): {}\nIt is shown once: store it now. Use it as "
                                  "'Authorization: Bearer <token>'.",
                                  *id, token_name, role_name, *secret));
    }
    if (*token_list) {
      auto list = (*reg)->list_tokens();
      if (!list) return report(list.error(), as_json);
      json data = json::array();
      std::string text = fmt::format("{:>4} {:<24} {:<9} {:<8} {}", "ID", "NAME", "ROLE", "STATE", "LAST USED (UTC)");
      for (const auto& t : *list) {
        data.push_back({{"id", t.id},
                        {"name", t.name},
                        {"role", siax::registry::to_string(t.role)},
                        {"created_at_usec", t.created_at_usec},
                        {"revoked", t.revoked_at_usec.has_value()},
                        {"last_used_at_usec", t.last_used_at_usec ? json(*t.last_used_at_usec) : json(nullptr)}});
        std::string used = "never";
        if (t.last_used_at_usec) {
          const std::time_t secs = static_cast<std::time_t>(*t.last_used_at_usec / 1'000'000);
          used = fmt::format("{:%Y-%m-%d %H:%M}", fmt::gmtime(secs));
        }
        text += fmt::format("\n{:>4} {:<24} {:<9} {:<8} {}", t.id, t.name, siax::registry::to_string(t.role),
                            t.revoked_at_usec ? "revoked" : "active", used);
      }
      return print_ok(data, as_json, text);
    }
    if (*token_revoke) {
      auto list = (*reg)->list_tokens();
      if (!list) return report(list.error(), as_json);
      for (const auto& t : *list) {
        if ((std::to_string(t.id) == token_name || t.name == token_name) && !t.revoked_at_usec) {
          auto r = (*reg)->revoke_token(t.id, now_usec());
          if (!r) return report(r.error(), as_json);
          return print_ok({{"id", t.id}, {"revoked", true}}, as_json, fmt::format("revoked token {} ({})", t.id, t.name));
        }
      }
      return report({ErrorKind::NotFound, "token_not_found", fmt::format("no active token '{}'", token_name), {}},
                    as_json);
    }
    if (*user_passwd) {
      std::string password;
      std::getline(std::cin, password);
      if (password.size() < 10) {
        return report({ErrorKind::InvalidInput, "weak_password", "use a password of at least 10 characters", {}},
                      as_json);
      }
      auto hash = siax::auth::hash_password(password);
      if (!hash) return report(hash.error(), as_json);
      auto existing = (*reg)->get_user(user_name);
      if (!existing) return report(existing.error(), as_json);
      siax::registry::UserRecord rec{user_name, *hash, *existing ? (*existing)->role : *role, now_usec()};
      if (*existing && !user_passwd->count("--role")) rec.role = (*existing)->role;
      if (auto s = (*reg)->put_user(rec); !s) return report(s.error(), as_json);
      // The first start's generated password is no longer the admin's: drop its file.
      if (user_name == "admin") (void)::unlink((cfg->paths.state_dir + "/initial-admin-password").c_str());
      return print_ok({{"user", user_name}}, as_json, fmt::format("password of {} set", user_name));
    }
  }

  // --- the systemd layer directly ---
  if (*render) {
    auto j = read_json_file(def_file);
    if (!j) return report(j.error(), as_json);
    auto def = siax::appdef::definition_from_json(*j);
    if (!def) return report(def.error(), as_json);
    auto text = siax::core::render_unit(
        *def, {cfg->runtimes.node, cfg->runtimes.npm, cfg->runtimes.python},
        siax::adapters::FsSecretStore(siax::adapters::default_secrets_directory(cfg->paths.state_dir)).path_of(def->name));
    if (!text) return report(text.error(), as_json);
    return print_ok({{"unit", siax::core::unit_name_for(def->name)}, {"content", *text}}, as_json, *text);
  }

  siax::adapters::SdbusSystemd::Options opts;
  opts.start_settle = cfg->apps.start_settle;
  opts.job_timeout = cfg->apps.job_timeout;
  auto systemd = siax::adapters::SdbusSystemd::connect(opts);
  if (!systemd) return report(systemd.error(), as_json);
  siax::adapters::FsUnitStore store(cfg->paths.unit_dir);
  siax::adapters::FsSecretStore secrets(siax::adapters::default_secrets_directory(cfg->paths.state_dir));
  siax::adapters::LinuxHost host;
  siax::units::PreflightSettings settings;
  settings.allow_root = cfg->apps.allow_root_apps;
  settings.interpreters = {cfg->runtimes.node, cfg->runtimes.npm, cfg->runtimes.python};
  siax::units::AppUnits units(**systemd, store, host, settings, &secrets);

  if (*perms) {
    auto p = units.permissions();
    return print_ok(permissions_json(p), as_json, permissions_text(p));
  }
  if (*install) {
    auto j = read_json_file(def_file);
    if (!j) return report(j.error(), as_json);
    auto def = siax::appdef::definition_from_json(*j);
    if (!def) return report(def.error(), as_json);
    auto out = units.install(*def);
    if (!out) return report(out.error(), as_json);
    return print_ok({{"unit", out->unit}, {"path", out->path}, {"changed", out->changed}}, as_json,
                    fmt::format("{} {}", out->changed ? "installed" : "unchanged", out->path));
  }
  if (*unit_list) {
    auto list = units.list_installed();
    if (!list) return report(list.error(), as_json);
    std::string text;
    for (const auto& a : *list) text += a + "\n";
    if (!text.empty()) text.pop_back();
    return print_ok(*list, as_json, text);
  }
  if (*verbs["status"]) {
    auto st = units.status(app_name);
    if (!st) return report(st.error(), as_json);
    return print_ok(siax::appdef::status_to_json(*st), as_json,
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
