#include "auth/login_limiter.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>

namespace siax::auth {

std::int64_t LoginCheck::retry_after_seconds() const noexcept {
  if (allowed) return 0;
  const auto secs = std::chrono::ceil<std::chrono::seconds>(retry_after).count();
  return secs < 1 ? 1 : secs;
}

std::string limiter_key(std::string_view address) {
  const std::string text(address);
  std::array<unsigned char, 16> v6{};
  if (::inet_pton(AF_INET6, text.c_str(), v6.data()) != 1) return text;
  const bool v4_mapped = std::all_of(v6.begin(), v6.begin() + 10, [](unsigned char b) { return b == 0; }) &&
                         v6[10] == 0xff && v6[11] == 0xff;
  char out[INET6_ADDRSTRLEN] = {};
  if (v4_mapped) {
    if (::inet_ntop(AF_INET, v6.data() + 12, out, sizeof out) == nullptr) return text;
    return out;
  }
  std::fill(v6.begin() + 8, v6.end(), 0);
  if (::inet_ntop(AF_INET6, v6.data(), out, sizeof out) == nullptr) return text;
  return std::string(out) + "/64";
}

LoginLimiter::LoginLimiter(const Clock& clock, LoginLimiterOptions options) : clock_(clock), options_(options) {}

bool LoginLimiter::stale(const Entry& e, TimePoint now) const {
  return now >= e.locked_until && now - e.window_start >= options_.window;
}

LoginCheck LoginLimiter::check(std::string_view address) {
  const auto now = clock_.now();
  std::lock_guard lock(mutex_);
  auto it = entries_.find(address);
  if (it == entries_.end()) return {};
  if (now < it->second.locked_until) return {false, it->second.locked_until - now};
  if (stale(it->second, now)) entries_.erase(it);
  return {};
}

void LoginLimiter::make_room_locked(TimePoint now) {
  if (entries_.size() < options_.max_addresses) return;
  std::erase_if(entries_, [&](const auto& kv) { return stale(kv.second, now); });
  while (!entries_.empty() && entries_.size() >= options_.max_addresses) {
    auto oldest = std::min_element(entries_.begin(), entries_.end(),
                                   [](const auto& a, const auto& b) { return a.second.updated < b.second.updated; });
    entries_.erase(oldest);
  }
}

LoginCheck LoginLimiter::record_failure(std::string_view address) {
  const auto now = clock_.now();
  std::lock_guard lock(mutex_);
  if (options_.max_addresses == 0) return {};
  auto it = entries_.find(address);
  if (it == entries_.end()) {
    make_room_locked(now);
    it = entries_.emplace(std::string(address), Entry{0, now, TimePoint{}, now}).first;
  }
  Entry& e = it->second;
  if (now < e.locked_until) return {false, e.locked_until - now};  // refused attempts do not count
  if (now - e.window_start >= options_.window) {
    e.failures = 0;
    e.window_start = now;
  }
  e.updated = now;
  if (++e.failures >= options_.max_failures) {
    e.failures = 0;
    e.locked_until = now + options_.lockout;
    // The record becomes stale exactly when the lock ends; the next failure then opens a
    // fresh window.
    e.window_start = e.locked_until - options_.window;
    return {false, e.locked_until - now};
  }
  return {};
}

void LoginLimiter::record_success(std::string_view address) {
  std::lock_guard lock(mutex_);
  if (auto it = entries_.find(address); it != entries_.end()) entries_.erase(it);
}

std::size_t LoginLimiter::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace siax::auth
