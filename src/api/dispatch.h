#pragma once
/// How a route hands blocking work over: to the WorkerPool, answering from there, and
/// how an operation's result reaches the live state.
///
/// Thread: on_worker is called on the io thread and never blocks it; the work and
/// refresh_live run on a worker.
#include <functional>
#include <string>

#include "api/context.h"

namespace siax::api {

/// Runs `work` on a worker and sends its Response from there (an exception: 500
/// "internal"). The pool full: 503 "agent_busy" with Retry-After: 1, and `work` never runs.
void on_worker(ApiContext& ctx, http::Responder res, std::function<http::Response()> work);

/// Puts `app`'s fresh view (systemd now, the monitor's last state) into the live state
/// after an operation, so that a read right after the answer sees it. On a worker.
void refresh_live(ApiContext& ctx, const std::string& app);

/// Same with a view already read.
void feed_live(const ApiContext& ctx, const agent::AppView& view);

}  // namespace siax::api
