#include "storage/sqlite.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <limits>
#include <system_error>
#include <utility>

#include <fmt/format.h>

namespace siax::storage {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kMemoryPath = ":memory:";

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

bool is_missing(const std::error_code& ec) {
  return ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory;
}

Failure failure_of(sqlite3* db, int rc) {
  return Failure{rc, db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc)};
}

tl::unexpected<Error> unexpected(Error e) { return tl::unexpected<Error>(std::move(e)); }

Error default_error(const Failure& f, std::string_view path, std::string_view what) {
  return Error{ErrorKind::Internal, "sqlite_error", fmt::format("database {}: {}: {}", path, what, f.message)};
}

/// The directory checks of check_path().
Result<void> check_directory(const std::string& path, const fs::path& dir, const Naming& n) {
  std::error_code ec;
  const auto dir_status = fs::status(dir, ec);
  if (ec && !is_missing(ec)) {
    return fail(ErrorKind::PermissionDenied, n.code_prefix + "_not_writable",
                fmt::format("cannot open the {} {}: cannot inspect the directory {}: {}", n.noun, path, dir.string(),
                            ec.message()));
  }
  if (!fs::exists(dir_status)) {
    return fail(ErrorKind::NotFound, n.code_prefix + "_dir_missing",
                fmt::format("cannot open the {} {}: the directory {} does not exist; create it {}", n.noun, path,
                            dir.string(), n.missing_dir_hint));
  }
  if (!fs::is_directory(dir_status)) {
    return fail(ErrorKind::InvalidInput, n.code_prefix + "_path_invalid",
                fmt::format("cannot open the {} {}: {} is not a directory", n.noun, path, dir.string()));
  }
  // WAL needs to create <file>-wal and <file>-shm next to the database.
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return fail(ErrorKind::PermissionDenied, n.code_prefix + "_not_writable",
                fmt::format("cannot open the {} {}: the directory {} is not writable by the agent ({}); fix "
                            "its owner or mode",
                            n.noun, path, dir.string(), errno_text(errno)));
  }
  return {};
}

/// Checks the things SQLite reports badly (it says "unable to open database file" for
/// all of them) before opening, and creates a missing file with mode 0600.
Result<void> check_path(const std::string& path, const Naming& n) {
  if (path.empty()) {
    return fail(ErrorKind::InvalidInput, n.code_prefix + "_path_invalid",
                fmt::format("the {} path is empty: give a file path", n.noun));
  }
  const fs::path file(path);
  fs::path dir = file.parent_path();
  if (dir.empty()) dir = ".";
  if (auto d = check_directory(path, dir, n); !d) return d;

  std::error_code ec;
  const auto file_status = fs::status(file, ec);
  if (ec && !is_missing(ec)) {
    return fail(ErrorKind::PermissionDenied, n.code_prefix + "_not_writable",
                fmt::format("cannot open the {} {}: {}", n.noun, path, ec.message()));
  }
  if (fs::exists(file_status)) {
    if (!fs::is_regular_file(file_status)) {
      return fail(ErrorKind::InvalidInput, n.code_prefix + "_path_invalid",
                  fmt::format("cannot open the {} {}: it exists and is not a regular file", n.noun, path));
    }
    if (::access(file.c_str(), R_OK | W_OK) != 0) {
      return fail(ErrorKind::PermissionDenied, n.code_prefix + "_not_writable",
                  fmt::format("cannot open the {} {}: the file is not readable and writable by the agent ({}); "
                              "fix its owner or mode",
                              n.noun, path, errno_text(errno)));
    }
    return {};
  }
  // Stores hold hashes, names and states: not world-readable. SQLite gives the -wal and
  // -shm files the mode of the database file.
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno != EEXIST) {
    return fail(ErrorKind::PermissionDenied, n.code_prefix + "_not_writable",
                fmt::format("cannot create the {} {}: {}", n.noun, path, errno_text(errno)));
  }
  if (fd >= 0) ::close(fd);
  return {};
}

bool is_known(const std::vector<Migration>& migrations, int version) {
  for (const auto& m : migrations) {
    if (m.version == version) return true;
  }
  return false;
}

Result<int> user_version(const Database& db) {
  auto v = db.scalar("PRAGMA user_version", "read the schema version");
  if (!v) return unexpected(std::move(v.error()));
  return static_cast<int>(*v);
}

