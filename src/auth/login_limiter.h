#pragma once
/// Throttling of failed panel logins per remote address.
///
/// Policy (defaults): `max_failures` (5) failed logins from one address within `window`
/// (60 s, counted from the first failure of the window) lock the address for `lockout`
/// (60 s). While locked, check() refuses at once, before any password is verified, and
/// the refused attempts neither count nor extend the lock. A successful login clears the
/// address's record.
///
/// The address is an opaque key chosen by the HTTP layer. For IPv6 it should pass the /64
/// prefix, since one client usually controls a whole /64.
///
/// Bound: at most `max_addresses` records. When a new address arrives at a full table,
/// records that no longer matter (window over, not locked) are dropped; if none can be,
/// the record updated least recently is evicted (O(max_addresses), only then).
///
/// Threading: safe from any thread (one mutex). Time comes from the injected Clock (it must outlive the limiter).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/clock.h"

namespace siax::auth {

struct LoginLimiterOptions {
  int max_failures = 5;
  std::chrono::seconds window{60};
  std::chrono::seconds lockout{60};
  std::size_t max_addresses = 10'000;
};

struct LoginCheck {
  bool allowed = true;
  /// Until the lock ends; zero when allowed.
  std::chrono::steady_clock::duration retry_after{0};

  explicit operator bool() const noexcept { return allowed; }
  /// For Retry-After: whole seconds rounded up, at least 1 when refused, 0 when allowed.
  [[nodiscard]] std::int64_t retry_after_seconds() const noexcept;
};

/// The limiter's key for a client address: an IPv6 address counts as its /64
/// ("2001:db8:1:2::/64"; one host usually controls a whole /64), an IPv4 address (also
/// IPv4-mapped IPv6) as itself; text that is no address is used as is.
[[nodiscard]] std::string limiter_key(std::string_view address);

class LoginLimiter {
 public:
  explicit LoginLimiter(const Clock& clock, LoginLimiterOptions options = {});

  LoginLimiter(const LoginLimiter&) = delete;
  LoginLimiter& operator=(const LoginLimiter&) = delete;

  /// Before verifying a password: may this address try now?
  [[nodiscard]] LoginCheck check(std::string_view address);
  /// After a wrong password. Returns the state after this failure (refused when it
  /// started a lock), so the response can already carry Retry-After.
  LoginCheck record_failure(std::string_view address);
  /// After a successful login: forgets the address.
  void record_success(std::string_view address);

  /// Records held now (for metrics and tests).
  [[nodiscard]] std::size_t size() const;

 private:
  struct Entry {
    int failures = 0;
    TimePoint window_start{};
    TimePoint locked_until{};  ///< in the past when not locked
    TimePoint updated{};
  };
  struct TransparentHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };

  [[nodiscard]] bool stale(const Entry& e, TimePoint now) const;
  void make_room_locked(TimePoint now);

  const Clock& clock_;
  const LoginLimiterOptions options_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry, TransparentHash, std::equal_to<>> entries_;
};

}  // namespace siax::auth
