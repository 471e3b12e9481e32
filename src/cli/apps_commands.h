#pragma once
/// `siax-agent apps ...` and `siax-agent audit`: a client of the running agent's API,
/// over its local socket (or --tcp), with a token (--token-file, --token, $SIAX_TOKEN,
/// <state_dir>/cli-token).
#include <map>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/client.h"
#include "cli/options.h"
#include "config/config.h"

namespace siax::cli {

class AppsCommands {
 public:
  /// Registers the subcommands on `app`.
  explicit AppsCommands(CLI::App& app);
  [[nodiscard]] bool selected() const { return *apps_ || *audit_; }
  int run(const config::Config& cfg, const GlobalOptions& g);

 private:
  int run_apps(const Endpoint& ep, bool as_json);

  CLI::App* apps_ = nullptr;
  CLI::App* audit_ = nullptr;
  CLI::App* list_ = nullptr;
  CLI::App* register_ = nullptr;
  CLI::App* update_ = nullptr;
  std::map<std::string, CLI::App*> verbs_;
  std::string app_name_;
  std::string def_file_;
  bool start_ = false;
  bool enable_ = false;
  bool adopt_ = false;
  bool watch_ = false;
  std::string audit_app_;
  int audit_limit_ = 50;
};

}  // namespace siax::cli
