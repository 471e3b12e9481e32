#include "orchestrator/rate_limiter.h"

#include <fmt/format.h>

namespace siax::orchestrator {

using std::chrono::steady_clock;

std::int64_t Decision::retry_after_seconds() const noexcept {
  if (allowed()) return 0;
  const auto secs = std::chrono::ceil<std::chrono::seconds>(retry_after).count();
  // A rejection always asks for a pause: "Retry-After: 0" would invite a busy loop.
  return secs < 1 ? 1 : secs;
}

Status to_status(const Decision& decision, std::string_view key, std::chrono::milliseconds interval) {
  const auto secs = decision.retry_after_seconds();
  std::vector<std::pair<std::string, std::string>> details{{"app", std::string(key)},
                                                           {"retry_after", std::to_string(secs)}};
  switch (decision.reason) {
    case Decision::Reason::Allowed: return ok();
    case Decision::Reason::TooSoon:
      return fail(ErrorKind::RateLimited, "rate_limited",
                  fmt::format("too many operations on app '{}': at most one every {} ms is allowed; retry in {} s", key,
                              interval.count(), secs),
                  std::move(details));
    case Decision::Reason::TooManyKeys:
      return fail(ErrorKind::RateLimited, "rate_limiter_full",
                  fmt::format("too many different apps were operated on in the last {} ms (the rate limiter's "
                              "key limit is reached); retry in {} s",
                              interval.count(), secs),
                  std::move(details));
  }
  return ok();
}

RateLimiter::RateLimiter(const Clock& clock, RateLimiterOptions options) : clock_(clock), options_(options) {}

void RateLimiter::prune_locked(steady_clock::time_point now) const {
  while (!order_.empty() && now - order_.front().at >= options_.interval) {
    // A key is re-admitted only after its entry expired, and expired entries are pruned
    // before every decision, so the map always holds this very entry.
    last_.erase(order_.front().key);
    order_.pop_front();
  }
}

Decision RateLimiter::try_acquire(std::string_view key) {
  if (options_.interval <= std::chrono::milliseconds::zero()) return {};

  const auto now = clock_.now();
  std::lock_guard lock(mutex_);
  prune_locked(now);

  if (auto it = last_.find(key); it != last_.end()) {
    // Still in the window (otherwise pruning would have removed it).
    return {Decision::Reason::TooSoon, it->second + options_.interval - now};
  }
  if (last_.size() >= options_.max_keys) {
    const auto wait =
        order_.empty() ? steady_clock::duration(options_.interval) : order_.front().at + options_.interval - now;
    return {Decision::Reason::TooManyKeys, wait};
  }
  last_.emplace(std::string(key), now);
  order_.push_back({now, std::string(key)});
  return {};
}

Status RateLimiter::acquire(std::string_view key) { return to_status(try_acquire(key), key, options_.interval); }

std::size_t RateLimiter::size() const {
  const auto now = clock_.now();
  std::lock_guard lock(mutex_);
  prune_locked(now);
  return last_.size();
}

}  // namespace siax::orchestrator
