#pragma once
/// The one admission point for an operation on an app, used by the API's routes, the
/// webhook and the monitor's health restarts (docs/API.md, "Operations on one app"):
///
/// 1. the per-app serializer: 409 "operation_in_progress" while another operation runs on
///    the app (consumes nothing, the rate window included);
/// 2. for lifecycle verbs, the per-app rate limit: 429 "rate_limited" (or
///    "rate_limiter_full") with Retry-After, counted in siax_rate_limited_total;
/// 3. every refusal is written to the audit log as the caller's entry (result = the
///    refusal's code).
///
/// Admitted: a lease, held until the operation ends (release it then; dropping the last
/// copy releases it too).
///
/// Thread: any thread; nothing here blocks (the audit write goes to AuditLog).
#include <functional>
#include <memory>
#include <string>

#include "api/audit_log.h"
#include "api/metrics.h"
#include "common/result.h"
#include "http/message.h"
#include "orchestrator/op_serializer.h"
#include "orchestrator/rate_limiter.h"

namespace siax::api {

/// Who asks, for the audit entry of a refusal.
struct Caller {
  std::string actor;   ///< "token:deploy-bot", "user:admin", "webhook", "monitor"
  std::string role;    ///< "operator", ... ("" when not known)
  std::string source;  ///< the remote address ("" for the agent itself)
  std::string detail;  ///< appended to the entry (e.g. how the webhook authenticated)
};

/// An operation that was not admitted: the response to send, the result for the log.
struct Refused {
  http::Response response;
  std::string result;  ///< "operation_in_progress", "rate_limited" or "rate_limiter_full"
};

/// Whether the per-app rate window applies: to lifecycle verbs (start, stop, restart,
/// enable, disable), not to register, update and delete.
enum class RateWindow { Apply, Skip };

using Lease = std::shared_ptr<orchestrator::Lease>;

class Admission {
 public:
  Admission(orchestrator::OpSerializer& ops, orchestrator::RateLimiter& limiter, Metrics& metrics, AuditLog& audit,
            std::function<std::int64_t()> now_usec)
      : ops_(ops), limiter_(limiter), metrics_(metrics), audit_(audit), now_usec_(std::move(now_usec)) {}

  [[nodiscard]] tl::expected<Lease, Refused> admit(const std::string& app, const std::string& operation,
                                                   const Caller& caller, RateWindow window = RateWindow::Apply);

 private:
  void audit_refusal(const std::string& app, const std::string& operation, const Caller& caller,
                     const std::string& result);

  orchestrator::OpSerializer& ops_;
  orchestrator::RateLimiter& limiter_;
  Metrics& metrics_;
  AuditLog& audit_;
  std::function<std::int64_t()> now_usec_;
};

}  // namespace siax::api
