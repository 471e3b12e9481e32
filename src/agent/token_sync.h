#pragma once
/// Keeps the in-memory token cache (auth::TokenCache) in step with the registry's token
/// table, which `siax-agent token create|revoke` writes from another process: the io
/// thread then authenticates requests from memory and never touches the disk for it.
///
/// When: an inotify watch on the registry's directory (the database, its -wal and
/// -journal files) asks for a reload as soon as the file changes (at once, unless the last
/// reload began less than `debounce` ago: then when that spacing is over; changes during a
/// reload make one more), and a reload also runs every `period` in case an event was
/// missed: every `watched_period` (60 s) while the watch is in place (an overflowed queue
/// reloads at once), every `period` (2 s) when it could not be set up. So a new token works
/// and a revoked one is refused within milliseconds of the CLI's commit, at the latest
/// after `period` without a watch. The agent's own writes to the registry (audit, app state) also trigger
/// reloads: bounded by the debounce, and a reload reads only the token table.
///
/// How: each reload reads list_tokens() on a worker (WorkerPool::try_post; a full pool
/// retries after the debounce) and replaces the cache's content; reads and replaces are
/// serialized, so an older read never replaces a newer one.
///
/// Threading: construct, start() and stop() on the io thread (before/after `run`); the
/// reload itself runs on a worker. load_now() blocks: call it before serving.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>

#include "agent/worker_pool.h"
#include "http/server.h"
#include "auth/token_cache.h"
#include "common/result.h"
#include "registry/registry.h"

namespace siax::agent {

struct TokenSyncOptions {
  std::chrono::milliseconds period{2'000};          ///< the safety-net reload without a watch
  std::chrono::milliseconds watched_period{60'000};  ///< the same while the inotify watch is in place
  std::chrono::milliseconds debounce{5};  ///< minimum spacing of reloads
};

struct TokenSyncStats {
  std::uint64_t reloads = 0;         ///< reloads that read the table
  std::uint64_t failures = 0;        ///< reloads whose read failed (the cache kept its content)
  std::uint64_t change_events = 0;   ///< inotify events for the registry's files
  bool watching = false;             ///< the inotify watch is in place
};

class TokenSync {
 public:
  TokenSync(boost::asio::io_context& ioc, WorkerPool& workers, registry::Registry& registry, auth::TokenCache& cache,
            std::string db_path, TokenSyncOptions options = {}, std::function<void(std::string_view)> warn = {});
  ~TokenSync();
  TokenSync(const TokenSync&) = delete;
  TokenSync& operator=(const TokenSync&) = delete;

  /// Reads the table now, on this thread (blocking). Errors: the registry's.
  [[nodiscard]] Status load_now();
  /// Starts the watch and the periodic reload (io thread).
  void start();
  /// Stops both; a reload running on a worker finishes but changes nothing afterwards
  /// that matters (it only replaces the cache's content). Idempotent.
  void stop();

  /// Reads the token table on a worker and calls `done` there, once the cache holds it,
  /// with the number of tokens held (or the registry's error). False, and nothing runs,
  /// when the workers are full. POST /api/tokens/reload (src/api/token_routes.cpp) uses it.
  [[nodiscard]] bool reload(std::function<void(Result<std::size_t>)> done);

  [[nodiscard]] TokenSyncStats stats() const;
  /// Prometheus lines: siax_auth_tokens_cached, siax_auth_tokens_left_out,
  /// siax_auth_token_reloads_total, siax_auth_token_reload_failures_total.
  [[nodiscard]] std::string render_metrics() const;

  struct State;  // internal

 private:
  std::shared_ptr<State> state_;
};

/// The registry's tokens as cache rows (roles mapped by name).
[[nodiscard]] std::vector<auth::TokenRow> token_rows(const std::vector<registry::TokenRecord>& records);

}  // namespace siax::agent
