#pragma once
/// `siax-agent token create|list|revoke` and `siax-agent user set-password`: credentials,
/// written directly in the registry (local, root). A token's secret is shown once; only
/// its hash is stored. Token changes are announced to the running agent
/// (token_notify.h), so that they are in effect when the command returns.
#include <string>

#include <CLI/CLI.hpp>

#include "cli/options.h"
#include "config/config.h"
#include "registry/registry.h"

namespace siax::cli {

class CredentialsCommands {
 public:
  explicit CredentialsCommands(CLI::App& app);
  [[nodiscard]] bool selected() const { return *token_ || *user_; }
  int run(const config::Config& cfg, const GlobalOptions& g);

 private:
  int create_token(const config::Config& cfg, registry::Registry& reg, registry::Role role, bool as_json);
  int list_tokens(registry::Registry& reg, bool as_json);
  int revoke_token(const config::Config& cfg, registry::Registry& reg, bool as_json);
  int set_password(registry::Registry& reg, registry::Role role, const std::string& state_dir, bool as_json);

  CLI::App* token_ = nullptr;
  CLI::App* user_ = nullptr;
  CLI::App* token_create_ = nullptr;
  CLI::App* token_list_ = nullptr;
  CLI::App* token_revoke_ = nullptr;
  CLI::App* user_passwd_ = nullptr;
  std::string token_name_;
  std::string role_name_ = "viewer";
  std::string user_name_;
};

}  // namespace siax::cli
