#include "agent/token_sync.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>

#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include "common/prometheus.h"

namespace siax::agent {

namespace net = boost::asio;

std::vector<auth::TokenRow> token_rows(const std::vector<registry::TokenRecord>& records) {
  std::vector<auth::TokenRow> rows;
  rows.reserve(records.size());
  for (const auto& t : records) {
    rows.push_back(auth::TokenRow{
        t.hash, auth::CachedToken{t.id, t.name, t.role, t.last_used_at_usec},
        t.revoked_at_usec.has_value()});
  }
  return rows;
}

struct TokenSync::State : std::enable_shared_from_this<TokenSync::State> {
  State(net::io_context& ioc, WorkerPool& w, registry::Registry& r, auth::TokenCache& c, std::string path,
        TokenSyncOptions o, std::function<void(std::string_view)> warn_fn)
      : executor(ioc.get_executor()),
        workers(w),
        registry(r),
        cache(c),
        db_path(std::move(path)),
        options(o),
        warn(std::move(warn_fn)),
        debounce_timer(ioc),
        period_timer(ioc) {}

  net::any_io_executor executor;
  WorkerPool& workers;
  registry::Registry& registry;
  auth::TokenCache& cache;
  std::string db_path;
  TokenSyncOptions options;
  std::function<void(std::string_view)> warn;
  net::steady_timer debounce_timer;
  net::steady_timer period_timer;
  std::optional<net::posix::stream_descriptor> inotify;
  std::array<char, 4096> events{};
  bool stopped = false;
  bool debounce_armed = false;
  bool reloading = false;  ///< a reload is posted or running
  bool dirty = false;      ///< a change came while reloading: reload once more
  std::chrono::steady_clock::time_point last_start{};  ///< when the last reload was posted
  std::size_t last_left_out = 0;
  std::mutex reload_mutex;
  std::atomic<std::uint64_t> reloads{0};
  std::atomic<std::uint64_t> failures{0};
  std::atomic<std::uint64_t> change_events{0};

  /// Reads the table and replaces the cache (the calling thread: a worker, or the caller
  /// of load_now). Returns the left-out count.
  Result<std::size_t> reload_blocking() {
    std::lock_guard lock(reload_mutex);  // read and replace together: never an older read last
    auto list = registry.list_tokens();
    if (!list) {
      ++failures;
      return tl::unexpected(list.error());
    }
    ++reloads;
    return cache.replace(token_rows(*list));
  }

  void report_left_out(std::size_t left_out) {
    if (left_out == last_left_out) return;
    last_left_out = left_out;
    if (left_out > 0 && warn) {
      warn(fmt::format("{} active API token(s) over the limit of {} are refused (the newest are kept): revoke unused "
                       "tokens with 'siax-agent token revoke'",
                       left_out, cache.stats().tokens));
    }
  }

  void watch() {
    const auto dir = std::filesystem::path(db_path).parent_path();
    int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) {
      if (warn) warn(fmt::format("tokens: no inotify ({}): new and revoked tokens take effect within {} ms",
                                 std::strerror(errno), options.period.count()));
      return;
    }
    const std::string d = dir.empty() ? "." : dir.string();
    if (::inotify_add_watch(fd, d.c_str(), IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO | IN_DELETE) < 0) {
      if (warn) warn(fmt::format("tokens: cannot watch {} ({}): new and revoked tokens take effect within {} ms", d,
                                 std::strerror(errno), options.period.count()));
      ::close(fd);
      return;
    }
    inotify.emplace(executor, fd);
    wait_events();
  }

