#include "orchestrator/op_serializer.h"

#include <mutex>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

namespace siax::orchestrator {

namespace {

struct TransparentHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

}  // namespace

struct Lease::State {
  struct Entry {
    std::uint64_t id;
    std::string operation;
    std::chrono::steady_clock::time_point started;
  };
  std::mutex mutex;
  std::uint64_t next_id = 1;
  std::unordered_map<std::string, Entry, TransparentHash, std::equal_to<>> running;
};

std::string RunningOp::describe() const {
  const double secs = std::chrono::duration<double>(elapsed).count();
  return fmt::format("{} started {:.1f} s ago", operation, secs < 0 ? 0.0 : secs);
}

// ---- Lease ----

Lease::Lease(std::shared_ptr<State> state, std::string key, std::string operation, std::uint64_t id)
    : state_(std::move(state)), key_(std::move(key)), operation_(std::move(operation)), id_(id) {}

Lease::Lease(Lease&& other) noexcept
    : state_(std::move(other.state_)),
      key_(std::move(other.key_)),
      operation_(std::move(other.operation_)),
      id_(std::exchange(other.id_, 0)) {
  other.state_.reset();
}

Lease& Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    release();
    state_ = std::move(other.state_);
    other.state_.reset();
    key_ = std::move(other.key_);
    operation_ = std::move(other.operation_);
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}

Lease::~Lease() { release(); }

void Lease::release() noexcept {
  if (!state_) return;
  {
    std::lock_guard lock(state_->mutex);
    // Only one lease per key exists at a time; the id check keeps a stale lease from
    // ever ending someone else's operation.
    if (auto it = state_->running.find(key_); it != state_->running.end() && it->second.id == id_) {
      state_->running.erase(it);
    }
  }
  state_.reset();
}

// ---- OpSerializer ----

OpSerializer::OpSerializer(const Clock& clock) : clock_(clock), state_(std::make_shared<Lease::State>()) {}

std::optional<Lease> OpSerializer::try_begin(std::string_view key, std::string_view op_name) {
  const auto now = clock_.now();
  std::lock_guard lock(state_->mutex);
  if (state_->running.find(key) != state_->running.end()) return std::nullopt;
  const auto id = state_->next_id++;
  state_->running.emplace(std::string(key), Lease::State::Entry{id, std::string(op_name), now});
  return Lease(state_, std::string(key), std::string(op_name), id);
}

Result<Lease> OpSerializer::begin(std::string_view key, std::string_view op_name) {
  if (auto lease = try_begin(key, op_name)) return std::move(*lease);
  auto op = running_op(key);
  if (!op) {
    // The running operation ended between the two calls: try once more.
    if (auto lease = try_begin(key, op_name)) return std::move(*lease);
    op = running_op(key);
  }
  const RunningOp shown = op ? *op : RunningOp{"an operation", {}};
  return fail(
      ErrorKind::Conflict, "operation_in_progress",
      fmt::format("an operation ({}) is already running on app '{}' (started {:.1f} s ago); retry when it "
                  "has finished",
                  shown.operation, key, std::chrono::duration<double>(shown.elapsed).count()),
      {{"app", std::string(key)},
       {"operation", shown.operation},
       {"elapsed_ms", std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(shown.elapsed).count())}});
}

std::optional<RunningOp> OpSerializer::running_op(std::string_view key) const {
  const auto now = clock_.now();
  std::lock_guard lock(state_->mutex);
  auto it = state_->running.find(key);
  if (it == state_->running.end()) return std::nullopt;
  return RunningOp{it->second.operation, now - it->second.started};
}

std::optional<std::string> OpSerializer::running(std::string_view key) const {
  if (auto op = running_op(key)) return op->describe();
  return std::nullopt;
}

std::size_t OpSerializer::active_count() const {
  std::lock_guard lock(state_->mutex);
  return state_->running.size();
}

}  // namespace siax::orchestrator
