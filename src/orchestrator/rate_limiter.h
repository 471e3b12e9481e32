#pragma once
/// At most one operation per interval per key (the app name).
///
/// Semantics: an operation on key K at time t is allowed when no operation on K was
/// allowed in (t - interval, t]; an operation exactly `interval` after the previous one
/// is allowed. A rejected request does not consume the window (it does not move the
/// time of the last allowed operation), so clients that retry too early are not
/// punished with a longer wait.
///
/// Memory bound: the limiter keeps one entry per key that was allowed within the last
/// interval, never more than `max_keys` entries. Entries older than the interval are
/// pruned on every call (amortised O(1): entries are kept in time order). When
/// `max_keys` distinct keys were allowed within the last interval, a request for a new
/// key is rejected with reason `TooManyKeys` until the oldest entry expires; keys that
/// already have an entry are unaffected. Callers pass validated app names (at most 64
/// bytes), so memory is at most max_keys × (name + ~100 bytes).
///
/// An interval of zero disables limiting: every request is allowed and nothing is stored.
///
/// With OpSerializer: take the lease first, then acquire here. The other order would let
/// a request refused with 409 (another operation running) use up the app's window.
///
/// Threading: every method is safe to call from any thread (one mutex; the HTTP io
/// thread and the workers share one limiter). The Clock must outlive the limiter.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.h"
#include "common/clock.h"

namespace siax::orchestrator {

struct RateLimiterOptions {
  /// Minimum time between two allowed operations on one key; zero disables limiting.
  std::chrono::milliseconds interval{1000};
  /// Hard cap on the number of keys tracked at once (see the memory bound above).
  std::size_t max_keys = 100'000;
};

struct Decision {
  enum class Reason {
    Allowed,      ///< the operation may run; the window of the key starts now
    TooSoon,      ///< the key had an allowed operation less than `interval` ago
    TooManyKeys,  ///< `max_keys` keys are already tracked; a new key cannot be added now
  };

  Reason reason = Reason::Allowed;
  /// How long until a retry can succeed; zero when allowed.
  std::chrono::steady_clock::duration retry_after{0};

  [[nodiscard]] bool allowed() const noexcept { return reason == Reason::Allowed; }
  explicit operator bool() const noexcept { return allowed(); }
  /// `retry_after` for the HTTP Retry-After header: whole seconds, rounded up, at least
  /// 1 for a rejection (0 when allowed).
  [[nodiscard]] std::int64_t retry_after_seconds() const noexcept;
};

/// The error the API returns for a rejected decision: kind RateLimited, code
/// "rate_limited" (TooSoon) or "rate_limiter_full" (TooManyKeys), details
/// {"app", key}, {"retry_after", seconds}. Returns success for an allowed decision.
[[nodiscard]] Status to_status(const Decision& decision, std::string_view key, std::chrono::milliseconds interval);

class RateLimiter {
 public:
  explicit RateLimiter(const Clock& clock, RateLimiterOptions options = {});

  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  /// Allows the operation and starts the key's window, or rejects it without changing
  /// any state of the key.
  [[nodiscard]] Decision try_acquire(std::string_view key);

  /// try_acquire as a Status for the API: success, or the RateLimited error of to_status.
  [[nodiscard]] Status acquire(std::string_view key);

  /// Number of keys currently tracked (after pruning expired entries).
  [[nodiscard]] std::size_t size() const;

  [[nodiscard]] const RateLimiterOptions& options() const noexcept { return options_; }

 private:
  struct TransparentHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  struct Allowed {
    std::chrono::steady_clock::time_point at;
    std::string key;
  };

  void prune_locked(std::chrono::steady_clock::time_point now) const;

  const Clock& clock_;
  const RateLimiterOptions options_;
  mutable std::mutex mutex_;
  /// key -> time of its last allowed operation; exactly the keys in `order_`.
  mutable std::unordered_map<std::string, std::chrono::steady_clock::time_point, TransparentHash, std::equal_to<>>
      last_;
  /// Allowed operations in time order (the clock is monotonic), for pruning and for
  /// knowing when the oldest entry expires.
  mutable std::deque<Allowed> order_;
};

}  // namespace siax::orchestrator
