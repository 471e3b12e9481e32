// The log downloads: GET /api/apps/:name/logs and /api/agent/logs, streamed from a
// worker (limits and headers: docs/LOGS.md).
#include "logs/endpoint_core.h"

#include <atomic>
#include <chrono>

#include <fmt/format.h>

namespace siax::logs {

namespace {

using Core = LogEndpoint::Core;

/// A download, on a worker thread: errors up to the journal's positioning are normal
/// JSON responses; then the head goes out and the output follows in chunks (the worker
/// blocks while `chunks_in_flight` chunks are unsent); the counts come as trailers.
/// Returns when done, at a limit, on an error (the connection is closed, the server
/// logs why) or as soon as the client is gone (the writer is cancelled). The journal
/// reader is closed on return.
void stream_download_to(const Core& core, const Selector& selector, const DownloadQuery& q,
                        const http::Responder& res) {
  const auto& limits = core.options.download;
  auto reader = open_download(core.source, selector, q);
  if (!reader) {
    res.send(http::error_response(reader.error()));
    return;
  }
  http::Response head;
  head.content_type = q.json_lines ? "application/x-ndjson" : "text/plain; charset=utf-8";
  head.headers.add("X-Siax-Log-Limit", fmt::format("entries={}; bytes={}", limits.max_entries, limits.max_bytes));
  head.headers.add("Trailer", "X-Siax-Log-Entries, X-Siax-Log-Truncated");
  head.headers.add("Content-Disposition",
                   fmt::format("attachment; filename=\"{}-logs.{}\"", selector.name, q.json_lines ? "jsonl" : "txt"));
  head.headers.add("Cache-Control", "no-store");
  auto writer = res.stream(std::move(head), limits.chunks_in_flight);
  if (!writer) return;  // already answered (the handler timeout)
  DownloadSink sink;
  sink.chunk = [&w = *writer](std::string piece) { return w.write(std::move(piece)); };
  sink.alive = [&w = *writer] { return w.heartbeat(); };
  auto d = stream_download(**reader, q, limits, sink);
  if (!d) {
    writer->fail(
        fmt::format("reading the journal for {} failed: {} ({})", selector.name, d.error().message, d.error().code));
    return;
  }
  if (d->cancelled) return;
  http::Headers trailers;
  trailers.add("X-Siax-Log-Entries", std::to_string(d->entries));
  trailers.add("X-Siax-Log-Truncated", d->truncated ? "true" : "false");
  writer->finish(std::move(trailers));
}

}  // namespace

void serve_download(const std::shared_ptr<Core>& core, const http::Request& req, const http::Responder& res) {
  auto q = parse_download_query(req.query, core->options.download.max_entries);
  if (!q) {
    res.send(http::error_response(q.error()));
    return;
  }
  // Each download holds a worker thread while it streams: bound how many at once.
  if (!core->deps.run_blocking || core->active_downloads.load() >= core->options.download.max_concurrent) {
    res.send(http::json_failure(
        http::StatusCode::service_unavailable, "too_many_downloads",
        fmt::format("at most {} log downloads run at once: retry in a moment", core->options.download.max_concurrent),
        std::chrono::seconds(5)));
    return;
  }
  auto selector = core->selector_for(req);
  ++core->counters.downloads;
  ++core->active_downloads;
  const bool posted = core->deps.run_blocking([core, selector, q = std::move(*q), res]() mutable {
    struct Release {
      std::atomic<std::size_t>& active;
      ~Release() { --active; }
    } release{core->active_downloads};
    if (auto compiled = compile_regex(q.filter); !compiled) {  // a user's regex: here, not on the io thread
      res.send(http::error_response(compiled.error()));
      return;
    }
    stream_download_to(*core, selector, q, res);
  });
  if (!posted) {
    --core->active_downloads;
    res.send(http::json_failure(http::StatusCode::service_unavailable, "busy", "the agent is busy: retry in a moment",
                                std::chrono::seconds(1)));
  }
}

}  // namespace siax::logs
