#pragma once
/// The options every subcommand shares (set on the top-level command line).
#include <string>
#include <vector>

namespace siax::cli {

struct GlobalOptions {
  bool as_json = false;
  std::string config_path;
  std::vector<std::string> sets;
  std::string token_flag;
  std::string token_file;
  bool use_tcp = false;
};

}  // namespace siax::cli
