#include "api/live_reads.h"

#include "appdef/redact.h"
#include "common/prometheus.h"

#include <fmt/format.h>

namespace siax::api {

using nlohmann::json;
using http::Response;
using http::StatusCode;

namespace {

bool usable(const ApiContext& ctx) { return ctx.live != nullptr && ctx.live->store().ready(); }

/// The success envelope around an already serialized JSON value.
std::string envelope(const std::string& data) {
  std::string out;
  out.reserve(data.size() + 40);
  out += "{\"success\":true,\"data\":";
  out += data;
  out += ",\"error\":null}";
  return out;
}

/// Whether an If-None-Match header names `etag` (a list, or "*").
bool matches(std::string_view header, std::string_view etag) {
  std::size_t pos = 0;
  while (pos < header.size()) {
    auto comma = header.find(',', pos);
    auto item = header.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.rfind("W/", 0) == 0) item.remove_prefix(2);
    if (item == etag || item == "*") return true;
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return false;
}

}  // namespace

bool live_list(ApiContext& ctx, const http::Request& req, const http::Responder& res) {
  if (!usable(ctx)) return false;
  const auto list = ctx.live->store().apps();
  const std::string etag = fmt::format("\"apps-{}\"", list.version);
  Response r;
  r.headers.set("ETag", etag);
  r.headers.set("Cache-Control", "no-cache");
  if (auto inm = req.header("If-None-Match"); inm && matches(*inm, etag)) {
    r.status = StatusCode::not_modified;
    res.send(std::move(r));
    return true;
  }
  r.body = envelope(*list.json);
  res.send(std::move(r));
  return true;
}

bool live_detail(ApiContext& ctx, const http::Request& req, const http::Responder& res, const std::string& name,
                 bool admin) {
  if (!usable(ctx)) return false;
  if (const auto* fresh = req.query_param("fresh"); fresh != nullptr && *fresh != "0") return false;
  auto held = ctx.live->store().app_with_extra(name);  // both from the same put
  if (!held || !held->second.is_object()) return false;
  auto app = std::optional<json>(std::move(held->first));
  const auto extra = std::optional<json>(std::move(held->second));
  for (auto& [k, v] : extra->items()) (*app)[k] = v;
  if (!admin && app->contains("definition")) (*app)["definition"] = appdef::redact_definition(std::move((*app)["definition"]));
  res.send(http::json_success(*app));
  return true;
}

bool live_status(ApiContext& ctx, const http::Request&, const http::Responder& res, const std::string& name) {
  if (!usable(ctx)) return false;
  auto held = ctx.live->store().app_with_extra(name);  // both from the same put
  if (!held || !held->second.is_object()) return false;
  const auto app = std::optional<json>(std::move(held->first));
  const auto extra = std::optional<json>(std::move(held->second));
  const json raw = extra->value("systemd", json(nullptr));
  if (!raw.is_object()) return false;  // systemd unreachable: the caller answers 503 as before
  // systemd's raw fields under their own names, then the reconciled view over them.
  json data = raw;
  data["systemd_phase"] = raw.value("status", json(nullptr));
  data["systemd_pid"] = raw.value("pid", json(nullptr));
  data["systemd_memory_usage"] = raw.value("memory_usage", json(nullptr));
  for (const char* key : {"name", "status", "reason", "pid", "pids", "stray_pids", "cpu_usage", "memory_usage",
                          "memory_source", "uptime_seconds", "last_exit", "health", "ports", "restart_count",
                          "last_updated", "monitored_at", "failure"}) {
    if (app->contains(key)) data[key] = (*app)[key];
  }
  data["version"] = ctx.live->store().version();
  res.send(http::json_success(data));
  return true;
}

std::string live_metrics(const ApiContext& ctx) {
  if (ctx.live == nullptr) return "";
  const auto s = ctx.live->store().stats();
  PromText out;
  out.family("siax_state_version", "counter", "The live state's version (grows on every change).").sample(s.version);
  out.family("siax_state_changes_total", "counter", "Changes recorded in the live state.").sample(s.changes);
  out.family("siax_state_coalesced_total", "counter", "Usage-only updates held back by apps.usage_interval_ms.")
      .sample(s.coalesced);
  out.family("siax_state_subscriber_overflows_total", "counter",
             "Slow stream clients sent a snapshot instead of a longer queue.")
      .sample(s.subscriber_overflows);
  out.family("siax_state_stale_reads_total", "counter",
             "App reads dropped by the live state: older than what it held (a re-read begun before an operation).")
      .sample(s.stale);
  if (ctx.stream != nullptr) {
    const auto st = ctx.stream->stats();
    out.family("siax_streams", "gauge", "Open live state streams.").sample(st.open);
    out.family("siax_streams_refused_total", "counter", "Streams refused over limits.max_streams.").sample(st.refused);
    out.family("siax_stream_snapshots_total", "counter", "Snapshots sent on streams.").sample(st.snapshots);
  }
  return out.take();
}

}  // namespace siax::api