Result<void> set_user_version(const Database& db, int version) {
  // A pragma takes no bound value; `version` is an int of this code, not input.
  return db.exec(fmt::format("PRAGMA user_version = {}", version), "record the schema version");
}

/// The version the database is at: user_version, or what an older scheme recorded.
Result<int> current_version(const Database& db, const MigrationPlan& plan) {
  auto version = user_version(db);
  if (!version || *version != 0 || !plan.legacy_version) return version;
  return plan.legacy_version(db);
}

/// Applies `m` in its own transaction unless another process did; returns the version.
Result<int> apply(const Database& db, const MigrationPlan& plan, const Migration& m) {
  auto tx = Transaction::begin(db);
  if (!tx) return unexpected(std::move(tx.error()));
  // Another process may have migrated between our read and our lock.
  auto now = current_version(db, plan);
  if (!now) return now;
  if (*now >= m.version) {
    if (auto recorded = set_user_version(db, *now); !recorded) return unexpected(std::move(recorded.error()));
    if (auto c = tx->commit(); !c) return unexpected(std::move(c.error()));
    return *now;
  }
  if (auto ran = db.exec(m.sql, fmt::format("migration {} failed", m.version)); !ran) {
    return unexpected(std::move(ran.error()));
  }
  if (auto recorded = set_user_version(db, m.version); !recorded) return unexpected(std::move(recorded.error()));
  if (auto c = tx->commit(); !c) return unexpected(std::move(c.error()));
  return m.version;
}

}  // namespace

// --- Failure ---------------------------------------------------------------------------

bool Failure::is_busy() const noexcept {
  const int primary = code & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}
bool Failure::is_unique_violation() const noexcept {
  return code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY;
}
bool Failure::is_io() const noexcept {
  const int primary = code & 0xff;
  return primary == SQLITE_FULL || primary == SQLITE_IOERR || primary == SQLITE_READONLY ||
         primary == SQLITE_CANTOPEN;
}
bool Failure::is_not_a_database() const noexcept { return (code & 0xff) == SQLITE_NOTADB; }

// --- Statement -------------------------------------------------------------------------

struct Statement::Cached {
  sqlite3_stmt* stmt = nullptr;
  bool busy = false;
  Cached() = default;
  Cached(const Cached&) = delete;
  Cached& operator=(const Cached&) = delete;
  ~Cached() { sqlite3_finalize(stmt); }
};

void Statement::Finalizer::operator()(sqlite3_stmt* stmt) const noexcept {
  if (cached == nullptr) {
    sqlite3_finalize(stmt);
    return;
  }
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  cached->busy = false;
}

Statement::Statement(const Database& db, sqlite3_stmt* stmt, std::string_view what)
    : db_(&db), stmt_(stmt), what_(what), bind_rc_(SQLITE_OK) {}

Statement& Statement::check(int rc) {
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  return check(sqlite3_bind_text64(stmt_.get(), index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
}
Statement& Statement::bind(int index, std::int64_t value) {
  return check(sqlite3_bind_int64(stmt_.get(), index, static_cast<sqlite3_int64>(value)));
}
Statement& Statement::bind(int index, const std::optional<std::int64_t>& value) {
  return value ? bind(index, *value) : bind_null(index);
}
Statement& Statement::bind_null(int index) { return check(sqlite3_bind_null(stmt_.get(), index)); }

Result<bool> Statement::step() {
  if (bind_rc_ != SQLITE_OK) return unexpected(db_->error(bind_rc_, what_));
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return unexpected(db_->error(rc, what_));
}

Result<void> Statement::run() {
  auto r = step();
  if (!r) return unexpected(std::move(r.error()));
  return {};
}

std::string Statement::text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_.get(), col));
  if (p == nullptr) return {};
  return std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), col)));
}
std::int64_t Statement::int64(int col) const { return sqlite3_column_int64(stmt_.get(), col); }
bool Statement::is_null(int col) const { return sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL; }
std::optional<std::int64_t> Statement::optional_int64(int col) const {
  if (is_null(col)) return std::nullopt;
  return int64(col);
}

// --- Database --------------------------------------------------------------------------

void Database::Closer::operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }

