#pragma once
// In-memory Registry for unit tests of the modules above it (the SQLite adapter has its
// own tests under tests/unit/registry). Apps only carry real behaviour; the rest is
// kept simple but honest.
#include <map>
#include <mutex>

#include "registry/registry.h"

namespace siax::fakes {

class FakeRegistry final : public registry::Registry {
 public:
  std::map<std::string, registry::AppRecord> apps;
  std::map<std::string, registry::MonitoredProcess> monitored;
  std::vector<registry::TokenRecord> tokens;
  std::map<std::string, registry::UserRecord> users;
  std::vector<registry::AuditEntry> audit;
  std::vector<registry::EventRecord> events;
  std::map<std::string, std::string> settings;
  std::optional<Error> fail_puts;

  Result<void> put_app(const registry::AppRecord& app) override {
    if (fail_puts) return tl::unexpected(*fail_puts);
    apps[app.definition.name] = app;
    return {};
  }
  Result<std::optional<registry::AppRecord>> get_app(const std::string& name) override {
    auto it = apps.find(name);
    if (it == apps.end()) return std::optional<registry::AppRecord>{};
    return std::optional(it->second);
  }
  Result<std::vector<registry::AppRecord>> list_apps() override {
    std::vector<registry::AppRecord> out;
    for (const auto& [k, v] : apps) out.push_back(v);
    return out;
  }
  Result<bool> remove_app(const std::string& name) override { return apps.erase(name) > 0; }

  Result<void> put_monitored(const registry::MonitoredProcess& p) override {
    monitored[p.key] = p;
    return {};
  }
  Result<std::vector<registry::MonitoredProcess>> list_monitored() override {
    std::vector<registry::MonitoredProcess> out;
    for (const auto& [k, v] : monitored) out.push_back(v);
    return out;
  }
  Result<bool> remove_monitored(const std::string& key) override { return monitored.erase(key) > 0; }

  Result<std::int64_t> add_token(const std::string& name, registry::Role role, const std::string& hash,
                                 std::int64_t now) override {
    for (const auto& t : tokens) {
      if (t.name == name && !t.revoked_at_usec) return fail(ErrorKind::Conflict, "token_name_taken", "exists");
    }
    registry::TokenRecord t;
    t.id = static_cast<std::int64_t>(tokens.size()) + 1;
    t.name = name;
    t.role = role;
    t.hash = hash;
    t.created_at_usec = now;
    tokens.push_back(t);
    return t.id;
  }
  Result<std::optional<registry::TokenRecord>> find_token_by_hash(const std::string& hash) override {
    for (const auto& t : tokens) {
      if (t.hash == hash) return std::optional(t);
    }
    return std::optional<registry::TokenRecord>{};
  }
  Result<std::vector<registry::TokenRecord>> list_tokens() override { return tokens; }
  Result<bool> revoke_token(std::int64_t id, std::int64_t now) override {
    for (auto& t : tokens) {
      if (t.id == id && !t.revoked_at_usec) {
        t.revoked_at_usec = now;
        return true;
      }
    }
    return false;
  }
  Result<void> touch_token(std::int64_t id, std::int64_t now) override {
    for (auto& t : tokens) {
      if (t.id == id) t.last_used_at_usec = now;
    }
    return {};
  }

  Result<void> put_user(const registry::UserRecord& u) override {
    users[u.username] = u;
    return {};
  }
  Result<std::optional<registry::UserRecord>> get_user(const std::string& name) override {
    auto it = users.find(name);
    if (it == users.end()) return std::optional<registry::UserRecord>{};
    return std::optional(it->second);
  }
  Result<std::vector<registry::UserRecord>> list_users() override {
    std::vector<registry::UserRecord> out;
    for (const auto& [k, v] : users) out.push_back(v);
    return out;
  }

  Result<std::int64_t> append_audit(const registry::AuditEntry& e) override {
    audit.push_back(e);
    audit.back().id = static_cast<std::int64_t>(audit.size());
    return audit.back().id;
  }
  Result<std::vector<registry::AuditEntry>> query_audit(const registry::AuditQuery& q) override {
    std::vector<registry::AuditEntry> out;
    for (auto it = audit.rbegin(); it != audit.rend() && out.size() < q.limit; ++it) {
      if (q.target && it->target != *q.target) continue;
      if (q.actor && it->actor != *q.actor) continue;
      if (q.action && it->action != *q.action) continue;
      out.push_back(*it);
    }
    return out;
  }

  Result<std::int64_t> append_event(const registry::EventRecord& e) override {
    events.push_back(e);
    events.back().id = static_cast<std::int64_t>(events.size());
    return events.back().id;
  }
  Result<std::vector<registry::EventRecord>> query_events(const registry::EventQuery& q) override {
    std::vector<registry::EventRecord> out;
    for (auto it = events.rbegin(); it != events.rend() && out.size() < q.limit; ++it) {
      if (q.app && it->app != *q.app) continue;
      if (q.before_id && it->id >= *q.before_id) continue;
      out.push_back(*it);
    }
    return out;
  }

  Result<std::optional<std::string>> get_setting(const std::string& key) override {
    auto it = settings.find(key);
    if (it == settings.end()) return std::optional<std::string>{};
    return std::optional(it->second);
  }
  Result<void> put_setting(const std::string& key, const std::string& value) override {
    settings[key] = value;
    return {};
  }
};

}  // namespace siax::fakes
