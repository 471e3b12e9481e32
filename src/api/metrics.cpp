#include "api/metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <fstream>

#include "common/prometheus.h"

namespace siax::api {
namespace {

std::uint64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0;
  std::uint64_t resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

std::uint64_t open_fds() {
  std::uint64_t n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (const dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    ::closedir(d);
    if (n > 0) --n;  // the directory stream itself
  }
  return n;
}

void render_http(PromText& out, const http::ServerStats& stats) {
  out.family("siax_http_requests_total", "counter", "HTTP responses by route and status.");
  for (const auto& r : stats.requests) out.sample(r.count, {{"route", r.route}, {"status", std::to_string(r.status)}});
  out.family("siax_http_connections", "gauge", "Open HTTP connections.").sample(stats.active_connections);
  out.family("siax_http_rejected_connections_total", "counter", "Connections refused over the limit.")
      .sample(stats.rejected_connections);
}

}  // namespace

void Metrics::count_operation(const std::string& app, const std::string& verb, const std::string& result) {
  std::lock_guard lock(mutex_);
  if (operations_.size() < 100'000) ++operations_[{app, verb, result}];
}

void Metrics::count_rate_limited(const std::string& app) {
  std::lock_guard lock(mutex_);
  if (rate_limited_.size() < 100'000) ++rate_limited_[app];
}

void Metrics::count_webhook_refused(std::string_view code) {
  std::lock_guard lock(mutex_);
  auto it = webhook_refused_.find(code);
  if (it == webhook_refused_.end()) {
    it = webhook_refused_.try_emplace(webhook_refused_.size() < 32 ? std::string(code) : "other", 0).first;
  }
  ++it->second;
}

std::uint64_t Metrics::rate_limited(const std::string& app) const {
  std::lock_guard lock(mutex_);
  auto it = rate_limited_.find(app);
  return it == rate_limited_.end() ? 0 : it->second;
}

std::string Metrics::render(const http::ServerStats& stats, std::size_t workers_pending,
                            std::uint64_t workers_rejected) const {
  PromText out;
  {
    std::lock_guard lock(mutex_);
    out.family("siax_operations_total", "counter", "Lifecycle operations by app, verb and result.");
    for (const auto& [key, n] : operations_) {
      const auto& [app, verb, result] = key;
      out.sample(n, {{"app", app}, {"verb", verb}, {"result", result}});
    }
    out.family("siax_rate_limited_total", "counter", "Operations refused by the per-app rate limit.");
    for (const auto& [app, n] : rate_limited_) out.sample(n, {{"app", app}});
    out.family("siax_webhook_refused_total", "counter",
               "Webhook requests refused before authentication (summarised in the audit log).");
    for (const auto& [code, n] : webhook_refused_) out.sample(n, {{"code", code}});
  }
  out.family("siax_http_unauthenticated_total", "counter",
             "Requests refused for missing or bad credentials (not audited).")
      .sample(unauthenticated_.load());
  out.family("siax_audit_dropped_total", "counter", "Audit entries dropped because the workers were full.")
      .sample(audit_dropped_.load());
  render_http(out, stats);
  out.family("siax_workers_pending", "gauge", "Blocking operations queued or running.").sample(workers_pending);
  out.family("siax_workers_rejected_total", "counter", "Operations refused because the workers were full.")
      .sample(workers_rejected);
  out.family("siax_resident_memory_bytes", "gauge", "The agent's resident memory.").sample(resident_bytes());
  out.family("siax_open_fds", "gauge", "The agent's open file descriptors.").sample(open_fds());
  return out.take();
}

}  // namespace siax::api