Database::Database(std::string path, std::unique_ptr<sqlite3, Closer> handle, std::unique_ptr<Naming> naming)
    : path_(std::move(path)), handle_(std::move(handle)), naming_(std::move(naming)) {}
Database::Database(Database&&) noexcept = default;
Database& Database::operator=(Database&&) noexcept = default;
Database::~Database() = default;

Result<Database> Database::open(const std::string& path, OpenOptions options, Naming naming) {
  if (!naming.map_error) naming.map_error = default_error;
  if (options.busy_timeout.count() < 0 || options.busy_timeout.count() > std::numeric_limits<int>::max()) {
    return fail(ErrorKind::InvalidInput, "invalid_" + naming.code_prefix + "_options",
                "busy_timeout must be between 0 and INT_MAX milliseconds");
  }
  if (path != kMemoryPath) {
    if (auto checked = check_path(path, naming); !checked) return unexpected(std::move(checked.error()));
  }
  sqlite3* raw = nullptr;
  // NOMUTEX: each store's own mutex serializes every use of the connection.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  std::unique_ptr<sqlite3, Closer> handle(raw);  // a handle may come back even on failure: close it too
  auto owned_naming = std::make_unique<Naming>(std::move(naming));
  if (rc != SQLITE_OK) return unexpected(owned_naming->map_error(failure_of(raw, rc), path, "open"));
  Database db(path, std::move(handle), std::move(owned_naming));

  sqlite3_busy_timeout(raw, static_cast<int>(options.busy_timeout.count()));
  // The first statement reads the file header: a file that is not a database fails here.
  if (const int wal_rc = sqlite3_exec(raw, "PRAGMA journal_mode = WAL", nullptr, nullptr, nullptr);
      wal_rc != SQLITE_OK) {
    if (failure_of(raw, wal_rc).is_not_a_database()) {
      const Naming& n = db.naming();
      return fail(ErrorKind::InvalidInput, n.code_prefix + "_path_invalid",
                  fmt::format("cannot open the {} {}: the file is not a SQLite database; {}", n.noun, path,
                              n.not_a_database_hint));
    }
    return unexpected(db.error(wal_rc, "set the journal mode"));
  }
  if (auto s = db.exec("PRAGMA synchronous = NORMAL", "set synchronous"); !s) return unexpected(std::move(s.error()));
  // SQLite's own page cache at most 256 KiB per connection (its default is 2 MB, which the
  // growing audit log would fill over time): the stores keep what they read often in memory
  // (the registry's lists), and a page read again comes from the kernel's page cache.
  if (auto s = db.exec("PRAGMA cache_size = -256", "set the cache size"); !s) return unexpected(std::move(s.error()));
  if (options.foreign_keys) {
    if (auto fk = db.exec("PRAGMA foreign_keys = ON", "enable foreign keys"); !fk) {
      return unexpected(std::move(fk.error()));
    }
  }
  return db;
}

Error Database::error(int rc, std::string_view what) const {
  return naming_->map_error(failure_of(handle_.get(), rc), path_, what);
}

Result<Statement> Database::prepare(std::string_view sql, std::string_view what) const {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(handle_.get(), sql.data(), static_cast<int>(sql.size()), 0, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return unexpected(error(rc, what));
  }
  return Statement(*this, stmt, what);
}

Result<Statement> Database::prepare_cached(std::string_view sql, std::string_view what) const {
  auto it = cached_.find(sql);
  if (it == cached_.end()) {
    auto entry = std::make_unique<Statement::Cached>();
    const int rc = sqlite3_prepare_v3(handle_.get(), sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                      &entry->stmt, nullptr);
    if (rc != SQLITE_OK) return unexpected(error(rc, what));
    it = cached_.emplace(std::string(sql), std::move(entry)).first;
  }
  if (it->second->busy) return prepare(sql, what);  // in use further up this call: a fresh one
  it->second->busy = true;
  Statement statement(*this, it->second->stmt, what);
  statement.stmt_.get_deleter().cached = it->second.get();
  return statement;
}

Result<void> Database::exec(const std::string& sql, std::string_view what) const {
  // On failure sqlite3_exec leaves the message on the connection (its own out-parameter
  // is a copy of sqlite3_errmsg), so error() reads it from there.
  const int rc = sqlite3_exec(handle_.get(), sql.c_str(), nullptr, nullptr, nullptr);
  if (rc == SQLITE_OK) return {};
  return unexpected(error(rc, what));
}