  void wait_events() {
    if (stopped || !inotify) return;
    inotify->async_wait(net::posix::stream_descriptor::wait_read, [self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->stopped) return;
      self->drain_events();
      self->wait_events();
    });
  }

  /// Reads the pending events (a kernel queue, not the disk) and asks for a reload if one
  /// names the registry's files.
  void drain_events() {
    const std::string base = std::filesystem::path(db_path).filename().string();
    bool ours = false;
    for (;;) {
      const ssize_t n = ::read(inotify->native_handle(), events.data(), events.size());
      if (n <= 0) break;
      for (ssize_t off = 0; off + static_cast<ssize_t>(sizeof(inotify_event)) <= n;) {
        const auto* ev = reinterpret_cast<const inotify_event*>(events.data() + off);
        if ((ev->mask & IN_Q_OVERFLOW) != 0) ours = true;
        if (ev->len > 0) {
          const std::string_view name(ev->name, ::strnlen(ev->name, ev->len));
          if (name == base || name == base + "-wal" || name == base + "-journal") ours = true;
        }
        off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      }
    }
    if (ours) {
      ++change_events;
      request_reload();
    }
  }

  void request_reload() {
    if (stopped) return;
    if (reloading) {
      dirty = true;
      return;
    }
    if (debounce_armed) return;
    // At once when the last reload began long enough ago (a new token must work by the
    // time the CLI that made it has exited); else when that spacing is over.
    const auto now = std::chrono::steady_clock::now();
    if (now - last_start >= options.debounce) return post_reload();
    debounce_armed = true;
    debounce_timer.expires_at(last_start + options.debounce);
    debounce_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      self->debounce_armed = false;
      if (ec || self->stopped) return;
      self->post_reload();
    });
  }

  void post_reload() {
    reloading = true;
    last_start = std::chrono::steady_clock::now();
    const bool posted = workers.try_post([self = shared_from_this()] {
      auto r = self->reload_blocking();
      net::post(self->executor, [self, r = std::move(r)] {
        self->reloading = false;
        if (self->stopped) return;
        if (!r) {
          if (self->warn) self->warn(fmt::format("tokens: reading the token table failed: {}", r.error().message));
        } else {
          self->report_left_out(*r);
        }
        if (self->dirty) {
          self->dirty = false;
          self->request_reload();
        }
      });
    });
    if (posted) return;
    reloading = false;  // the pool is full: try again after the debounce
    request_reload();
  }

  void arm_period() {
    if (stopped) return;
    // With the watch in place the timer is only a safety net: an idle agent must not read
    // the token table every 2 s (it was 5 % of its idle CPU).
    period_timer.expires_after(inotify ? options.watched_period : options.period);
    period_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->stopped) return;
      self->request_reload();
      self->arm_period();
    });
  }

  void stop() {
    if (stopped) return;
    stopped = true;
    debounce_timer.cancel();
    period_timer.cancel();
    if (inotify) {
      boost::system::error_code ignored;
      inotify->cancel(ignored);
      inotify->close(ignored);
      inotify.reset();
    }
  }
};

TokenSync::TokenSync(net::io_context& ioc, WorkerPool& workers, registry::Registry& registry, auth::TokenCache& cache,
                     std::string db_path, TokenSyncOptions options, std::function<void(std::string_view)> warn)
    : state_(std::make_shared<State>(ioc, workers, registry, cache, std::move(db_path), options, std::move(warn))) {}

TokenSync::~TokenSync() { state_->stop(); }

Status TokenSync::load_now() {
  auto r = state_->reload_blocking();
  if (!r) return tl::unexpected(r.error());
  state_->report_left_out(*r);
  return ok();
}

void TokenSync::start() {
  state_->watch();
  state_->arm_period();
}

void TokenSync::stop() { state_->stop(); }

bool TokenSync::reload(std::function<void(Result<std::size_t>)> done) {
  return state_->workers.try_post([state = state_, done = std::move(done)] {
    auto r = state->reload_blocking();
    if (!r) {
      done(tl::unexpected(r.error()));
      return;
    }
    done(state->cache.stats().tokens);
  });
}

TokenSyncStats TokenSync::stats() const {
  return TokenSyncStats{state_->reloads.load(), state_->failures.load(), state_->change_events.load(),
                        state_->inotify.has_value()};
}

std::string TokenSync::render_metrics() const {
  const auto c = state_->cache.stats();
  const auto s = stats();
  PromText out;
  out.family("siax_auth_tokens_cached", "gauge", "Active API tokens held in memory for authentication.")
      .sample(c.tokens);
  out.family("siax_auth_tokens_left_out", "gauge", "Active API tokens over the cache's bound (refused).")
      .sample(c.left_out);
  out.family("siax_auth_token_reloads_total", "counter", "Reloads of the token table into memory.").sample(s.reloads);
  out.family("siax_auth_token_reload_failures_total", "counter", "Reloads of the token table that failed.")
      .sample(s.failures);
  return out.take();
}

}  // namespace siax::agent
