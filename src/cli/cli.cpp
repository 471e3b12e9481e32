#include "cli/cli.h"

#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/apps_commands.h"
#include "cli/credentials_commands.h"
#include "cli/options.h"
#include "cli/output.h"
#include "cli/serve.h"
#include "cli/unit_commands.h"
#include "cli/unit_helper.h"
#include "config/config.h"

extern char** environ;

namespace siax::cli {
namespace {

void add_global_options(CLI::App& app, GlobalOptions& g) {
  app.add_flag("--json", g.as_json, "print JSON ({success, data, error}) instead of text");
  app.add_option("--config", g.config_path, "configuration file (default /etc/siax-agent/agent.toml if present)");
  app.add_option("--set", g.sets, "override a setting: --set server.port=9090 (repeatable)");
  app.add_option("--token", g.token_flag,
                 "API token for apps/audit commands; '-' reads it from standard input (default: $SIAX_TOKEN, "
                 "<state_dir>/cli-token). A value here is visible in 'ps': prefer '-' or --token-file");
  app.add_option("--token-file", g.token_file, "read the API token from the first line of this file")
      ->check(CLI::ExistingFile);
  app.add_flag("--tcp", g.use_tcp,
               "apps/audit: talk to the agent over TCP (server.listen_address:server.port) instead of its local socket "
               "<state_dir>/agent.sock; the token then goes to whatever listens on that port");
}

Result<config::Config> load(const GlobalOptions& g) {
  config::Overrides overrides;
  for (const auto& s : g.sets) {
    auto kv = config::parse_override(s);
    if (!kv) return tl::unexpected(kv.error());
    overrides.push_back(*kv);
  }
  return config::load_config(g.config_path.empty() ? std::nullopt : std::optional(g.config_path),
                             config::environment_from(environ), overrides);
}

}  // namespace

int run(int argc, char** argv) {
  CLI::App app{"siax-agent: runs Node.js and Python apps as systemd services"};
  app.require_subcommand(1);
  GlobalOptions g;
  add_global_options(app, g);
  auto* version = app.add_subcommand("version", "print the version");
  auto* show_config = app.add_subcommand("config", "print the effective configuration's defaults as TOML");
  auto* serve_cmd = app.add_subcommand("serve", "run the agent: HTTP API on server.listen_address:server.port");
  AppsCommands apps(app);
  CredentialsCommands credentials(app);
  UnitCommands units(app);
  // The root unit helper (socket-activated by siax-agent-helper.socket; docs/SECURITY.md).
  UnitHelperOptions helper_opts;
  long helper_idle = 30;
  auto* unit_helper = app.add_subcommand("unit-helper", "root helper: writes siax-app-* units for the agent (user mode)");
  unit_helper->add_option("--peer-user", helper_opts.peer_user, "the agent's user, the only one served besides root");
  unit_helper->add_option("--idle-exit", helper_idle, "exit after this many seconds without a request")
      ->check(CLI::Range(1, 3600));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (*version) return print_ok({{"version", SIAX_VERSION}}, g.as_json, fmt::format("siax-agent {}", SIAX_VERSION));
  if (*show_config) {
    std::cout << config::render_default_config();
    return 0;
  }
  auto cfg = load(g);
  if (!cfg) return report(cfg.error(), g.as_json);
  if (*serve_cmd) return serve(*cfg);
  if (*unit_helper) {
    helper_opts.config_path = g.config_path;
    helper_opts.idle_exit = std::chrono::seconds(helper_idle);
    return run_unit_helper(*cfg, helper_opts);
  }
  if (apps.selected()) return apps.run(*cfg, g);
  if (credentials.selected()) return credentials.run(*cfg, g);
  return units.run(*cfg, g);
}

}  // namespace siax::cli
