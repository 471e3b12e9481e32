#include "api/dispatch.h"

#include <fmt/format.h>

namespace siax::api {

using http::Response;
using http::StatusCode;

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

void feed_live(const ApiContext& ctx, const agent::AppView& v) {
  if (ctx.live == nullptr) return;
  std::optional<monitor::AppState> seen;
  if (ctx.monitor != nullptr) seen = ctx.monitor->state(v.record.definition.name);
  ctx.live->app_view(v, seen);
}

void refresh_live(ApiContext& ctx, const std::string& app) {
  if (ctx.live == nullptr) return;
  auto v = ctx.apps.get(app);
  if (v) feed_live(ctx, *v);
}

}  // namespace siax::api
