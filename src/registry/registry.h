#pragma once
/// Port: the agent's persistent registry (managed apps, monitored processes, API tokens,
/// panel users, the audit log and key/value settings).
///
/// Thread: any. Every method of every implementation may be called concurrently from
/// any thread; implementations serialize internally. Calls block on disk I/O, so keep
/// them off the io_context thread (post them to the blocking pool).
///
/// Errors (common to every method): ErrorKind::Internal with code "registry_error" when
/// the store fails (disk error, corrupt database; the message carries the store's own
/// message); ErrorKind::Unavailable with code "registry_busy" when another process holds
/// the database lock for longer than the busy timeout (retry later). Method-specific
/// errors are listed on each method.
///
/// Time: the registry never reads the clock for data; callers pass every timestamp
/// (microseconds since the Unix epoch, UTC) so that tests drive time.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/role.h"
#include "core/app_definition.h"

namespace siax::registry {

// ---------------------------------------------------------------------------------------
// Value types
// ---------------------------------------------------------------------------------------

/// A managed app as stored: its definition and whether it should run at boot.
struct AppRecord {
  core::AppDefinition definition;  ///< definition.name is the key
  bool enabled = false;
  std::int64_t created_at_usec = 0;
  std::int64_t updated_at_usec = 0;

  friend bool operator==(const AppRecord&, const AppRecord&) = default;
};

/// An unmanaged process the operator picked for monitoring.
struct MonitoredProcess {
  std::string key;  ///< stable identity chosen by the monitoring module (the key)
  std::string name;
  std::string command;
  std::string user;
  std::int64_t added_at_usec = 0;

  friend bool operator==(const MonitoredProcess&, const MonitoredProcess&) = default;
};

/// What a token or a panel user may do: the one Role (common/role.h).
using ::siax::Role;
using ::siax::to_string;

/// An API token. The secret itself is never stored, only its hash.
struct TokenRecord {
  std::int64_t id = 0;  ///< assigned by add_token(); never reused
  std::string name;     ///< unique among non-revoked tokens
  Role role = Role::Viewer;
  std::string hash;  ///< hex SHA-256 of the secret
  std::int64_t created_at_usec = 0;
  std::optional<std::int64_t> last_used_at_usec;
  std::optional<std::int64_t> revoked_at_usec;

  friend bool operator==(const TokenRecord&, const TokenRecord&) = default;
};

/// A panel (login) user. The record carries the password hash; callers decide what
/// to expose.
struct UserRecord {
  std::string username;  ///< the key
  std::string password_hash;
  Role role = Role::Viewer;
  std::int64_t created_at_usec = 0;

  friend bool operator==(const UserRecord&, const UserRecord&) = default;
};

/// What a panel session remembers of its user's credentials at login: a new password
/// (a new salted hash) or another role gives another stamp, and the session ends.
[[nodiscard]] inline std::string credential_stamp(const UserRecord& user) {
  return user.password_hash + "|" + std::to_string(static_cast<int>(user.role));
}

/// One line of the audit log.
struct AuditEntry {
  std::int64_t id = 0;  ///< assigned by append_audit() (ignored on input), increasing
  std::int64_t at_usec = 0;
  std::string actor;   ///< "token:deploy-bot", "user:admin", "cli"
  std::string role;    ///< the actor's role at the time, e.g. "operator"
  std::string action;  ///< "start", "register", ...
  std::string target;  ///< app name or ""
  std::string source;  ///< remote address
  std::string result;  ///< "ok" or an error code
  std::string detail;

  friend bool operator==(const AuditEntry&, const AuditEntry&) = default;
};

/// Filters of query_audit(); unset fields do not filter. Results are newest first.
/// (Every member has a default initializer so that designated initializers such as
/// `{.target = "api", .limit = 20}` compile cleanly under -Wextra.)
struct AuditQuery {
  std::optional<std::string> target = std::nullopt;       ///< exact match
  std::optional<std::string> actor = std::nullopt;        ///< exact match
  std::optional<std::string> action = std::nullopt;       ///< exact match
  std::optional<std::int64_t> since_usec = std::nullopt;  ///< at_usec >= since_usec
  std::optional<std::int64_t> until_usec = std::nullopt;  ///< at_usec < until_usec
  std::optional<std::int64_t> before_id = std::nullopt;   ///< id < before_id: pass a page's last id for the next page
  std::size_t limit = 100;                                ///< capped at kMaxAuditPage; 0 gives an empty page
};

inline constexpr std::size_t kMaxAuditPage = 1000;

/// A discrepancy or state change the monitor noticed (crashed, zombie, failed, ...).
struct EventRecord {
  std::int64_t id = 0;  ///< assigned by append_event() (ignored on input), increasing
  std::int64_t at_usec = 0;
  std::string app;       ///< app name (or monitored process key)
  std::string kind;      ///< "crashed", "zombie", "failed", "unhealthy", "recovered", ...
  std::string severity;  ///< "info", "warning", "error"
  std::string message;   ///< one line a person understands

