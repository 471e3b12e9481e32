#pragma once
/// Operations on one app never overlap; operations on different apps run in parallel.
///
/// Policy: no queueing. While an operation runs on an app, a second request for that
/// app is refused at once (`try_begin` returns nullopt, `begin` a Conflict error that the
/// API maps to 409: "an operation (restart) is already running on app 'api' (started
/// 0.4 s ago)"). Queueing would hide a stuck systemd job behind a growing backlog and
/// make the outcome of a click depend on requests the user cannot see; the client knows
/// best whether to retry.
///
/// A running operation is represented by a move-only `Lease`; destroying (or
/// `release()`-ing) the lease ends the operation. Leases keep the serializer's shared
/// state alive, so a lease may safely outlive the `OpSerializer` (e.g. inside a handler
/// destroyed after the server).
///
/// Memory bound: one entry per operation currently running; nothing is kept after a
/// lease ends. The number of running operations is bounded by the callers (worker pool).
///
/// Threading: every method is safe to call from any thread; a lease may be released on
/// a thread other than the one that acquired it. The Clock must outlive the serializer
/// and its leases.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/clock.h"

namespace siax::orchestrator {

/// What is running on a key.
struct RunningOp {
  std::string operation;                        ///< e.g. "restart"
  std::chrono::steady_clock::duration elapsed;  ///< since try_begin

  /// "restart started 0.4 s ago" (one decimal).
  [[nodiscard]] std::string describe() const;
};

class OpSerializer;

/// Proof that an operation on `key()` is running. Move-only; ends the operation when
/// destroyed or released. A moved-from or released lease is inactive.
class Lease {
 public:
  Lease(Lease&& other) noexcept;
  Lease& operator=(Lease&& other) noexcept;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease();

  [[nodiscard]] bool active() const noexcept { return state_ != nullptr; }
  /// The app and operation; unspecified (empty) for an inactive lease.
  [[nodiscard]] const std::string& key() const noexcept { return key_; }
  [[nodiscard]] const std::string& operation() const noexcept { return operation_; }
  /// Ends the operation now (idempotent).
  void release() noexcept;

 private:
  friend class OpSerializer;
  struct State;
  Lease(std::shared_ptr<State> state, std::string key, std::string operation, std::uint64_t id);

  std::shared_ptr<State> state_;
  std::string key_;
  std::string operation_;
  std::uint64_t id_ = 0;
};

class OpSerializer {
 public:
  explicit OpSerializer(const Clock& clock);

  OpSerializer(const OpSerializer&) = delete;
  OpSerializer& operator=(const OpSerializer&) = delete;

  /// A lease while no operation runs on `key`, else nullopt (never waits).
  [[nodiscard]] std::optional<Lease> try_begin(std::string_view key, std::string_view op_name);

  /// Like try_begin, but a refusal is an Error of kind Conflict, code
  /// "operation_in_progress", with details {"app", key}, {"operation", running op},
  /// {"elapsed_ms", ...} and a message naming the running operation.
  [[nodiscard]] Result<Lease> begin(std::string_view key, std::string_view op_name);

  /// "restart started 0.4 s ago" while an operation runs on `key`, else nullopt.
  [[nodiscard]] std::optional<std::string> running(std::string_view key) const;
  /// The same as structured data.
  [[nodiscard]] std::optional<RunningOp> running_op(std::string_view key) const;

  /// Number of operations running now (all keys).
  [[nodiscard]] std::size_t active_count() const;

 private:
  const Clock& clock_;
  std::shared_ptr<Lease::State> state_;
};

}  // namespace siax::orchestrator
