#pragma once
/// `siax-agent unit ...` and `siax-agent permissions`: the systemd layer directly,
/// without a running agent (render, install, start/stop/..., status, list).
#include <map>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/options.h"
#include "config/config.h"
#include "units/app_units.h"

namespace siax::cli {

class UnitCommands {
 public:
  explicit UnitCommands(CLI::App& app);
  [[nodiscard]] bool selected() const { return *unit_ || *permissions_; }
  int run(const config::Config& cfg, const GlobalOptions& g);

 private:
  int render(const config::Config& cfg, bool as_json);
  int run_on(units::AppUnits& units, bool as_json);

  CLI::App* unit_ = nullptr;
  CLI::App* permissions_ = nullptr;
  CLI::App* render_ = nullptr;
  CLI::App* install_ = nullptr;
  CLI::App* list_ = nullptr;
  std::map<std::string, CLI::App*> verbs_;
  std::string def_file_;
  std::string app_name_;
};

}  // namespace siax::cli
