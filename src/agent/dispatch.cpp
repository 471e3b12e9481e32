#include "agent/dispatch.h"

#include <fmt/format.h>

#include <thread>

namespace siax::agent {

using http::Response;
using http::StatusCode;

tl::expected<std::shared_ptr<orchestrator::Lease>, Refused> admit_operation(ApiContext& ctx, const std::string& app,
                                                                          const std::string& operation) {
  // A running operation wins over the rate window: a refused request consumes nothing.
  auto lease = ctx.ops.try_begin(app, operation);
  if (!lease) {
    auto running = ctx.ops.running(app).value_or("another operation");
    return tl::unexpected(Refused{
        http::json_failure(StatusCode::conflict, "operation_in_progress",
                           fmt::format("app '{}' is busy: {}; try again when it has finished", app, running)),
        "operation_in_progress"});
  }
  auto decision = ctx.limiter.try_acquire(app);
  if (!decision) {
    ctx.metrics.count_rate_limited(app);
    auto s = orchestrator::to_status(decision, app, ctx.limiter.options().interval);
    return tl::unexpected(
        Refused{http::error_response(s.error(), std::chrono::seconds(decision.retry_after_seconds())), "rate_limited"});
  }
  return std::make_shared<orchestrator::Lease>(std::move(*lease));
}

void on_worker(ApiContext& ctx, http::Responder res, std::function<Response()> work) {
  auto job = [&ctx, res, work = std::move(work)]() mutable {
    Response r;
    try {
      r = work();
    } catch (const std::exception& e) {
      // The exception's text stays in the agent's log: it may name paths or internals.
      if (ctx.warn) ctx.warn(fmt::format("an API operation failed: {}", e.what()));
      r = http::json_failure(StatusCode::internal_server_error, "internal",
                             "the operation failed unexpectedly; an admin finds the details in the agent's log");
    }
    res.send(std::move(r));
  };
  if (!ctx.workers.try_post(job)) {
    res.send(http::json_failure(StatusCode::service_unavailable, "agent_busy",
                                "the agent has too many operations in progress; try again in a moment",
                                std::chrono::seconds(1)));
  }
}

void refresh_live(ApiContext& ctx, const std::string& app) {
  if (ctx.live == nullptr) return;
  auto v = ctx.apps.get(app);
  if (!v) return;
  std::optional<monitor::AppState> seen;
  if (ctx.monitor != nullptr) seen = ctx.monitor->state(app);
  ctx.live->app_view(*v, seen);
}

void append_audit(ApiContext& ctx, registry::AuditEntry entry) {
  auto write = [&reg = ctx.registry, e = std::move(entry)] { (void)reg.append_audit(e); };
  if (ctx.workers.try_post(write)) return;
  // Never SQLite on the io thread: with the pool full, an entry from there is dropped and
  // counted (siax_audit_dropped_total); other threads write it inline.
  if (std::this_thread::get_id() == ctx.io_thread) {
    ctx.metrics.count_audit_dropped();
    return;
  }
  write();
}

}  // namespace siax::agent
