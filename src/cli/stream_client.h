#pragma once
/// The CLI's client of GET /api/stream (server-sent events): `apps list --watch` and
/// `apps status NAME --watch`.
#include <functional>
#include <string>

#include "cli/client.h"
#include "common/result.h"

namespace siax::cli {

struct SseEvent {
  std::string id;
  std::string type;  ///< "message" when the server named none
  std::string data;
};

/// Incremental parser of an event stream: feed bytes, get whole events. Pure.
class SseParser {
 public:
  /// Appends bytes; calls `on_event` for each complete event (comments are skipped).
  /// Returns false when on_event asked to stop. A line over 16 MiB is an error: false.
  bool feed(std::string_view bytes, const std::function<bool(const SseEvent&)>& on_event);

 private:
  std::string line_;
  SseEvent current_;
  bool has_data_ = false;
};

/// Opens `target` on the agent and calls `on_event` for every event until it returns false
/// (then ok) or the stream ends (Unavailable "stream_ended"). Non-200 answers are errors
/// with the agent's message.
[[nodiscard]] Status follow_stream(const Endpoint& ep, const std::string& target,
                                   const std::function<bool(const SseEvent&)>& on_event);

}  // namespace siax::cli
