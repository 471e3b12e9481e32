#include <fmt/format.h>

#include "registry/sqlite_registry.h"
#include "registry/sqlite_rows.h"

// SqliteRegistry: API tokens and panel users.

namespace siax::registry {
namespace {

Result<Role> role_column(const storage::Statement& stmt, int col, std::string_view path, std::string_view what) {
  const std::string text = stmt.text(col);
  auto role = role_from_name(text);
  if (!role) return tl::unexpected<Error>(detail::corrupt(path, fmt::format("{} has an unknown role '{}'", what, text)));
  return *role;
}

Result<TokenRecord> token_row(const storage::Statement& stmt, std::string_view path) {
  // Columns: id, name, role, hash, created_at_usec, last_used_at_usec, revoked_at_usec.
  TokenRecord t;
  t.id = stmt.int64(0);
  t.name = stmt.text(1);
  SIAX_STORAGE_TRY(role, role_column(stmt, 2, path, fmt::format("token {}", t.id)));
  t.role = *role;
  t.hash = stmt.text(3);
  t.created_at_usec = stmt.int64(4);
  t.last_used_at_usec = stmt.optional_int64(5);
  t.revoked_at_usec = stmt.optional_int64(6);
  return t;
}

Result<UserRecord> user_row(const storage::Statement& stmt, std::string_view path) {
  // Columns: username, password_hash, role, created_at_usec.
  UserRecord u;
  u.username = stmt.text(0);
  u.password_hash = stmt.text(1);
  SIAX_STORAGE_TRY(role, role_column(stmt, 2, path, fmt::format("user '{}'", u.username)));
  u.role = *role;
  u.created_at_usec = stmt.int64(3);
  return u;
}

}  // namespace

// --- API tokens ------------------------------------------------------------------------

Result<std::int64_t> SqliteRegistry::add_token(const std::string& name, Role role, const std::string& hash,
                                               std::int64_t now_usec) {
  if (name.empty()) return fail(ErrorKind::InvalidInput, "invalid_token", "the token has no name");
  if (hash.empty()) return fail(ErrorKind::InvalidInput, "invalid_token", "the token has no hash");
  std::lock_guard lock(mutex_);
  SIAX_STORAGE_TRY(stmt, db_.prepare("INSERT INTO api_tokens(name, role, hash, created_at_usec) VALUES (?1, ?2, ?3, ?4)",
                              "store the token"));
  auto inserted = stmt->bind(1, name).bind(2, to_string(role)).bind(3, hash).bind(4, now_usec).run();
  if (!inserted) {
    if (inserted.error().kind == ErrorKind::Conflict) {
      const auto* raw = inserted.error().detail("sqlite_message");
      if (raw != nullptr && raw->find("api_tokens.name") != std::string::npos) {
        return fail(ErrorKind::Conflict, "token_name_taken",
                    fmt::format("a token named '{}' already exists: revoke it first or pick another name", name));
      }
      return fail(ErrorKind::Conflict, "token_hash_taken",
                  "a token with this secret already exists: generate a new secret");
    }
    return tl::unexpected<Error>(std::move(inserted.error()));
  }
  return db_.last_insert_rowid();
}

Result<std::optional<TokenRecord>> SqliteRegistry::find_token_by_hash(const std::string& hash) {
  std::lock_guard lock(mutex_);
  SIAX_STORAGE_TRY(stmt, db_.prepare("SELECT id, name, role, hash, created_at_usec, last_used_at_usec, revoked_at_usec "
                              "FROM api_tokens WHERE hash = ?1",
                              "find the token"));
  return detail::first_row<TokenRecord>(stmt->bind(1, hash),
                                        [&](const storage::Statement& s) { return token_row(s, path_); });
}

Result<std::vector<TokenRecord>> SqliteRegistry::list_tokens() {
  std::lock_guard lock(mutex_);
  SIAX_STORAGE_TRY(stmt, db_.prepare_cached("SELECT id, name, role, hash, created_at_usec, last_used_at_usec, revoked_at_usec "
                              "FROM api_tokens ORDER BY id",
                              "list the tokens"));
  return detail::collect<TokenRecord>(*stmt, [&](const storage::Statement& s) { return token_row(s, path_); });
}

Result<bool> SqliteRegistry::revoke_token(std::int64_t id, std::int64_t now_usec) {
  std::lock_guard lock(mutex_);
  SIAX_STORAGE_TRY(stmt, db_.prepare("UPDATE api_tokens SET revoked_at_usec = ?2 WHERE id = ?1 AND revoked_at_usec IS NULL",
                              "revoke the token"));
  SIAX_STORAGE_TRY(done, stmt->bind(1, id).bind(2, now_usec).run());
  return db_.changes() > 0;
}

Result<void> SqliteRegistry::touch_token(std::int64_t id, std::int64_t now_usec) {
  std::lock_guard lock(mutex_);
  SIAX_STORAGE_TRY(stmt, db_.prepare("UPDATE api_tokens SET last_used_at_usec = ?2 WHERE id = ?1", "record the token's use"));
  SIAX_STORAGE_TRY(done, stmt->bind(1, id).bind(2, now_usec).run());
  if (db_.changes() == 0) {
    return fail(ErrorKind::NotFound, "token_not_found", fmt::format("there is no token with id {}", id));
  }
  return {};
}

// --- Panel users -----------------------------------------------------------------------

Result<void> SqliteRegistry::put_user(const UserRecord& user) {
  if (user.username.empty()) return fail(ErrorKind::InvalidInput, "invalid_user", "the user has no username");
  std::lock_guard lock(mutex_);
  SIAX_STORAGE_TRY(stmt, db_.prepare("INSERT INTO users(username, password_hash, role, created_at_usec) "
                              "VALUES (?1, ?2, ?3, ?4) "
                              "ON CONFLICT(username) DO UPDATE SET password_hash = excluded.password_hash, "
                              "role = excluded.role, created_at_usec = excluded.created_at_usec",
                              "store the user"));
  return stmt->bind(1, user.username)
      .bind(2, user.password_hash)
      .bind(3, to_string(user.role))
      .bind(4, user.created_at_usec)
      .run();
}

Result<std::optional<UserRecord>> SqliteRegistry::get_user(const std::string& username) {
  std::lock_guard lock(mutex_);
  SIAX_STORAGE_TRY(stmt, db_.prepare("SELECT username, password_hash, role, created_at_usec FROM users WHERE username = ?1",
                              "read the user"));
  return detail::first_row<UserRecord>(stmt->bind(1, username),
                                       [&](const storage::Statement& s) { return user_row(s, path_); });
}

Result<std::vector<UserRecord>> SqliteRegistry::list_users() {
  std::lock_guard lock(mutex_);
  SIAX_STORAGE_TRY(stmt, db_.prepare_cached("SELECT username, password_hash, role, created_at_usec FROM users ORDER BY username",
                              "list the users"));
  return detail::collect<UserRecord>(*stmt, [&](const storage::Statement& s) { return user_row(s, path_); });
}

}  // namespace siax::registry
