#pragma once
/// Panel login sessions, in memory (a restart of the agent logs everyone out, by design:
/// no session secret ever touches the disk).
///
/// A session ends at the earlier of
///   - its idle timeout after the last use (sliding: every successful find() renews it),
///   - its absolute lifetime after creation (never renewed).
/// Expired sessions are removed when found and whenever the store is full.
///
/// Bound: at most `max_sessions` sessions. Creating one more first drops expired
/// sessions, then evicts the least recently used one (so an active user is not logged out
/// by a burst of new logins while an abandoned session lingers).
///
/// Cross-site requests: the cookie is SameSite=Strict, and every state-changing request
/// must also carry the session's CSRF token in a header (check_csrf).
///
/// Threading: SessionStore is safe to use from any thread (one mutex). Time comes from
/// the injected Clock (common/clock.h; it must outlive the store), never from the system clock directly.
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "auth/clock.h"
#include "auth/roles.h"
#include "common/result.h"

namespace siax::auth {

struct Session {
  std::string id;          ///< 32 random bytes, base64url (43 characters); the cookie value
  std::string csrf_token;  ///< 32 other random bytes, base64url; sent by the panel in a header
  std::string username;
  Role role = Role::Viewer;
  /// What the user's credentials were at login (e.g. a digest of the password hash and
  /// role); retain_current() ends the session when they change.
  std::string stamp;
  TimePoint created{};
  TimePoint last_seen{};
  TimePoint expires_at{};  ///< min(last_seen + idle_timeout, created + absolute_lifetime)
};

struct SessionOptions {
  std::chrono::seconds idle_timeout = std::chrono::hours(8);
  std::chrono::seconds absolute_lifetime = std::chrono::hours(24);
  std::size_t max_sessions = 1000;
};

class SessionStore {
 public:
  explicit SessionStore(const Clock& clock, SessionOptions options = {});

  SessionStore(const SessionStore&) = delete;
  SessionStore& operator=(const SessionStore&) = delete;

  /// A new session for a user who just proved who they are. Fails only when the CSPRNG
  /// fails (see random_bytes).
  [[nodiscard]] Result<Session> create(std::string username, Role role, std::string stamp = {});

  /// The live session with this id, its idle timeout renewed; nullopt when unknown or
  /// expired (an expired session is removed).
  [[nodiscard]] std::optional<Session> find(std::string_view id);

  /// Logout. True when the session existed.
  bool remove(std::string_view id);
  /// Ends every session of a user (password change, user deleted). Returns how many.
  std::size_t remove_user(std::string_view username);

  /// Ends every session whose user is gone (`current_stamp` answers nullopt) or whose
  /// credentials changed since login (a different stamp); returns how many ended. Called
  /// with the store locked: `current_stamp` must not call back into the store.
  std::size_t retain_current(const std::function<std::optional<std::string>(const std::string& user)>& current_stamp);

  /// Live sessions (expired ones are dropped first).
  [[nodiscard]] std::size_t size();

  [[nodiscard]] const SessionOptions& options() const noexcept { return options_; }

 private:
  struct TransparentHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };

  [[nodiscard]] TimePoint expiry_of(const Session& s) const;
  void purge_expired_locked(TimePoint now);

  const Clock& clock_;
  const SessionOptions options_;
  std::mutex mutex_;
  std::unordered_map<std::string, Session, TransparentHash, std::equal_to<>> sessions_;
};

/// True when `header_value` is the session's CSRF token (constant-time comparison);
/// false for an empty or missing value.
[[nodiscard]] bool check_csrf(const Session& session, std::string_view header_value) noexcept;

inline constexpr std::string_view kSessionCookieName = "siax_session";
/// The name under TLS: the `__Host-` prefix makes browsers refuse it unless it is Secure,
/// has Path=/ and no Domain, so a sibling (sub)domain cannot plant or overwrite it.
inline constexpr std::string_view kSecureSessionCookieName = "__Host-siax_session";
/// kSecureSessionCookieName when `secure` (TLS), else kSessionCookieName.
[[nodiscard]] std::string_view session_cookie_name(bool secure) noexcept;
/// The header the panel sends the CSRF token in.
inline constexpr std::string_view kCsrfHeaderName = "X-CSRF-Token";

/// The Set-Cookie value for a new session:
/// "siax_session=<id>; Path=/; Max-Age=<s>; HttpOnly; SameSite=Strict", under TLS
/// "__Host-siax_session=<id>; ...; Secure".
/// `secure` must be true whenever the panel is served over TLS. `id` must be a session
/// id from create() (base64url, safe in a cookie).
[[nodiscard]] std::string session_cookie(std::string_view id, std::chrono::seconds max_age, bool secure);
/// The Set-Cookie value that makes the browser drop the cookie (logout): empty value,
/// Max-Age=0, same attributes.
[[nodiscard]] std::string clear_session_cookie(bool secure);

/// The name=value pairs of a Cookie request header ("a=1; b=2"), in order, names and
/// values trimmed of spaces; pairs without '=' are skipped. Views into `header`.
[[nodiscard]] std::vector<std::pair<std::string_view, std::string_view>> parse_cookie_header(std::string_view header);
/// The value of the first session cookie (named session_cookie_name(secure)), if any and
/// non-empty.
[[nodiscard]] std::optional<std::string> session_id_from_cookie_header(std::string_view header, bool secure = false);

}  // namespace siax::auth
