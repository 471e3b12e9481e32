#pragma once
/// GET /api/stream: the live state as server-sent events (contract:
/// /work/notes/stream-contract.md, documented in docs/API.md). A snapshot first (or, on a
/// resume with Last-Event-ID, every change since), then each change of the StateStore as
/// one event with the store's version as its id, and a keepalive comment every 15 s.
///
/// Bounds: at most StoreOptions::max_subscribers streams (the store refuses more); each
/// stream holds at most `max_in_flight` written-but-unsent chunks in the HTTP server and
/// at most StoreOptions::max_queue changes in its subscription: a client that stops
/// reading makes its queue overflow, which drops it and sends a fresh snapshot once it
/// reads again (memory stays bounded; the server's write timeout closes a client that
/// never reads again).
///
/// Threading: one pump thread of its own writes to every stream (it never blocks: it
/// writes only when the stream has room). `open` may be called from any thread (the io
/// thread calls it); `start`/`stop` from the owner.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "http/message.h"
#include "state/state_store.h"

namespace siax::agent {

struct StateStreamOptions {
  std::chrono::milliseconds keepalive{15'000};
  std::size_t max_in_flight = 8;  ///< chunks handed to the server and not yet written
};

struct StateStreamStats {
  std::size_t open = 0;
  std::uint64_t opened = 0;
  std::uint64_t refused = 0;
  std::uint64_t snapshots = 0;   ///< snapshots sent (first ones and catch-ups)
  std::uint64_t resumed = 0;     ///< streams that resumed from Last-Event-ID without a snapshot
  std::uint64_t events = 0;      ///< change events written
};

/// One SSE message: "id: N\nevent: TYPE\ndata: DATA\n\n". Pure.
[[nodiscard]] std::string sse_message(std::uint64_t id, std::string_view type, std::string_view data);

class StateStream {
 public:
  StateStream(state::StateStore& store, StateStreamOptions options);
  ~StateStream();  ///< stops
  StateStream(const StateStream&) = delete;
  StateStream& operator=(const StateStream&) = delete;

  void start();
  /// Ends every stream (their connections get the last chunk) and joins the pump.
  void stop();
  /// Wakes the pump (the store's notify callback).
  void notify();

  /// Answers `res` with the stream, or with 429 "too_many_streams". `last_event_id`: the
  /// version the client saw last (resume), nullopt for a fresh start.
  void open(const http::Responder& res, std::optional<std::uint64_t> last_event_id);

  [[nodiscard]] StateStreamStats stats() const;

 private:
  struct Client {
    http::BodyWriter writer;
    std::shared_ptr<state::Subscription> sub;
    std::optional<std::uint64_t> resume_from;
    bool started = false;
    std::uint64_t last_sent = 0;
    std::chrono::steady_clock::time_point last_write;
  };
  void run();
  /// Writes what `c` is due; false when the client is gone.
  bool serve(Client& c, std::chrono::steady_clock::time_point now);

  state::StateStore& store_;
  const StateStreamOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool dirty_ = false;
  std::vector<std::unique_ptr<Client>> clients_;  ///< guarded by mu_; served by the pump
  StateStreamStats stats_;
  std::thread thread_;
};

}  // namespace siax::agent