namespace {
Result<std::int64_t> first_int(Result<Statement> stmt) {
  if (!stmt) return unexpected(std::move(stmt.error()));
  auto row = stmt->step();
  if (!row) return unexpected(std::move(row.error()));
  return *row ? stmt->int64(0) : 0;
}
}  // namespace

Result<std::int64_t> Database::scalar(std::string_view sql, std::string_view what) const {
  return first_int(prepare(sql, what));
}

Result<std::int64_t> Database::scalar_cached(std::string_view sql, std::string_view what) const {
  return first_int(prepare_cached(sql, what));
}

int Database::changes() const noexcept { return sqlite3_changes(handle_.get()); }

std::int64_t Database::last_insert_rowid() const noexcept {
  return static_cast<std::int64_t>(sqlite3_last_insert_rowid(handle_.get()));
}

Result<bool> Database::has_table(std::string_view name) const {
  auto stmt = prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1", "look for a table");
  if (!stmt) return unexpected(std::move(stmt.error()));
  return stmt->bind(1, name).step();
}

// --- Transaction -----------------------------------------------------------------------

Result<Transaction> Transaction::begin(const Database& db) {
  auto r = db.exec("BEGIN IMMEDIATE", "begin transaction");
  if (!r) return unexpected(std::move(r.error()));
  return Transaction(db);
}

Transaction::Transaction(Transaction&& other) noexcept : db_(other.db_), open_(std::exchange(other.open_, false)) {}

Transaction::~Transaction() {
  // Nothing useful to do if the rollback fails: the connection reports it on next use.
  if (open_) (void)db_->exec("ROLLBACK", "roll back");
}

Result<void> Transaction::commit() {
  auto r = db_->exec("COMMIT", "commit");
  if (r) open_ = false;
  return r;
}

// --- Migrations ------------------------------------------------------------------------

std::optional<std::string> validate_migrations(const std::vector<Migration>& migrations) {
  if (migrations.empty()) return "the migration list is empty: the database needs a schema";
  int previous = 0;
  for (const auto& m : migrations) {
    if (m.version <= previous) {
      return fmt::format("migration versions must start at 1 and strictly increase; {} follows {}", m.version,
                         previous);
    }
    if (m.sql.empty()) return fmt::format("migration {} has no SQL", m.version);
    previous = m.version;
  }
  return std::nullopt;
}

Result<int> migrate(const Database& db, const MigrationPlan& plan) {
  if (auto invalid = validate_migrations(plan.migrations)) {
    return fail(ErrorKind::InvalidInput, "invalid_" + db.naming().code_prefix + "_options", *invalid);
  }
  const int known = plan.migrations.back().version;
  auto version = current_version(db, plan);
  if (!version) return version;
  if (*version != 0 && !is_known(plan.migrations, *version)) return unexpected(plan.too_new(*version, known));

  bool recorded = false;  // whether user_version holds the version (not only a legacy record)
  for (const auto& m : plan.migrations) {
    if (m.version <= *version) continue;
    auto applied = apply(db, plan, m);
    if (!applied) {
      Error e = std::move(applied.error());
      if (e.kind != ErrorKind::Unavailable) {
        e.kind = ErrorKind::Internal;
        e.code = plan.failed_code;
        e.message = fmt::format("{}; the database stays at schema version {}", e.message, *version);
      }
      return unexpected(std::move(e));
    }
    *version = *applied;
    recorded = true;
  }
  if (!recorded) {
    // Up to date already; a database migrated by an older scheme gets its version recorded.
    auto stored = user_version(db);
    if (!stored) return stored;
    if (*stored != *version) {
      auto tx = Transaction::begin(db);
      if (!tx) return unexpected(std::move(tx.error()));
      if (auto r = set_user_version(db, *version); !r) return unexpected(std::move(r.error()));
      if (auto c = tx->commit(); !c) return unexpected(std::move(c.error()));
    }
  }
  auto final_version = current_version(db, plan);
  if (!final_version) return final_version;
  if (!is_known(plan.migrations, *final_version)) return unexpected(plan.too_new(*final_version, known));
  return *final_version;
}

}  // namespace siax::storage
