#include "api/admission.h"

#include <fmt/format.h>

namespace siax::api {

using http::StatusCode;

tl::expected<Lease, Refused> Admission::admit(const std::string& app, const std::string& operation,
                                              const Caller& caller, RateWindow window) {
  // A running operation wins over the rate window: a refused request consumes nothing.
  auto lease = ops_.try_begin(app, operation);
  if (!lease) {
    auto running = ops_.running(app).value_or("another operation");
    audit_refusal(app, operation, caller, "operation_in_progress");
    return tl::unexpected(Refused{
        http::json_failure(StatusCode::conflict, "operation_in_progress",
                           fmt::format("app '{}' is busy: {}; try again when it has finished", app, running)),
        "operation_in_progress"});
  }
  if (window == RateWindow::Apply) {
    auto decision = limiter_.try_acquire(app);
    if (!decision) {
      metrics_.count_rate_limited(app);
      auto s = orchestrator::to_status(decision, app, limiter_.options().interval);
      audit_refusal(app, operation, caller, "rate_limited");
      return tl::unexpected(Refused{
          http::error_response(s.error(), std::chrono::seconds(decision.retry_after_seconds())), "rate_limited"});
    }
  }
  return std::make_shared<orchestrator::Lease>(std::move(*lease));
}

void Admission::audit_refusal(const std::string& app, const std::string& operation, const Caller& caller,
                              const std::string& result) {
  registry::AuditEntry e;
  e.at_usec = now_usec_();
  e.actor = caller.actor;
  e.role = caller.role;
  e.action = operation;
  e.target = app;
  e.source = caller.source;
  e.result = result;
  e.detail = caller.detail;
  audit_.append(std::move(e));
}

}  // namespace siax::api
