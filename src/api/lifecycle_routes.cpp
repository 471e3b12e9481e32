// POST /api/apps/:name/start|stop|restart|enable|disable (operator), through the one
// admission point (admission.h). docs/API.md, "Operations on one app".
#include <thread>

#include <fmt/format.h>

#include "api/route_support.h"
#include "api/views.h"
#include "core/validation.h"

namespace siax::api {
namespace {

using agent::Verb;

/// `?wait=SECONDS` after a start or restart: watches the app that long (polling systemd
/// every 25 ms on the worker) and reports an exit in that window as a failed start.
Status watch_after_start(ApiContext& ctx, const std::string& name, std::chrono::milliseconds window) {
  const auto deadline = std::chrono::steady_clock::now() + window;
  while (true) {
    auto v = ctx.apps.get(name);
    if (!v) return tl::unexpected(v.error());
    if (v->status) {
      const auto& st = *v->status;
      const auto phase = st.phase();
      const bool exited_badly = phase == core::UnitPhase::Inactive && st.exec_main_code != core::ExitCode::None &&
                                !(st.exec_main_code == core::ExitCode::Exited && st.exec_main_status == 0);
      if (phase == core::UnitPhase::Failed || phase == core::UnitPhase::AutoRestart || exited_badly) {
        feed_live(ctx, *v);
        return fail(ErrorKind::OperationFailed, "start_failed",
                    fmt::format("{} exited within {} ms of its start: {}. Its log: journalctl -u {} -n 50", st.unit,
                                window.count(), st.failure_summary(), st.unit),
                    {{"active_state", st.active_state}, {"sub_state", st.sub_state}, {"result", st.result}});
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) return ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
}

/// `?wait=` of a start or restart: 0 s when absent. Errors: InvalidInput "invalid_wait".
Result<std::chrono::milliseconds> wait_of(const Request& req, Verb verb) {
  if (req.query_param("wait") == nullptr) return std::chrono::milliseconds{0};
  const auto w = query_int(req, "wait");
  if (!w || *w < 0 || *w > 60 || (verb != Verb::Start && verb != Verb::Restart)) {
    return fail(ErrorKind::InvalidInput, "invalid_wait",
                "'wait' is a whole number of seconds from 0 to 60, for start and restart only (e.g. ?wait=1)");
  }
  return std::chrono::seconds(*w);
}

void lifecycle(ApiContext& ctx, Verb verb, const Request& req, const Responder& res) {
  const std::string verb_name = to_string(verb);
  const std::string name = req.param("name") != nullptr ? *req.param("name") : "";
  if (!allowed(ctx, req, res, auth::Role::Operator, verb_name, name)) return;
  const auto wait = wait_of(req, verb);
  if (!wait) {
    res.send(http::json_failure(StatusCode::bad_request, wait.error().code, wait.error().message));
    return;
  }
  if (auto s = core::validate_app_name(name); !s) {
    audit(ctx, req, verb_name, name, s.error().code);
    res.send(http::error_response(s.error()));
    return;
  }
  auto admitted = ctx.admission.admit(name, verb_name, caller_of(req));  // audits a refusal
  if (!admitted) {
    res.send(std::move(admitted.error().response));
    return;
  }
  on_worker(ctx, res, [&ctx, req, name, verb, verb_name, held = *admitted, wait = *wait] {
    auto s = ctx.apps.run(name, verb);
    if (s && wait.count() > 0) s = watch_after_start(ctx, name, wait);
    held->release();
    if (ctx.monitor != nullptr) ctx.monitor->trigger(name);
    ctx.metrics.count_operation(name, verb_name, s ? "ok" : s.error().code);
    audit(ctx, req, verb_name, name, s ? "ok" : s.error().code, s ? "" : s.error().message);
    auto v = ctx.apps.get(name);
    if (v) feed_live(ctx, *v);
    if (!s) return http::error_response(s.error());
    json data = {{"app", name}, {"action", verb_name}};
    if (v) data["state"] = summary_json(ctx, *v);
    return http::json_success(data);
  });
}

}  // namespace

Status install_lifecycle_routes(ApiContext& ctx) {
  for (auto verb : {Verb::Start, Verb::Stop, Verb::Restart, Verb::Enable, Verb::Disable}) {
    auto s = ctx.server.route(Method::post, fmt::format("/api/apps/:name/{}", to_string(verb)),
                              [&ctx, verb](Request req, Responder res) { lifecycle(ctx, verb, req, res); });
    if (!s) return s;
  }
  return ok();
}

}  // namespace siax::api
