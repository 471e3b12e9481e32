#include "cli/credentials_commands.h"

#include <unistd.h>

#include <ctime>
#include <iostream>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/wall_clock.h"
#include "auth/passwords.h"
#include "auth/tokens.h"
#include "cli/output.h"
#include "cli/token_notify.h"
#include "registry/sqlite_registry.h"

namespace siax::cli {

using nlohmann::json;
using app::now_usec;

CredentialsCommands::CredentialsCommands(CLI::App& app) {
  token_ = app.add_subcommand("token", "API tokens (stored only as hashes)");
  token_->require_subcommand(1);
  token_create_ = token_->add_subcommand("create", "create a token; it is shown once");
  token_create_->add_option("name", token_name_, "a name for the token, e.g. deploy-bot")->required();
  token_create_->add_option("--role", role_name_, "viewer, operator or admin")->capture_default_str();
  token_list_ = token_->add_subcommand("list", "list tokens (never their secrets)");
  token_revoke_ = token_->add_subcommand("revoke", "revoke a token by id or name");
  token_revoke_->add_option("token", token_name_, "id or name")->required();
  user_ = app.add_subcommand("user", "panel users");
  user_->require_subcommand(1);
  user_passwd_ = user_->add_subcommand("set-password", "set (or create) a panel user's password from stdin");
  user_passwd_->add_option("name", user_name_, "user name")->required();
  user_passwd_->add_option("--role", role_name_, "viewer, operator or admin (for a new user)");
}

int CredentialsCommands::run(const config::Config& cfg, const GlobalOptions& g) {
  auto reg = registry::SqliteRegistry::open(cfg.paths.state_dir + "/registry.db");
  if (!reg) return report(reg.error(), g.as_json);
  auto role = role_from_name(role_name_);
  if (!role) {
    return report({ErrorKind::InvalidInput, "invalid_role", "the role must be viewer, operator or admin", {}},
                  g.as_json);
  }
  if (*token_create_) return create_token(cfg, **reg, *role, g.as_json);
  if (*token_list_) return list_tokens(**reg, g.as_json);
  if (*token_revoke_) return revoke_token(cfg, **reg, g.as_json);
  return set_password(**reg, *role, cfg.paths.state_dir, g.as_json);
}

int CredentialsCommands::create_token(const config::Config& cfg, registry::Registry& reg, registry::Role role,
                                      bool as_json) {
  auto secret = auth::generate_token();
  if (!secret) return report(secret.error(), as_json);
  auto hash = auth::hash_token(*secret);
  if (!hash) return report(hash.error(), as_json);
  auto id = reg.add_token(token_name_, role, *hash, now_usec());
  if (!id) return report(id.error(), as_json);
  tell_agent_tokens_changed(cfg);  // in effect when we return (docs/SECURITY.md)
  return print_ok({{"id", *id}, {"name", token_name_}, {"role", role_name_}, {"token", *secret}}, as_json,
                  fmt::format("token {} ({}, {}): {}\nIt is shown once: store it now. Use it as "
                              "'Authorization: Bearer <token>'.",
                              *id, token_name_, role_name_, *secret));
}

int CredentialsCommands::list_tokens(registry::Registry& reg, bool as_json) {
  auto list = reg.list_tokens();
  if (!list) return report(list.error(), as_json);
  json data = json::array();
  std::string text = fmt::format("{:>4} {:<24} {:<9} {:<8} {}", "ID", "NAME", "ROLE", "STATE", "LAST USED (UTC)");
  for (const auto& t : *list) {
    data.push_back({{"id", t.id},
                    {"name", t.name},
                    {"role", registry::to_string(t.role)},
                    {"created_at_usec", t.created_at_usec},
                    {"revoked", t.revoked_at_usec.has_value()},
                    {"last_used_at_usec", t.last_used_at_usec ? json(*t.last_used_at_usec) : json(nullptr)}});
    std::string used = "never";
    if (t.last_used_at_usec) {
      const std::time_t secs = static_cast<std::time_t>(*t.last_used_at_usec / 1'000'000);
      used = fmt::format("{:%Y-%m-%d %H:%M}", fmt::gmtime(secs));
    }
    text += fmt::format("\n{:>4} {:<24} {:<9} {:<8} {}", t.id, t.name, registry::to_string(t.role),
                        t.revoked_at_usec ? "revoked" : "active", used);
  }
  return print_ok(data, as_json, text);
}

int CredentialsCommands::revoke_token(const config::Config& cfg, registry::Registry& reg, bool as_json) {
  auto list = reg.list_tokens();
  if (!list) return report(list.error(), as_json);
  for (const auto& t : *list) {
    if ((std::to_string(t.id) == token_name_ || t.name == token_name_) && !t.revoked_at_usec) {
      auto r = reg.revoke_token(t.id, now_usec());
      if (!r) return report(r.error(), as_json);
      tell_agent_tokens_changed(cfg);
      return print_ok({{"id", t.id}, {"revoked", true}}, as_json, fmt::format("revoked token {} ({})", t.id, t.name));
    }
  }
  return report({ErrorKind::NotFound, "token_not_found", fmt::format("no active token '{}'", token_name_), {}},
                as_json);
}

int CredentialsCommands::set_password(registry::Registry& reg, registry::Role role, const std::string& state_dir,
                                      bool as_json) {
  std::string password;
  std::getline(std::cin, password);
  if (password.size() < 10) {
    return report({ErrorKind::InvalidInput, "weak_password", "use a password of at least 10 characters", {}}, as_json);
  }
  auto hash = auth::hash_password(password);
  if (!hash) return report(hash.error(), as_json);
  auto existing = reg.get_user(user_name_);
  if (!existing) return report(existing.error(), as_json);
  registry::UserRecord rec{.username = user_name_,
                           .password_hash = *hash,
                           .role = *existing ? (*existing)->role : role,
                           .created_at_usec = now_usec()};
  if (*existing && !user_passwd_->count("--role")) rec.role = (*existing)->role;
  if (auto s = reg.put_user(rec); !s) return report(s.error(), as_json);
  // The first start's generated password is no longer the admin's: drop its file.
  if (user_name_ == "admin") (void)::unlink((state_dir + "/initial-admin-password").c_str());
  return print_ok({{"user", user_name_}}, as_json, fmt::format("password of {} set", user_name_));
}

}  // namespace siax::cli
