#include "logs/history.h"

#include <algorithm>
#include <deque>
#include <thread>

namespace siax::logs {
namespace {

constexpr std::size_t kChunk = 1024;

SharedEntry shared(LogEntry e) { return make_shared_entry(std::move(e)); }

Result<History> replay_forward(JournalReader& reader, const StreamQuery& query, const HistoryLimits& limits,
                               std::optional<CursorKey> end) {
  History h;
  LineFolder folder(limits.folder);
  std::deque<SharedEntry> kept;
  std::vector<RawLine> lines;
  std::vector<LogEntry> entries;
  auto keep = [&](std::vector<LogEntry>& done) {
    for (auto& e : done) {
      if (!query.filter.matches(e)) continue;
      kept.push_back(shared(std::move(e)));
      if (kept.size() > limits.max_replay_entries) {
        kept.pop_front();
        ++h.missed;
      }
    }
    done.clear();
  };
  for (;;) {
    lines.clear();
    auto n = reader.read_forward(kChunk, lines);
    if (!n) return tl::unexpected(n.error());
    if (*n == 0) break;
    if (auto k = parse_cursor(lines.back().cursor)) end = k;
    for (auto& l : lines) folder.push(std::move(l), entries);
    keep(entries);
  }
  folder.flush(entries);
  keep(entries);
  h.entries.assign(std::make_move_iterator(kept.begin()), std::make_move_iterator(kept.end()));
  h.end = std::move(end);
  return h;
}

/// How the newest lines end: 0 complete; 1 with an entry that may still grow (an error
/// line); 2 inside an unfinished traceback (see HistoryLimits::settle_max).
int ends_unfinished(const std::vector<RawLine>& newest_first, const FolderOptions& options) {
  // Enough lines to see the traceback's start: a folded entry holds at most max_lines.
  const std::size_t n = std::min(newest_first.size(), options.max_lines + 1);
  LineFolder folder(options);
  std::vector<LogEntry> sink;
  for (std::size_t i = n; i-- > 0;) folder.push(newest_first[i], sink);
  return folder.incomplete() ? 2 : folder.holding() ? 1 : 0;
}

Result<History> tail_once(JournalReader& reader, const StreamQuery& query, const HistoryLimits& limits,
                          int& unfinished) {
  History h;
  const std::size_t want = query.start.tail;
  if (auto s = reader.seek_tail(); !s) return tl::unexpected(s.error());
  std::vector<RawLine> newest_first;
  bool at_start = false;
  std::size_t chunk = std::max<std::size_t>(want + want / 4 + 16, 64);
  std::vector<LogEntry> matching;
  while (!at_start) {
    const std::size_t before = newest_first.size();
    auto n = reader.read_backward(std::min(chunk, limits.max_scan_lines - before), newest_first);
    if (!n) return tl::unexpected(n.error());
    at_start = *n == 0 || newest_first.size() >= limits.max_scan_lines;
    if (h.end == std::nullopt && !newest_first.empty()) h.end = parse_cursor(newest_first.front().cursor);
    std::vector<RawLine> ordered(newest_first.rbegin(), newest_first.rend());
    auto all = fold_all(std::move(ordered), limits.folder);
    matching.clear();
    for (auto& e : all) {
      if (query.filter.matches(e)) matching.push_back(std::move(e));
    }
    if (matching.size() >= want || want == 0) break;
    chunk *= 2;
  }
  unfinished = ends_unfinished(newest_first, limits.folder);
  const std::size_t skip = matching.size() > want ? matching.size() - want : 0;
  for (std::size_t i = skip; i < matching.size(); ++i) h.entries.push_back(shared(std::move(matching[i])));
  return h;
}

Result<History> tail(JournalReader& reader, const StreamQuery& query, const HistoryLimits& limits) {
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    int unfinished = 0;
    auto h = tail_once(reader, query, limits, unfinished);
    // An error line may have a traceback coming: wait as long as the live stream would
    // (settle_step x 5); an unfinished traceback surely goes on: up to settle_max.
    const auto give_up = t0 + (unfinished == 2 ? limits.settle_max : limits.settle_step * 5);
    if (!h || unfinished == 0 || std::chrono::steady_clock::now() + limits.settle_step > give_up) return h;
    std::this_thread::sleep_for(limits.settle_step);
    reader.process();
  }
}

}  // namespace