  friend bool operator==(const EventRecord&, const EventRecord&) = default;
};

/// Filters of query_events(); newest first.
struct EventQuery {
  std::optional<std::string> app = std::nullopt;          ///< exact match
  std::optional<std::int64_t> before_id = std::nullopt;   ///< id < before_id (paging)
  std::optional<std::int64_t> since_usec = std::nullopt;  ///< at_usec >= since_usec
  std::size_t limit = 100;                                ///< capped at kMaxEventPage
};

inline constexpr std::size_t kMaxEventPage = 1000;

// ---------------------------------------------------------------------------------------
// The port
// ---------------------------------------------------------------------------------------

class Registry {
 public:
  virtual ~Registry() = default;

  // --- Apps ----------------------------------------------------------------------------

  /// Inserts the app, or replaces every field of the app with the same definition.name
  /// (timestamps are stored as given). Durable when it returns.
  /// Errors: InvalidInput ("invalid_app_record") when the name is empty or the definition
  /// could not be read back (e.g. no user or working directory).
  [[nodiscard]] virtual Result<void> put_app(const AppRecord& app) = 0;
  /// The app named `name`, or nullopt.
  [[nodiscard]] virtual Result<std::optional<AppRecord>> get_app(const std::string& name) = 0;
  /// Every app, sorted by name.
  [[nodiscard]] virtual Result<std::vector<AppRecord>> list_apps() = 0;
  /// Removes the app; true if it existed.
  [[nodiscard]] virtual Result<bool> remove_app(const std::string& name) = 0;

  // --- Monitored processes -------------------------------------------------------------

  /// Inserts or replaces the process with the same key.
  /// Errors: InvalidInput ("invalid_monitored_process") when the key is empty.
  [[nodiscard]] virtual Result<void> put_monitored(const MonitoredProcess& process) = 0;
  /// Every monitored process, sorted by key.
  [[nodiscard]] virtual Result<std::vector<MonitoredProcess>> list_monitored() = 0;
  /// Removes the process; true if it existed.
  [[nodiscard]] virtual Result<bool> remove_monitored(const std::string& key) = 0;

  // --- API tokens ----------------------------------------------------------------------

  /// Stores a new token and returns its id.
  /// Errors: Conflict ("token_name_taken") when a non-revoked token has this name;
  /// Conflict ("token_hash_taken") when any token has this hash; InvalidInput
  /// ("invalid_token") when the name or the hash is empty.
  [[nodiscard]] virtual Result<std::int64_t> add_token(const std::string& name, Role role, const std::string& hash,
                                                       std::int64_t now_usec) = 0;
  /// The token with this hash, revoked or not (callers check revoked_at_usec), or nullopt.
  [[nodiscard]] virtual Result<std::optional<TokenRecord>> find_token_by_hash(const std::string& hash) = 0;
  /// Every token, revoked ones included, sorted by id.
  [[nodiscard]] virtual Result<std::vector<TokenRecord>> list_tokens() = 0;
  /// Marks the token revoked at `now_usec`; true if this call revoked it, false if there
  /// is no such token or it was already revoked (its revocation time is kept).
  [[nodiscard]] virtual Result<bool> revoke_token(std::int64_t id, std::int64_t now_usec) = 0;
  /// Records that the token was used at `now_usec`.
  /// Errors: NotFound ("token_not_found") when there is no such token.
  [[nodiscard]] virtual Result<void> touch_token(std::int64_t id, std::int64_t now_usec) = 0;

  // --- Panel users ---------------------------------------------------------------------

  /// Inserts or replaces the user with the same username.
  /// Errors: InvalidInput ("invalid_user") when the username is empty.
  [[nodiscard]] virtual Result<void> put_user(const UserRecord& user) = 0;
  /// The user, or nullopt.
  [[nodiscard]] virtual Result<std::optional<UserRecord>> get_user(const std::string& username) = 0;
  /// Every user, sorted by username.
  [[nodiscard]] virtual Result<std::vector<UserRecord>> list_users() = 0;

  // --- Audit log -----------------------------------------------------------------------

  /// Appends the entry (its id is ignored) and returns the id it was given. Ids increase.
  /// The log is bounded: past the implementation's bound, the oldest entries are deleted.
  [[nodiscard]] virtual Result<std::int64_t> append_audit(const AuditEntry& entry) = 0;
  /// The entries matching `query`, newest (highest id) first, at most
  /// min(query.limit, kMaxAuditPage).
  [[nodiscard]] virtual Result<std::vector<AuditEntry>> query_audit(const AuditQuery& query) = 0;

  // --- Events --------------------------------------------------------------------------

  /// Appends the event (its id is ignored) and returns its id. Bounded like the audit
  /// log: past the implementation's bound the oldest events are deleted.
  [[nodiscard]] virtual Result<std::int64_t> append_event(const EventRecord& event) = 0;
  /// The events matching `query`, newest first, at most min(query.limit, kMaxEventPage).
  [[nodiscard]] virtual Result<std::vector<EventRecord>> query_events(const EventQuery& query) = 0;

  // --- Settings ------------------------------------------------------------------------

  /// The value stored under `key`, or nullopt.
  [[nodiscard]] virtual Result<std::optional<std::string>> get_setting(const std::string& key) = 0;
  /// Stores `value` under `key`, replacing any previous value.
  [[nodiscard]] virtual Result<void> put_setting(const std::string& key, const std::string& value) = 0;
};

}  // namespace siax::registry
