#pragma once
/// The live-logs endpoints on the agent's HTTP server:
///
///   WS  /logs/:app_name   an app's log: the last N entries (or those after a cursor, or
///                         since a time), then live
///   WS  /logs             the same for the agent's own log
///   GET /api/apps/:name/logs   a download (text or JSON lines), streamed (chunked)
///   GET /api/agent/logs        the agent's own log, downloaded
///
/// Protocol, query options, limits and close codes: docs/LOGS.md.
///
/// Refusals before the upgrade (HTTP, from a middleware that runs after the agent's
/// authentication): 401 unauthenticated, 403 a role that may not read this log (the
/// agent's own log is for admins) or a foreign Origin, 404 unknown app, 400 bad query (a
/// bad regex is refused after the upgrade: it is compiled on a worker, never on the io
/// thread). After the upgrade (so browsers can show the reason): a viewer over a limit gets
/// {"type":"error","code":"too_many_viewers",...} and close 1013 (try again later) with
/// the reason.
///
/// Threading: construct, `install` and `stop` on the io thread before/while the io_context
/// runs (the agent runs one io thread; sessions are not made for several). History reads
/// run through `run_blocking` (the agent's WorkerPool) and come back to the io thread by
/// post. A download runs on one worker for its whole length: it positions a journal
/// reader (errors so far are plain JSON responses), then hands the rendered output to
/// the connection in 64 KiB chunks through an http::BodyWriter, blocking while 4 chunks
/// are unsent (so ~320 KiB per download, whatever its size or the client's speed), and
/// returns as soon as the connection is gone. At most `download.max_concurrent` (2) run
/// at once, so slow clients cannot occupy the whole pool. `stats()` from the io thread.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "common/result.h"
#include "http/server.h"
#include "logs/history.h"
#include "logs/hub.h"
#include "logs/journal.h"
#include "logs/viewer_queue.h"

namespace siax::logs {

struct LogEndpointOptions {
  HubOptions hub;          ///< viewers per app (10) and overall (100), read budget, hold delay
  QueueOptions queue;      ///< per-viewer bound (10,000 entries / 4 MiB) and batch size
  HistoryLimits history;   ///< replay bound on reconnect (10,000 entries)
  DownloadLimits download; ///< 50,000 entries / 256 MiB, 64 KiB chunks, 4 in flight, 2 at once
  std::chrono::milliseconds batch_delay{10};  ///< how long a partial batch waits for more
  std::size_t max_tail = 10'000;              ///< largest `tail` a viewer may ask for
  /// A connection with nothing received for this long is closed; a ping is sent after
  /// half of it (the client's pong counts as received).
  std::chrono::seconds idle_timeout{30};
  std::chrono::seconds handshake_timeout{10};
  std::size_t max_client_message = 4096;
};

struct LogEndpointDeps {
  /// Whether an app of that name is registered (404 otherwise). Io thread.
  std::function<bool(const std::string&)> app_exists;
  /// Runs blocking work off the io thread; false if it refused (then 503 / close 1013).
  /// Empty: history reads run inline on the io thread; downloads (which block until the
  /// client has read them) are refused with 503.
  std::function<bool(std::function<void()>)> run_blocking;
  /// Whether the authenticated request (`request.auth` set, else 401) may read this log
  /// (`request.route` says which); false: 403 "forbidden_role". The agent passes one that
  /// keeps the agent's own log (/logs, /api/agent/logs) to admins. Empty: any
  /// authenticated request.
  std::function<bool(const http::Request&)> authorized;
};

struct LogEndpointStats {
  HubStats hub;
  std::uint64_t sessions_open = 0;
  std::uint64_t sessions_total = 0;
  std::uint64_t viewers_refused = 0;
  std::uint64_t frames_sent = 0;
  std::uint64_t entries_dropped = 0;  ///< lost by slow viewers (reported as gaps)
  std::uint64_t downloads = 0;
  std::uint64_t downloads_active = 0;  ///< streaming now (at most `download.max_concurrent`)
};

class LogEndpoint {
 public:
  LogEndpoint(boost::asio::io_context& ioc, JournalSource& source, Selector agent_selector, LogEndpointDeps deps,
              LogEndpointOptions options = {});
  ~LogEndpoint();
  LogEndpoint(const LogEndpoint&) = delete;
  LogEndpoint& operator=(const LogEndpoint&) = delete;

  /// Registers the middleware, the WebSocket routes and the download routes. Before
  /// `server.start()`.
  [[nodiscard]] Status install(http::Server& server);
  /// Closes every viewer (close 1001 going away) and refuses new ones. Idempotent.
  void stop();
  [[nodiscard]] LogEndpointStats stats() const;
  /// Prometheus text for /metrics (siax_logs_* series).
  [[nodiscard]] std::string render_metrics() const;

  struct Core;  // shared with live sessions

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace siax::logs
