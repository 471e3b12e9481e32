#pragma once
/// The state shared by a streamed response's producer (BodyWriter, any thread) and its
/// connection (the connection's strand). Internal to siax_http.
///
/// A bounded hand-over: the producer appends chunks and blocks (condition variable)
/// while `max_in_flight` chunks are queued or being written; the connection takes the
/// oldest chunk, writes it, then calls `written()`, which makes room. The connection is
/// told about new data by `wake` (which posts to its strand), called only when the
/// connection found nothing to take the last time it looked (one post per stall, not
/// per chunk). Every member is thread-safe.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>

#include "http/message.h"

namespace siax::http::detail {

class BodyChannel {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Kind { Nothing, Chunk, Finished, Failed, Cancelled };
  struct Next {
    Kind kind = Kind::Nothing;
    std::string data;   ///< Chunk
    Headers trailers;   ///< Finished
    std::string reason; ///< Failed
  };

  explicit BodyChannel(std::size_t max_in_flight) : max_in_flight_(max_in_flight == 0 ? 1 : max_in_flight) {}

  // --- producer ---
  bool write(std::string chunk);
  void finish(Headers trailers);
  void fail(std::string reason);
  bool heartbeat();
  [[nodiscard]] bool cancelled() const;
  [[nodiscard]] std::size_t in_flight() const;

  // --- connection ---
  /// Sets the wake-up callback (called from the producer's thread, outside the lock).
  void attach(std::function<void()> wake);
  /// The next thing to send. A Chunk stays counted in flight until `written()`.
  Next take();
  /// The chunk last taken was written: room for another.
  void written();
  /// The connection is gone: drop what is queued, wake the producer, refuse more.
  void cancel();
  /// When the producer last wrote, finished or sent a heartbeat, or a chunk was written.
  [[nodiscard]] Clock::time_point last_activity() const;

 private:
  void end(bool failed, Headers trailers, std::string reason);

  mutable std::mutex mu_;
  std::condition_variable room_;
  std::deque<std::string> queue_;
  const std::size_t max_in_flight_;
  std::size_t in_flight_ = 0;  // queued + being written
  enum class End { Open, Finished, Failed } end_ = End::Open;
  bool end_taken_ = false;
  Headers trailers_;
  std::string reason_;
  bool cancelled_ = false;
  bool consumer_waiting_ = true;
  std::function<void()> wake_;
  Clock::time_point activity_ = Clock::now();
};

}  // namespace siax::http::detail
