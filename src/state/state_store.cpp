#include "state/state_store.h"

#include <algorithm>
#include <set>

namespace siax::state {

using nlohmann::json;

// ---- Subscription ---------------------------------------------------------------------

Subscription::Batch Subscription::take() {
  std::lock_guard lock(mu_);
  Batch b;
  b.snapshot = snapshot_;
  snapshot_ = false;
  b.changes.assign(queue_.begin(), queue_.end());
  queue_.clear();
  if (b.snapshot) b.changes.clear();
  return b;
}

bool Subscription::pending() const {
  std::lock_guard lock(mu_);
  return snapshot_ || !queue_.empty();
}

std::size_t Subscription::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

std::uint64_t Subscription::overflows() const {
  std::lock_guard lock(mu_);
  return overflows_;
}

void Subscription::request_snapshot() {
  std::lock_guard lock(mu_);
  snapshot_ = true;
  queue_.clear();
}

void Subscription::push(const ChangePtr& change) {
  std::lock_guard lock(mu_);
  if (snapshot_) return;  // it starts over anyway: queue nothing
  if (queue_.size() >= max_queue_) {
    // Too far behind: drop the queue, the reader gets a fresh snapshot instead.
    queue_.clear();
    snapshot_ = true;
    ++overflows_;
    return;
  }
  queue_.push_back(change);
}

// ---- StateStore -----------------------------------------------------------------------

StateStore::StateStore(StoreOptions options, std::function<void()> notify)
    : options_(options), notify_(std::move(notify)) {}

const std::vector<std::string>& StateStore::usage_fields() {
  static const std::vector<std::string> fields = {"cpu_usage", "memory_usage", "memory_source", "uptime_seconds",
                                                  "monitored_at"};
  return fields;
}

namespace {

std::string serialize(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

/// A digest of an app object without its usage fields (two objects with the same shape
/// differ only in usage). Takes the object: it erases the fields from it.
std::uint64_t shape_of(json&& j) {
  if (j.is_object()) {
    for (const auto& f : StateStore::usage_fields()) j.erase(f);
  }
  return std::hash<std::string>{}(serialize(j));
}

}  // namespace

void StateStore::record(std::string type, json data, std::vector<ChangePtr>& out) {
  ++version_;
  data["version"] = version_;
  auto change = std::make_shared<Change>();
  change->version = version_;
  change->type = std::move(type);
  change->data = data.dump(-1, ' ', false, json::error_handler_t::replace);
  history_.push_back(change);
  while (history_.size() > std::max<std::size_t>(1, options_.history)) history_.pop_front();
  ++stats_.changes;
  out.push_back(std::move(change));
}

void StateStore::record_app(const std::string& object, std::vector<ChangePtr>& out) {
  ++version_;
  auto change = std::make_shared<Change>();
  change->version = version_;
  change->type = "app";
  // What record("app", {"app": object}) writes: keys in order ("app" < "version").
  change->data = "{\"app\":" + object + ",\"version\":" + std::to_string(version_) + "}";
  history_.push_back(change);
  while (history_.size() > std::max<std::size_t>(1, options_.history)) history_.pop_front();
  ++stats_.changes;
  out.push_back(std::move(change));
}

void StateStore::publish(const std::vector<ChangePtr>& changes) {
  if (changes.empty()) return;
  std::vector<std::shared_ptr<Subscription>> subs;
  {
    std::lock_guard lock(mu_);
    for (auto it = subscribers_.begin(); it != subscribers_.end();) {
      if (auto s = it->lock()) {
        subs.push_back(std::move(s));
        ++it;
      } else {
        it = subscribers_.erase(it);
      }
    }
  }
  for (const auto& s : subs) {
    const auto before = s->overflows();
    for (const auto& c : changes) s->push(c);
    if (s->overflows() != before) {
      std::lock_guard lock(mu_);
      stats_.subscriber_overflows += s->overflows() - before;
    }
  }
  if (notify_) notify_();
}

bool StateStore::put_app(const std::string& name, json app, json extra, std::int64_t now_ms, std::uint64_t order) {
  std::string extra_text = serialize(extra);
  std::string text = serialize(app);
  const std::uint64_t shape = shape_of(std::move(app));
  std::vector<ChangePtr> out;
  {
    std::lock_guard lock(mu_);
    auto it = apps_.find(name);
    if (it != apps_.end()) {
      if (is_stale(order, it->second.order)) {
        ++stats_.stale;
        return false;
      }
      if (order != 0) it->second.order = std::max(it->second.order, order);
      it->second.extra = std::move(extra_text);
      if (it->second.object == text) {
        ++stats_.unchanged;
        return false;
      }
      const bool usage_only = it->second.shape == shape;
      if (usage_only && now_ms - it->second.usage_at_ms < options_.usage_interval_ms) {
        ++stats_.coalesced;
        return false;
      }
      it->second.object = std::move(text);
      it->second.shape = shape;
      it->second.usage_at_ms = now_ms;
    } else {
      it = apps_.emplace(name, AppEntry{std::move(text), shape, std::move(extra_text), now_ms, order}).first;
    }
    record_app(it->second.object, out);
    apps_version_ = version_;
  }
  publish(out);
  return true;
}

bool StateStore::put_usage(const std::string& name, const json& usage, std::int64_t now_ms) {
  if (!usage.is_object()) return false;
  std::vector<ChangePtr> out;
  {
    std::lock_guard lock(mu_);
    auto it = apps_.find(name);
    if (it == apps_.end()) return false;
    json object = json::parse(it->second.object, nullptr, false);  // ours: valid
    if (!object.is_object()) return false;
    bool differs = false;
    for (const auto& f : usage_fields()) {
      auto u = usage.find(f);
      if (u == usage.end()) continue;
      auto held = object.find(f);
      if (held == object.end() || *held != *u) differs = true;
    }
    if (!differs) {
      ++stats_.unchanged;
      return false;
    }
    if (now_ms - it->second.usage_at_ms < options_.usage_interval_ms) {
      ++stats_.coalesced;
      return false;
    }
    for (const auto& f : usage_fields()) {
      if (auto u = usage.find(f); u != usage.end()) object[f] = *u;
    }
    it->second.object = serialize(object);  // the shape stays: only usage moved
    it->second.usage_at_ms = now_ms;
    record_app(it->second.object, out);
    apps_version_ = version_;
  }
  publish(out);
  return true;
}

bool is_stale(std::uint64_t order, std::uint64_t held) {
  return order != 0 && held != 0 && order < held;  // monotonic: never set back within a boot
}

bool StateStore::remove_app(const std::string& name) {
  std::vector<ChangePtr> out;
  {
    std::lock_guard lock(mu_);
    if (apps_.erase(name) == 0) return false;
    record("app_removed", json{{"name", name}}, out);
    apps_version_ = version_;
  }
  publish(out);
  return true;
}

void StateStore::retain_apps(const std::vector<std::string>& names) {
  const std::set<std::string> keep(names.begin(), names.end());
  std::vector<ChangePtr> out;
  {
    std::lock_guard lock(mu_);
    for (auto it = apps_.begin(); it != apps_.end();) {
      if (keep.count(it->first) != 0) {
        ++it;
        continue;
      }
      record("app_removed", json{{"name", it->first}}, out);
      apps_version_ = version_;
      it = apps_.erase(it);
    }
  }
  publish(out);
}

bool StateStore::put_monitored(const std::string& key, json process) {
  std::vector<ChangePtr> out;
  {
    std::lock_guard lock(mu_);
    auto& slot = monitored_[key];
    if (slot == process) {
      ++stats_.unchanged;
      return false;
    }
    slot = std::move(process);
    record("monitored", json{{"process", slot}}, out);
  }
  publish(out);
  return true;
}

bool StateStore::put_monitored_if_absent(const std::string& key, json process) {
  std::vector<ChangePtr> out;
  {
    std::lock_guard lock(mu_);
    if (monitored_.count(key) != 0) return false;
    auto& slot = monitored_[key];
    slot = std::move(process);
    record("monitored", json{{"process", slot}}, out);
  }
  publish(out);
  return true;
}

bool StateStore::remove_monitored(const std::string& key) {
  std::vector<ChangePtr> out;
  {
    std::lock_guard lock(mu_);
    if (monitored_.erase(key) == 0) return false;
    record("monitored_removed", json{{"id", key}}, out);
  }
  publish(out);
  return true;
}

void StateStore::retain_monitored(const std::vector<std::string>& keys) {
  const std::set<std::string> keep(keys.begin(), keys.end());
  std::vector<ChangePtr> out;
  {
    std::lock_guard lock(mu_);
    for (auto it = monitored_.begin(); it != monitored_.end();) {
      if (keep.count(it->first) != 0) {
        ++it;
        continue;
      }
      record("monitored_removed", json{{"id", it->first}}, out);
      it = monitored_.erase(it);
    }
  }
  publish(out);
}

void StateStore::add_event(json event) {
  std::vector<ChangePtr> out;
  {
    std::lock_guard lock(mu_);
    record("event", json{{"event", std::move(event)}}, out);
  }
  publish(out);
}

bool StateStore::set_system(json system) {
  std::vector<ChangePtr> out;
  {
    std::lock_guard lock(mu_);
    if (system_ == system) return false;
    system_ = system;
    record("system", std::move(system), out);
  }
  publish(out);
  return true;
}

void StateStore::set_ready() {
  std::lock_guard lock(mu_);
  ready_ = true;
}

bool StateStore::ready() const {
  std::lock_guard lock(mu_);
  return ready_;
}

std::uint64_t StateStore::version() const {
  std::lock_guard lock(mu_);
  return version_;
}

std::string StateStore::apps_array() const {
  std::string s = "[";
  for (const auto& [name, e] : apps_) {
    if (s.size() > 1) s += ',';
    s += e.object;
  }
  s += ']';
  return s;
}

AppList StateStore::apps() const {
  std::lock_guard lock(mu_);
  if (!apps_cache_.json || apps_cache_.version != apps_version_) {
    apps_cache_.version = apps_version_;
    apps_cache_.json = std::make_shared<const std::string>(apps_array());
  }
  return apps_cache_;
}

std::optional<json> StateStore::app(const std::string& name) const {
  std::string object;
  {
    std::lock_guard lock(mu_);
    auto it = apps_.find(name);
    if (it == apps_.end()) return std::nullopt;
    object = it->second.object;
  }
  return json::parse(object, nullptr, false);  // ours: valid
}

std::optional<json> StateStore::app_extra(const std::string& name) const {
  auto held = app_with_extra(name);
  if (!held) return std::nullopt;
  return std::move(held->second);
}

std::optional<std::pair<json, json>> StateStore::app_with_extra(const std::string& name) const {
  std::string object;
  std::string extra;
  {
    std::lock_guard lock(mu_);
    auto it = apps_.find(name);
    if (it == apps_.end()) return std::nullopt;
    object = it->second.object;
    extra = it->second.extra;
  }
  return std::make_pair(json::parse(object, nullptr, false), json::parse(extra, nullptr, false));  // ours: valid
}

std::vector<json> StateStore::all_monitored() const {
  std::lock_guard lock(mu_);
  std::vector<json> out;
  out.reserve(monitored_.size());
  for (const auto& [key, m] : monitored_) out.push_back(m);
  return out;
}

json StateStore::system() const {
  std::lock_guard lock(mu_);
  return system_;
}

Snapshot StateStore::snapshot() const {
  const AppList list = apps();
  std::lock_guard lock(mu_);
  // The app list may have moved between the two locks; serialize the apps again then.
  std::string apps_json;
  if (list.version == apps_version_) {
    apps_json = *list.json;
  } else {
    apps_json = apps_array();
  }
  json monitored = json::array();
  for (const auto& [key, m] : monitored_) monitored.push_back(m);
  Snapshot s;
  s.version = version_;
  s.data = "{\"version\":" + std::to_string(version_) + ",\"apps\":" + apps_json +
           ",\"monitored\":" + monitored.dump(-1, ' ', false, json::error_handler_t::replace) +
           ",\"system\":" + system_.dump(-1, ' ', false, json::error_handler_t::replace) + "}";
  return s;
}

std::optional<std::vector<ChangePtr>> StateStore::changes_since(std::uint64_t version) const {
  std::lock_guard lock(mu_);
  if (version > version_) return std::nullopt;
  std::vector<ChangePtr> out;
  if (version == version_) return out;
  // Every version in (version, version_] must still be in the history.
  if (history_.empty() || history_.front()->version > version + 1) return std::nullopt;
  for (const auto& c : history_) {
    if (c->version > version) out.push_back(c);
  }
  return out;
}

StoreStats StateStore::stats() const {
  std::lock_guard lock(mu_);
  StoreStats s = stats_;
  s.version = version_;
  s.apps = apps_.size();
  s.monitored = monitored_.size();
  s.subscribers = static_cast<std::size_t>(
      std::count_if(subscribers_.begin(), subscribers_.end(), [](const auto& w) { return !w.expired(); }));
  return s;
}

Result<std::shared_ptr<Subscription>> StateStore::subscribe() {
  std::lock_guard lock(mu_);
  subscribers_.erase(std::remove_if(subscribers_.begin(), subscribers_.end(), [](const auto& w) { return w.expired(); }),
                     subscribers_.end());
  if (subscribers_.size() >= options_.max_subscribers) {
    return fail(ErrorKind::RateLimited, "too_many_streams",
                "too many live streams are open on this agent; close one or raise state.max_streams");
  }
  auto s = std::make_shared<Subscription>(options_.max_queue);
  subscribers_.push_back(s);
  return s;
}

}  // namespace siax::state
