#pragma once
/// When to try the cloud again after a failure: exponential backoff with "equal jitter".
///
/// After the n-th consecutive failure (n = 1, 2, ...) the ceiling is
/// min(cap, base * 2^(n-1)) and the delay is drawn uniformly from [ceiling/2, ceiling]:
/// never less than half the ceiling (no hammering right after a failure), spread over
/// the other half so that many agents do not retry in step. A Retry-After from the
/// cloud raises the delay (never above the cap). A success resets the sequence.
///
/// Pure value class; the randomness is injected. Threading: not thread-safe (the
/// reporter's thread owns it).
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

#include "common/result.h"

namespace siax::cloud {

class RetryPolicy {
 public:
  using duration = std::chrono::milliseconds;

  struct Options {
    duration base{1000};
    duration cap{5 * 60 * 1000};
  };

  /// Returns a number in [0, 1). Production: a seeded std::mt19937_64.
  using Random = std::function<double()>;

  /// InvalidInput when base <= 0 or cap < base.
  [[nodiscard]] static Result<RetryPolicy> create(Options options, Random random);

  /// Records one more failure and returns how long to wait before the next attempt.
  [[nodiscard]] duration next_delay(std::optional<std::chrono::seconds> retry_after = std::nullopt);

  /// Records a success: the next failure starts again from `base`.
  void reset() noexcept { failures_ = 0; }

  [[nodiscard]] std::uint32_t consecutive_failures() const noexcept { return failures_; }
  /// The ceiling the n-th consecutive failure (n >= 1) draws under.
  [[nodiscard]] duration ceiling(std::uint32_t n) const noexcept;

 private:
  RetryPolicy(Options options, Random random) : options_(options), random_(std::move(random)) {}

  Options options_;
  Random random_;
  std::uint32_t failures_ = 0;
};

/// A Random over std::mt19937_64 seeded from std::random_device.
[[nodiscard]] RetryPolicy::Random default_random();

}  // namespace siax::cloud