Result<History> read_history(JournalSource& source, const Selector& selector, const StreamQuery& query,
                             const HistoryLimits& limits) {
  auto reader = source.open(selector);
  if (!reader) return tl::unexpected(reader.error());
  auto& r = **reader;
  if (query.start.after_cursor) {
    if (auto s = r.seek_after_cursor(*query.start.after_cursor); !s) return tl::unexpected(s.error());
    return replay_forward(r, query, limits, parse_cursor(*query.start.after_cursor));
  }
  if (query.start.since_usec) {
    if (auto s = r.seek_time(*query.start.since_usec); !s) return tl::unexpected(s.error());
    return replay_forward(r, query, limits, std::nullopt);
  }
  return tail(r, query, limits);
}

Result<std::unique_ptr<JournalReader>> open_download(JournalSource& source, const Selector& selector,
                                                     const DownloadQuery& query) {
  auto reader = source.open(selector);
  if (!reader) return tl::unexpected(reader.error());
  if (query.since_usec) {
    if (auto s = (*reader)->seek_time(*query.since_usec); !s) return tl::unexpected(s.error());
  }
  return reader;
}

Result<DownloadSummary> stream_download(JournalReader& reader, const DownloadQuery& query,
                                        const DownloadLimits& limits, const DownloadSink& sink) {
  DownloadSummary d;
  LineFolder folder(limits.folder);
  std::vector<RawLine> lines;
  std::vector<LogEntry> entries;
  const std::size_t max_entries = std::min(query.limit == 0 ? limits.max_entries : query.limit, limits.max_entries);
  const std::size_t chunk_bytes = std::max<std::size_t>(limits.chunk_bytes, 1);
  std::string chunk;
  bool done = false;
  auto hand_over = [&] {
    if (chunk.empty()) return;
    if (!sink.chunk(std::move(chunk))) {
      d.cancelled = true;
      done = true;
    }
    chunk = std::string();
    chunk.reserve(chunk_bytes + chunk_bytes / 4);
  };
  auto emit = [&](std::vector<LogEntry>& batch) {
    for (auto& e : batch) {
      if (done) break;
      if (query.until_usec && e.time_usec > *query.until_usec) {
        done = true;
        break;
      }
      if (!query.filter.matches(e)) continue;
      std::string line = query.json_lines ? encode_entry(e) + "\n" : text_line(e);
      if (d.entries >= max_entries || d.bytes + line.size() > limits.max_bytes) {
        d.truncated = true;
        done = true;
        break;
      }
      chunk += line;
      d.bytes += line.size();
      ++d.entries;
      if (chunk.size() >= chunk_bytes) hand_over();
    }
    batch.clear();
  };
  chunk.reserve(chunk_bytes + chunk_bytes / 4);
  bool at_end = false;
  while (!done) {
    lines.clear();
    auto n = reader.read_forward(kChunk, lines);
    if (!n) return tl::unexpected(n.error());
    if (*n == 0) {
      at_end = true;
      break;
    }
    for (auto& l : lines) folder.push(std::move(l), entries);
    emit(entries);
    if (!done && sink.alive && !sink.alive()) {
      d.cancelled = true;
      done = true;
    }
  }
  if (at_end) {
    folder.flush(entries);
    emit(entries);
  }
  if (!d.cancelled) hand_over();
  return d;
}

Result<Download> read_download(JournalSource& source, const Selector& selector, const DownloadQuery& query,
                               const DownloadLimits& limits) {
  auto reader = open_download(source, selector, query);
  if (!reader) return tl::unexpected(reader.error());
  Download d;
  DownloadSink sink;
  sink.chunk = [&](std::string piece) {
    d.body += piece;
    return true;
  };
  auto summary = stream_download(**reader, query, limits, sink);
  if (!summary) return tl::unexpected(summary.error());
  d.entries = summary->entries;
  d.truncated = summary->truncated;
  return d;
}

}  // namespace siax::logs
