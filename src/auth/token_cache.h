#pragma once
/// The active API tokens in memory, by hash, so that authenticating a request never reads
/// the disk: the io thread looks a token up here (a hash-map lookup under a mutex), and
/// the registry (SQLite) is read only by whoever keeps the cache in step (agent::TokenSync,
/// on a worker, after every change of the registry file and every few seconds).
///
/// Revoked tokens are not in it: a token is accepted if and only if the last load saw it
/// active. Bounded: at most `max_tokens` tokens; beyond that the newest (highest ids) are
/// kept and the others counted in `stats().left_out` (they are refused until some are
/// revoked; the loader warns).
///
/// Thread-safe: every member may be called from any thread.
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/roles.h"

namespace siax::auth {

struct CachedToken {
  std::int64_t id = 0;
  std::string name;
  Role role = Role::Viewer;
  std::optional<std::int64_t> last_used_usec;  ///< as last recorded (for the at-most-once-a-minute touch)
};

/// One row of the token table, as a loader hands it over.
struct TokenRow {
  std::string hash;  ///< lowercase hex SHA-256 of the secret
  CachedToken token;
  bool revoked = false;
};

struct TokenCacheStats {
  std::size_t tokens = 0;     ///< active tokens held
  std::size_t left_out = 0;   ///< active tokens over max_tokens at the last load (refused)
  std::uint64_t loads = 0;    ///< successful replace() calls
  bool loaded = false;        ///< replace() ran at least once
};

class TokenCache {
 public:
  static constexpr std::size_t kDefaultMaxTokens = 10'000;

  explicit TokenCache(std::size_t max_tokens = kDefaultMaxTokens) : max_tokens_(max_tokens) {}
  TokenCache(const TokenCache&) = delete;
  TokenCache& operator=(const TokenCache&) = delete;

  /// The active token with this hash; nullopt when unknown, revoked, left out over the
  /// bound, or before the first load.
  [[nodiscard]] std::optional<CachedToken> find(std::string_view hash) const;

  /// Replaces the whole content with the active rows of `rows` (revoked ones skipped; over
  /// max_tokens, the highest ids kept). A last use recorded here after the rows were read
  /// (note_use) is kept when it is newer. Returns how many active rows were left out.
  std::size_t replace(std::vector<TokenRow> rows);

  /// Whether a use of the token `hash` at `now_usec` should be recorded (its last recorded
  /// use is older than `every_usec`, or none); if so, marks it used now, so that only the
  /// first request of each period records it. False for an unknown hash.
  [[nodiscard]] bool note_use(std::string_view hash, std::int64_t now_usec, std::int64_t every_usec);

  [[nodiscard]] TokenCacheStats stats() const;

 private:
  const std::size_t max_tokens_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, CachedToken> by_hash_;
  TokenCacheStats stats_;
};

}  // namespace siax::auth
