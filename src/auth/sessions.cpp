#include "auth/sessions.h"

#include <algorithm>
#include <cstdint>

#include <fmt/format.h>

#include "auth/crypto_util.h"
#include "common/strings.h"

namespace siax::auth {

namespace {

Result<std::string> random_id() {
  auto bytes = random_bytes(32);
  if (!bytes) return tl::unexpected(bytes.error());
  return base64url_encode(bytes->data(), bytes->size());
}

std::string cookie_attributes(std::chrono::seconds max_age, bool secure) {
  return fmt::format("; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}", std::max<std::int64_t>(0, max_age.count()),
                     secure ? "; Secure" : "");
}

}  // namespace

SessionStore::SessionStore(const Clock& clock, SessionOptions options) : clock_(clock), options_(options) {}

TimePoint SessionStore::expiry_of(const Session& s) const {
  return std::min(s.last_seen + options_.idle_timeout, s.created + options_.absolute_lifetime);
}

void SessionStore::purge_expired_locked(TimePoint now) {
  std::erase_if(sessions_, [&](const auto& kv) { return now >= kv.second.expires_at; });
}

Result<Session> SessionStore::create(std::string username, Role role, std::string stamp) {
  auto id = random_id();
  if (!id) return tl::unexpected(id.error());
  auto csrf = random_id();
  if (!csrf) return tl::unexpected(csrf.error());

  const auto now = clock_.now();
  Session s;
  s.id = std::move(*id);
  s.csrf_token = std::move(*csrf);
  s.username = std::move(username);
  s.role = role;
  s.stamp = std::move(stamp);
  s.created = now;
  s.last_seen = now;
  s.expires_at = expiry_of(s);

  std::lock_guard lock(mutex_);
  if (options_.max_sessions == 0) return s;  // a store that keeps nothing: the session is never found
  if (sessions_.size() >= options_.max_sessions) purge_expired_locked(now);
  while (sessions_.size() >= options_.max_sessions) {
    // O(max_sessions), only when full; logins are throttled, so this stays cheap.
    auto lru = std::min_element(sessions_.begin(), sessions_.end(),
                                [](const auto& a, const auto& b) { return a.second.last_seen < b.second.last_seen; });
    sessions_.erase(lru);
  }
  sessions_.emplace(s.id, s);
  return s;
}

std::optional<Session> SessionStore::find(std::string_view id) {
  const auto now = clock_.now();
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  if (now >= it->second.expires_at) {
    sessions_.erase(it);
    return std::nullopt;
  }
  it->second.last_seen = std::max(it->second.last_seen, now);
  it->second.expires_at = expiry_of(it->second);
  return it->second;
}

bool SessionStore::remove(std::string_view id) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return false;
  sessions_.erase(it);
  return true;
}

std::size_t SessionStore::remove_user(std::string_view username) {
  std::lock_guard lock(mutex_);
  return std::erase_if(sessions_, [&](const auto& kv) { return kv.second.username == username; });
}

std::size_t SessionStore::retain_current(
    const std::function<std::optional<std::string>(const std::string& user)>& current_stamp) {
  std::lock_guard lock(mutex_);
  return std::erase_if(sessions_, [&](const auto& kv) {
    auto stamp = current_stamp(kv.second.username);
    return !stamp || *stamp != kv.second.stamp;
  });
}

std::size_t SessionStore::size() {
  const auto now = clock_.now();
  std::lock_guard lock(mutex_);
  purge_expired_locked(now);
  return sessions_.size();
}

bool check_csrf(const Session& session, std::string_view header_value) noexcept {
  if (header_value.empty() || session.csrf_token.empty()) return false;
  return constant_time_equals(session.csrf_token, header_value);
}

std::string_view session_cookie_name(bool secure) noexcept {
  return secure ? kSecureSessionCookieName : kSessionCookieName;
}

std::string session_cookie(std::string_view id, std::chrono::seconds max_age, bool secure) {
  return fmt::format("{}={}{}", session_cookie_name(secure), id, cookie_attributes(max_age, secure));
}

std::string clear_session_cookie(bool secure) {
  return fmt::format("{}={}", session_cookie_name(secure), cookie_attributes(std::chrono::seconds(0), secure));
}

std::vector<std::pair<std::string_view, std::string_view>> parse_cookie_header(std::string_view header) {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  while (!header.empty()) {
    const auto end = header.find(';');
    const auto part = header.substr(0, end);
    header = end == std::string_view::npos ? std::string_view{} : header.substr(end + 1);
    const auto eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    const auto name = trim(part.substr(0, eq));
    auto value = trim(part.substr(eq + 1));
    // RFC 6265 allows a value in double quotes; the quotes are not part of it.
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    if (name.empty()) continue;
    out.emplace_back(name, value);
  }
  return out;
}

std::optional<std::string> session_id_from_cookie_header(std::string_view header, bool secure) {
  const auto wanted = session_cookie_name(secure);
  for (const auto& [name, value] : parse_cookie_header(header)) {
    if (name == wanted) {
      if (value.empty()) return std::nullopt;
      return std::string(value);
    }
  }
  return std::nullopt;
}

}  // namespace siax::auth
