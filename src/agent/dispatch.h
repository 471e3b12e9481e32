#pragma once
/// How the API's routes and the webhook hand an operation on an app over, in one place:
/// admission (the per-app serializer, then the per-app rate limit), the worker pool, and
/// the audit log. docs/API.md, "Operations on one app".
///
/// Thread: called on the io thread; nothing here blocks it. The work passed to on_worker
/// and the audit writes run on the WorkerPool.
#include <functional>
#include <memory>
#include <string>

#include "agent/http_api.h"

namespace siax::agent {

/// An operation that was not admitted: the response to send, the result for the audit log.
struct Refused {
  http::Response response;
  std::string result;  ///< "operation_in_progress" or "rate_limited"
};

/// Admits lifecycle operation `operation` on `app`: 409 "operation_in_progress" while
/// another operation runs on the app (consumes nothing, the rate window included), then
/// 429 "rate_limited" (or "rate_limiter_full") with Retry-After inside the app's rate
/// window (counted in the metrics; nothing runs). Admitted: the lease, held until the
/// operation ends (release it then; dropping the last copy releases it too).
[[nodiscard]] tl::expected<std::shared_ptr<orchestrator::Lease>, Refused> admit_operation(ApiContext& ctx,
                                                                                        const std::string& app,
                                                                                        const std::string& operation);

/// Runs `work` on a worker and sends its Response from there (an exception: 500
/// "internal"). The pool full: 503 "agent_busy" with Retry-After: 1, and `work` never runs.
void on_worker(ApiContext& ctx, http::Responder res, std::function<http::Response()> work);

/// Puts `app`'s fresh view (systemd now, the monitor's last state) into the live state
/// after an operation, so that a read right after the answer sees it. On a worker.
void refresh_live(ApiContext& ctx, const std::string& app);

/// Appends `entry` to the audit log on a worker. The pool full: written inline from any
/// thread but the io thread; from the io thread it is dropped and counted.
void append_audit(ApiContext& ctx, registry::AuditEntry entry);

}  // namespace siax::agent
