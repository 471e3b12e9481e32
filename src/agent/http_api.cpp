#include "agent/http_api.h"
#include "agent/preview_route.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "agent/dispatch.h"
#include "agent/webhook_route.h"
#include "agent/live_routes.h"
#include "appdef/app_json.h"
#include "appdef/redact.h"
#include "monitor/state_json.h"
#include "procscan/process_filter.h"
#include "procscan/process_json.h"
#include "monitor/reconcile.h"
#include "auth/passwords.h"
#include "auth/tokens.h"
#include "core/unit_renderer.h"
#include "core/validation.h"
#include "panel/panel.h"

namespace siax::agent {
namespace {

using nlohmann::json;
using http::Method;
using http::Request;
using http::Responder;
using http::Response;
using http::StatusCode;

bool is_mutation(Method m) { return m == Method::post || m == Method::put || m == Method::delete_ || m == Method::patch; }

const Identity* identity_of(const Request& req) { return std::any_cast<Identity>(&req.auth); }

auth::Role to_auth_role(registry::Role role) {
  auto r = auth::role_from_string(registry::to_string(role));
  return r ? *r : auth::Role::Viewer;
}

/// Appends to the audit log off the io thread. When the pool is full: inline on a worker
/// (never lost), dropped and counted on the io thread (SQLite never runs there).
void audit(ApiContext& ctx, const Request& req, std::string action, std::string target, std::string result,
           std::string detail = {}) {
  registry::AuditEntry e;
  e.at_usec = ctx.now_usec();
  if (const auto* id = identity_of(req)) {
    e.actor = id->actor;
    e.role = std::string(auth::to_string(id->role));
  } else {
    e.actor = "anonymous";
  }
  e.action = std::move(action);
  e.target = std::move(target);
  e.source = req.remote_address;
  e.result = std::move(result);
  e.detail = std::move(detail);
  append_audit(ctx, std::move(e));
}

Response forbidden(auth::Role need) {
  return http::json_failure(StatusCode::forbidden, "forbidden_role",
                            fmt::format("this needs the {} role; ask an admin for a token with it",
                                        auth::to_string(need)));
}

/// Sends 403 (and audits a refused mutation) unless the caller has `need`.
bool allowed(ApiContext& ctx, const Request& req, Responder& res, auth::Role need, const std::string& action,
             const std::string& target) {
  const auto* id = identity_of(req);
  if (id != nullptr && auth::allows(id->role, need)) return true;
  if (is_mutation(req.method)) audit(ctx, req, action, target, "forbidden_role");
  res.send(forbidden(need));
  return false;
}

json iso_or_null(std::int64_t usec) { return usec == 0 ? json(nullptr) : json(usec); }

/// The app as the list and the seed's consumers see it (agent/live_state.h).
json summary_json(const ApiContext& ctx, const AppView& v) {
  std::optional<monitor::AppState> seen;
  if (ctx.monitor != nullptr) seen = ctx.monitor->state(v.record.definition.name);
  return app_summary_json(v.record, v.status, v.status_error, seen);
}

/// Puts an app's fresh view into the live state (after a registry mutation or an
/// operation), so that a read right after the answer sees it.
void feed_live(const ApiContext& ctx, const AppView& v) {
  if (ctx.live == nullptr) return;
  std::optional<monitor::AppState> seen;
  if (ctx.monitor != nullptr) seen = ctx.monitor->state(v.record.definition.name);
  ctx.live->app_view(v, seen);
}

json detail_json(const ApiContext& ctx, const AppView& v) {
  json j = summary_json(ctx, v);
  j["definition"] = appdef::definition_to_json(v.record.definition);
  j["unit"] = core::unit_name_for(v.record.definition.name);
  j["created_at"] = iso_or_null(v.record.created_at_usec);
  if (v.status) j["systemd"] = appdef::status_to_json(*v.status);
  return j;
}

/// How deeply arrays and objects nest in a JSON text (strings skipped); a linear scan,
/// no recursion, stops counting past `limit`.
std::size_t json_depth(std::string_view text, std::size_t limit) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

/// Definitions nest 3 levels at most; anything deeper is refused before parsing, so no
/// recursive code (a dump in an error message, a destructor) ever sees it on the io thread.
constexpr std::size_t kMaxJsonDepth = 16;

Result<json> parse_body(const Request& req) {
  if (json_depth(req.body, kMaxJsonDepth) > kMaxJsonDepth) {
    return fail(ErrorKind::InvalidInput, "json_too_deep",
                fmt::format("the body nests arrays or objects more than {} levels deep", kMaxJsonDepth));
  }
  auto j = json::parse(req.body, nullptr, false);
  if (j.is_discarded()) {
    return fail(ErrorKind::InvalidInput, "invalid_json",
                "the body is not valid JSON: send a JSON object with Content-Type: application/json");
  }
  return j;
}

/// Takes a boolean flag out of the body (it is not part of the definition).
Result<bool> take_flag(json& body, const char* key) {
  if (!body.is_object() || !body.contains(key)) return false;
  auto v = body[key];
  body.erase(key);
  if (!v.is_boolean()) return fail(ErrorKind::InvalidInput, "invalid_field", fmt::format("'{}' must be true or false", key));
  return v.get<bool>();
}

std::optional<std::int64_t> query_int(const Request& req, const char* key) {
  const auto* v = req.query_param(key);
  if (v == nullptr) return std::nullopt;
  try {
    std::size_t used = 0;
    auto x = std::stoll(*v, &used);
    if (used != v->size()) return std::nullopt;
    return x;
  } catch (...) {
    return std::nullopt;
  }
}

/// `?wait=SECONDS` after a start or restart: watches the app that long (polling systemd
/// every 25 ms on the worker) and reports an exit in that window as a failed start, as
/// the agent did by default before it answered at the end of systemd's job.
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

void lifecycle(ApiContext& ctx, Verb verb, Request req, Responder res) {
  const std::string verb_name = to_string(verb);
  const std::string name = req.param("name") != nullptr ? *req.param("name") : "";
  if (!allowed(ctx, req, res, auth::Role::Operator, verb_name, name)) return;
  std::chrono::milliseconds wait{0};
  if (req.query_param("wait") != nullptr) {
    const auto w = query_int(req, "wait");
    if (!w || *w < 0 || *w > 60 || (verb != Verb::Start && verb != Verb::Restart)) {
      res.send(http::json_failure(StatusCode::bad_request, "invalid_wait",
                                  "'wait' is a whole number of seconds from 0 to 60, for start and restart only "
                                  "(e.g. ?wait=1)"));
      return;
    }
    wait = std::chrono::seconds(*w);
  }
  if (auto s = core::validate_app_name(name); !s) {
    audit(ctx, req, verb_name, name, s.error().code);
    res.send(http::error_response(s.error()));
    return;
  }
  auto admitted = admit_operation(ctx, name, verb_name);
  if (!admitted) {
    audit(ctx, req, verb_name, name, admitted.error().result);
    res.send(std::move(admitted.error().response));
    return;
  }
  on_worker(ctx, res, [&ctx, req, name, verb, verb_name, held = *admitted, wait] {
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

void register_app(ApiContext& ctx, Request req, Responder res) {
  if (!allowed(ctx, req, res, auth::Role::Admin, "register", "")) return;
  auto body = parse_body(req);
  if (!body) {
    audit(ctx, req, "register", "", body.error().code);
    res.send(http::error_response(body.error()));
    return;
  }
  RegisterOptions opts;
  auto enable = take_flag(*body, "enable");
  auto start = take_flag(*body, "start");
  auto adopt = take_flag(*body, "adopt");
  for (const auto* flag : {&enable, &start, &adopt}) {
    if (!*flag) {
      audit(ctx, req, "register", "", flag->error().code);
      res.send(http::error_response(flag->error()));
      return;
    }
  }
  opts.enable = *enable;
  opts.start = *start;
  opts.adopt = *adopt;
  auto def = appdef::definition_from_json(*body);
  if (def) {
    if (auto s = core::validate_definition(*def); !s) def = tl::unexpected(s.error());
  }
  if (!def) {
    std::string target = body->is_object() && body->contains("app_name") && (*body)["app_name"].is_string()
                             ? (*body)["app_name"].get<std::string>()
                             : "";
    audit(ctx, req, "register", core::validate_app_name(target) ? target : "", def.error().code);
    res.send(http::error_response(def.error()));
    return;
  }
  auto lease = ctx.ops.try_begin(def->name, "register");
  if (!lease) {
    res.send(http::json_failure(StatusCode::conflict, "operation_in_progress",
                                fmt::format("app '{}' is busy: {}", def->name, ctx.ops.running(def->name).value_or(""))));
    return;
  }
  auto held = std::make_shared<orchestrator::Lease>(std::move(*lease));
  on_worker(ctx, res, [&ctx, req, def = *def, opts, held] {
    auto out = ctx.apps.register_app(def, opts);
    held->release();
    ctx.metrics.count_operation(def.name, "register", out ? "ok" : out.error().code);
    audit(ctx, req, "register", def.name, out ? "ok" : out.error().code, out ? "" : out.error().message);
    if (!out) return http::error_response(out.error());
    feed_live(ctx, out->app);
    if (ctx.monitor != nullptr) ctx.monitor->trigger(def.name);
    json data = detail_json(ctx, out->app);
    data["unit_path"] = out->unit_path;
    if (out->start_error) {
      data["start_error"] = {{"code", out->start_error->code}, {"message", out->start_error->message}};
    }
    return http::json_success(data, StatusCode::created);
  });
}

void update_app(ApiContext& ctx, Request req, Responder res) {
  const std::string name = *req.param("name");
  if (!allowed(ctx, req, res, auth::Role::Admin, "update", name)) return;
  auto body = parse_body(req);
  if (body && body->is_object()) {
    if (!body->contains("app_name") && !body->contains("name")) (*body)["app_name"] = name;
  }
  auto def = body ? appdef::definition_from_json(*body) : tl::unexpected(body.error());
  if (def && def->name != name) {
    def = fail(ErrorKind::InvalidInput, "name_mismatch",
               fmt::format("the body names app '{}' but the URL names '{}': an app cannot be renamed", def->name, name));
  }
  if (def) {
    if (auto s = core::validate_definition(*def); !s) def = tl::unexpected(s.error());
  }
  if (!def) {
    audit(ctx, req, "update", core::validate_app_name(name) ? name : "", def.error().code);
    res.send(http::error_response(def.error()));
    return;
  }
  auto lease = ctx.ops.try_begin(name, "update");
  if (!lease) {
    res.send(http::json_failure(StatusCode::conflict, "operation_in_progress",
                                fmt::format("app '{}' is busy: {}", name, ctx.ops.running(name).value_or(""))));
    return;
  }
  auto held = std::make_shared<orchestrator::Lease>(std::move(*lease));
  on_worker(ctx, res, [&ctx, req, def = *def, held] {
    auto out = ctx.apps.update_app(def);
    held->release();
    ctx.metrics.count_operation(def.name, "update", out ? "ok" : out.error().code);
    audit(ctx, req, "update", def.name, out ? "ok" : out.error().code, out ? "" : out.error().message);
    if (!out) return http::error_response(out.error());
    feed_live(ctx, *out);
    if (ctx.monitor != nullptr) ctx.monitor->trigger(def.name);
    return http::json_success(detail_json(ctx, *out));
  });
}

void delete_app(ApiContext& ctx, Request req, Responder res) {
  const std::string name = *req.param("name");
  if (!allowed(ctx, req, res, auth::Role::Admin, "delete", name)) return;
  if (auto s = core::validate_app_name(name); !s) {
    audit(ctx, req, "delete", "", s.error().code);
    res.send(http::error_response(s.error()));
    return;
  }
  auto lease = ctx.ops.try_begin(name, "delete");
  if (!lease) {
    res.send(http::json_failure(StatusCode::conflict, "operation_in_progress",
                                fmt::format("app '{}' is busy: {}", name, ctx.ops.running(name).value_or(""))));
    return;
  }
  auto held = std::make_shared<orchestrator::Lease>(std::move(*lease));
  on_worker(ctx, res, [&ctx, req, name, held] {
    if (ctx.monitor != nullptr) ctx.monitor->hold(name);  // no drift event while its unit goes
    auto s = ctx.apps.unregister(name);
    if (ctx.monitor != nullptr && !s) ctx.monitor->release(name);
    held->release();
    ctx.metrics.count_operation(name, "delete", s ? "ok" : s.error().code);
    audit(ctx, req, "delete", name, s ? "ok" : s.error().code, s ? "" : s.error().message);
    if (!s) return http::error_response(s.error());
    if (ctx.live != nullptr) ctx.live->app_removed(name);
    return http::json_success({{"app", name}, {"deleted", true}});
  });
}

/// A hash of nothing anyone knows: an unknown user name costs the same PBKDF2 work as a
/// known one (no timing oracle for which users exist).
const std::string& decoy_password_hash() {
  static const std::string hash = [] {
    auto h = auth::hash_password("decoy: no user has this password");
    return h ? *h : std::string();
  }();
  return hash;
}

bool is_json_content_type(std::optional<std::string_view> value) {
  if (!value) return false;
  std::string v(value->substr(0, value->find(';')));
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  while (!v.empty() && v.back() == ' ') v.pop_back();
  return v == "application/json";
}

void login(ApiContext& ctx, Request req, Responder res) {
  // A form post from another site cannot send application/json without a CORS preflight.
  if (!is_json_content_type(req.header("Content-Type"))) {
    res.send(http::json_failure(StatusCode::unsupported_media_type, "json_required",
                                "send the login as JSON with 'Content-Type: application/json'"));
    return;
  }
  const std::string key = auth::limiter_key(req.remote_address);  // IPv6: the /64
  auto check = ctx.logins.check(key);
  if (!check) {
    ctx.metrics.count_unauthenticated();  // not audited: a flood would flush the audit log
    res.send(http::json_failure(StatusCode::too_many_requests, "too_many_logins",
                                "too many failed logins from this address; wait and try again",
                                std::chrono::seconds(check.retry_after_seconds())));
    return;
  }
  auto body = parse_body(req);
  if (!body || !body->is_object() || !(*body)["username"].is_string() || !(*body)["password"].is_string()) {
    res.send(http::json_failure(StatusCode::bad_request, "invalid_login",
                                "send {\"username\": \"...\", \"password\": \"...\"}"));
    return;
  }
  std::string username = (*body)["username"];
  std::string password = (*body)["password"];
  // Counted as a failure before the answer (and before the work): parallel guesses cannot
  // outrun the limiter. A success clears it.
  (void)ctx.logins.record_failure(key);
  // PBKDF2 costs tens of milliseconds of CPU: never on the io thread.
  on_worker(ctx, res, [&ctx, req, username, password, key]() mutable {
    auto user = ctx.registry.get_user(username);
    const bool known = user && *user;
    const bool verified = auth::verify_password(password, known ? (*user)->password_hash : decoy_password_hash());
    bool good = known && verified;
    if (!good) {
      audit(ctx, req, "login", "", "invalid_credentials", username.size() <= 64 ? username : username.substr(0, 64));
      return http::json_failure(StatusCode::unauthorized, "invalid_credentials", "wrong user name or password");
    }
    ctx.logins.record_success(key);
    auto session = ctx.sessions.create(username, to_auth_role((*user)->role), registry::credential_stamp(**user));
    if (!session) return http::error_response(session.error());
    req.auth = Identity{"user:" + username, session->role, true};
    audit(ctx, req, "login", "", "ok");
    auto r = http::json_success({{"username", username},
                                 {"role", auth::to_string(session->role)},
                                 {"csrf_token", session->csrf_token}});
    r.headers.add("Set-Cookie", auth::session_cookie(session->id, ctx.sessions.options().absolute_lifetime, ctx.tls));
    return r;
  });
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

namespace {

std::string label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

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

}  // namespace

std::string Metrics::render(const http::ServerStats& stats, std::size_t workers_pending,
                            std::uint64_t workers_rejected) const {
  std::string out;
  out += "# HELP siax_operations_total Lifecycle operations by app, verb and result.\n";
  out += "# TYPE siax_operations_total counter\n";
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, n] : operations_) {
      const auto& [app, verb, result] = key;
      out += fmt::format("siax_operations_total{{app=\"{}\",verb=\"{}\",result=\"{}\"}} {}\n", label(app),
                         label(verb), label(result), n);
    }
    out += "# HELP siax_rate_limited_total Operations refused by the per-app rate limit.\n";
    out += "# TYPE siax_rate_limited_total counter\n";
    for (const auto& [app, n] : rate_limited_) {
      out += fmt::format("siax_rate_limited_total{{app=\"{}\"}} {}\n", label(app), n);
    }
  }
  out += "# HELP siax_http_unauthenticated_total Requests refused for missing or bad credentials (not audited).\n";
  out += "# TYPE siax_http_unauthenticated_total counter\n";
  out += fmt::format("siax_http_unauthenticated_total {}\n", unauthenticated_.load());
  out += "# HELP siax_audit_dropped_total Audit entries dropped because the workers were full.\n";
  out += "# TYPE siax_audit_dropped_total counter\n";
  out += fmt::format("siax_audit_dropped_total {}\n", audit_dropped_.load());
  out += "# HELP siax_http_requests_total HTTP responses by route and status.\n";
  out += "# TYPE siax_http_requests_total counter\n";
  for (const auto& r : stats.requests) {
    out += fmt::format("siax_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", label(r.route), r.status,
                       r.count);
  }
  out += "# HELP siax_http_connections Open HTTP connections.\n# TYPE siax_http_connections gauge\n";
  out += fmt::format("siax_http_connections {}\n", stats.active_connections);
  out += "# HELP siax_http_rejected_connections_total Connections refused over the limit.\n";
  out += "# TYPE siax_http_rejected_connections_total counter\n";
  out += fmt::format("siax_http_rejected_connections_total {}\n", stats.rejected_connections);
  out += "# HELP siax_workers_pending Blocking operations queued or running.\n# TYPE siax_workers_pending gauge\n";
  out += fmt::format("siax_workers_pending {}\n", workers_pending);
  out += "# HELP siax_workers_rejected_total Operations refused because the workers were full.\n";
  out += "# TYPE siax_workers_rejected_total counter\n";
  out += fmt::format("siax_workers_rejected_total {}\n", workers_rejected);
  out += "# HELP siax_resident_memory_bytes The agent's resident memory.\n# TYPE siax_resident_memory_bytes gauge\n";
  out += fmt::format("siax_resident_memory_bytes {}\n", resident_bytes());
  out += "# HELP siax_open_fds The agent's open file descriptors.\n# TYPE siax_open_fds gauge\n";
  out += fmt::format("siax_open_fds {}\n", open_fds());
  return out;
}

Status install_api(ApiContext& ctx) {
  auto& s = ctx.server;
  ctx.io_thread = std::this_thread::get_id();
  // Authentication: a bearer token (programs) or the panel's session cookie, with a CSRF
  // header on mutations. /api/health and /api/login are open.
  if (auto used = s.use([&ctx](Request& req) -> std::optional<Response> {
        if (req.route == "/api/health" || req.route == "/api/login") return std::nullopt;
        if (req.route == kWebhookRoute) return std::nullopt;  // signed instead (webhook_route.h)
        if (panel::is_public(req)) return std::nullopt;  // the panel's pages and files: no data
        auto unauthorized = [&](std::string code, std::string message) {
          // Not audited: strangers must not be able to flush the audit log (issue 10, item 5).
          ctx.metrics.count_unauthenticated();
          auto refusal = http::json_failure(StatusCode::unauthorized, code, message);
          refusal.headers.add("WWW-Authenticate", "Bearer realm=\"siax-agent\"");
          return refusal;
        };
        if (auto header = req.header("Authorization")) {
          auto token = auth::bearer_from_header(*header);
          if (!token) return unauthorized("invalid_authorization", "use 'Authorization: Bearer <token>'");
          auto hash = auth::hash_token(*token);
          if (!hash) return unauthorized("invalid_token", "the token is not valid");
          auto rec = ctx.registry.find_token_by_hash(*hash);
          if (!rec) return http::error_response(rec.error());
          if (!*rec || (*rec)->revoked_at_usec) {
            return unauthorized("invalid_token", "the token is unknown or revoked: create one with "
                                                 "'siax-agent token create'");
          }
          req.auth = Identity{"token:" + (*rec)->name, to_auth_role((*rec)->role), false};
          // When it was last used (for 'siax-agent token list'): at most once a minute per
          // token, written on a worker (skipped when the pool is full; it is only a hint).
          const std::int64_t now = ctx.now_usec();
          if (!(*rec)->last_used_at_usec || now - *(*rec)->last_used_at_usec > 60'000'000) {
            (void)ctx.workers.try_post([&ctx, id = (*rec)->id, now] { (void)ctx.registry.touch_token(id, now); });
          }
          return std::nullopt;
        }
        if (auto cookie = req.header("Cookie")) {
          auto sid = auth::session_id_from_cookie_header(*cookie, ctx.tls);
          auto session = sid ? ctx.sessions.find(*sid) : std::nullopt;
          if (!session) return unauthorized("session_expired", "log in again");
          req.auth = Identity{"user:" + session->username, session->role, true};
          // Logout too: a cross-site request must not be able to log the admin out.
          if (is_mutation(req.method) && !auth::check_csrf(*session, req.header(auth::kCsrfHeaderName).value_or(""))) {
            audit(ctx, req, req.method_text + " " + req.route, "", "csrf_failed");
            return http::json_failure(StatusCode::forbidden, "csrf_failed",
                                      "missing or wrong X-CSRF-Token header: reload the panel");
          }
          return std::nullopt;
        }
        return unauthorized("authentication_required",
                            "send 'Authorization: Bearer <token>' (create one with 'siax-agent token create') or log "
                            "in to the panel");
      });
      !used) {
    return used;
  }

  std::vector<Status> results;
  results.push_back(s.route(Method::get, "/api/health", [&ctx](Request, Responder res) {
    res.send(http::json_success({{"status", "ok"}, {"version", ctx.version}}));
  }));
  results.push_back(s.route(Method::get, "/api/system", [&ctx](Request req, Responder res) {
    if (!allowed(ctx, req, res, auth::Role::Viewer, "system", "")) return;
    on_worker(ctx, res, [&ctx] {
      auto p = ctx.permissions();
      json data = {{"version", ctx.version},
                   {"hostname", ctx.hostname},
                   {"systemd_reachable", p.systemd_reachable},
                   {"permissions",
                    {{"read_status", p.read_status},
                     {"manage_units", p.manage_units},
                     {"write_unit_files", p.write_unit_files},
                     {"read_journal", p.read_journal}}},
                   {"unit_directory", p.unit_directory},
                   {"missing", p.missing},
                   {"degraded", !p.missing.empty()}};
      if (ctx.monitor != nullptr) {
        const auto m = ctx.monitor->stats();
        data["monitor"] = {{"cycles", m.cycles},
                           {"triggered_cycles", m.triggered_cycles},
                           {"events", m.events},
                           {"processes", m.processes},
                           {"last_cycle_usec", m.last_cycle_usec},
                           {"last_cycle_duration_us", m.last_cycle_duration_us},
                           {"health_probes", m.probes},
                           {"health_probe_failures", m.probe_failures},
                           {"unit_reads", m.unit_reads},
                           {"unit_reads_saved", m.unit_reads_saved},
                           {"last_error", m.last_error}};
      }
      if (ctx.system_extra) {
        const json extra = ctx.system_extra();  // kept alive: items() only refers to it
        for (const auto& [k, v] : extra.items()) data[k] = v;
      }
      return http::json_success(data);
    });
  }));
  results.push_back(s.route(Method::get, "/api/apps", [&ctx](Request req, Responder res) {
    if (!allowed(ctx, req, res, auth::Role::Viewer, "list", "")) return;
    if (live_list(ctx, req, res)) return;  // from the live state (issue 12)
    on_worker(ctx, res, [&ctx] {
      // One ListUnitsByPatterns call, plus a status read only for the apps whose state
      // moved since the monitor's last cycle (docs/PERFORMANCE.md, "HTTP API").
      auto apps = ctx.monitor != nullptr
                      ? ctx.apps.list([m = ctx.monitor](const std::string& app) { return m->unit_status(app); })
                      : ctx.apps.list();
      if (!apps) return http::error_response(apps.error());
      json list = json::array();
      for (const auto& v : *apps) list.push_back(summary_json(ctx, v));
      return http::json_success(list);
    });
  }));
  results.push_back(s.route(Method::get, "/api/apps/:name", [&ctx](Request req, Responder res) {
    if (!allowed(ctx, req, res, auth::Role::Viewer, "get", "")) return;
    // Environment values may be secrets: only admins see them (issue 10, item 6).
    const auto* caller = identity_of(req);
    const bool admin = caller != nullptr && caller->role == auth::Role::Admin;
    // From the live state unless ?fresh=1.
    if (live_detail(ctx, req, res, *req.param("name"), admin)) return;
    on_worker(ctx, res, [&ctx, name = *req.param("name"), admin] {
      auto v = ctx.apps.get(name);
      if (!v) return http::error_response(v.error());
      json data = detail_json(ctx, *v);
      if (auto files = ctx.apps.unit_files(name)) {
        data["unit_file"] = {{"content", files->first ? json(*files->first) : json(nullptr)},
                             {"rendered", files->second},
                             {"state", files->first ? core::to_string(core::classify_unit_file(*files->first,
                                                                                                files->second))
                                                    : "missing"}};
        if (!admin) {
          if (files->first) data["unit_file"]["content"] = appdef::redact_unit_text(*files->first);
          data["unit_file"]["rendered"] = appdef::redact_unit_text(files->second);
        }
      }
      if (!admin) data["definition"] = appdef::redact_definition(std::move(data["definition"]));
      return http::json_success(data);
    });
  }));
  results.push_back(s.route(Method::get, "/api/apps/:name/status", [&ctx](Request req, Responder res) {
    if (!allowed(ctx, req, res, auth::Role::Viewer, "status", "")) return;
    if (live_status(ctx, req, res, *req.param("name"))) return;  // the reconciled status, from memory
    on_worker(ctx, res, [&ctx, name = *req.param("name")] {
      auto v = ctx.apps.get(name);
      if (!v) return http::error_response(v.error());
      if (!v->status) {
        return http::json_failure(StatusCode::service_unavailable, "systemd_unavailable", v->status_error);
      }
      // Before the live state is ready: systemd's view, reconciled status when the monitor has one.
      json data = appdef::status_to_json(*v->status);
      const json summary = summary_json(ctx, *v);
      data["systemd_phase"] = data["status"];
      for (const char* key : {"status", "reason", "cpu_usage", "memory_usage", "uptime_seconds", "last_exit", "health"}) {
        if (summary.contains(key)) data[key] = summary[key];
      }
      data["name"] = name;
      data["last_updated"] = iso_or_null(v->record.updated_at_usec);
      return http::json_success(data);
    });
  }));
  results.push_back(install_preview_route(ctx));
  results.push_back(s.route(Method::get, "/api/stream", [&ctx](Request req, Responder res) {
    if (!allowed(ctx, req, res, auth::Role::Viewer, "stream", "")) return;
    live_stream(ctx, req, res);
  }));
  results.push_back(s.route(Method::post, "/api/apps/register",
                            [&ctx](Request req, Responder res) { register_app(ctx, std::move(req), std::move(res)); }));
  results.push_back(s.route(Method::put, "/api/apps/:name",
                            [&ctx](Request req, Responder res) { update_app(ctx, std::move(req), std::move(res)); }));
  results.push_back(s.route(Method::delete_, "/api/apps/:name",
                            [&ctx](Request req, Responder res) { delete_app(ctx, std::move(req), std::move(res)); }));
  for (auto verb : {Verb::Start, Verb::Stop, Verb::Restart, Verb::Enable, Verb::Disable}) {
    results.push_back(s.route(Method::post, fmt::format("/api/apps/:name/{}", to_string(verb)),
                              [&ctx, verb](Request req, Responder res) {
                                lifecycle(ctx, verb, std::move(req), std::move(res));
                              }));
  }
  results.push_back(install_webhook(ctx));  // POST /webhook/command (webhook_route.h)
  results.push_back(s.route(Method::post, "/api/recover", [&ctx](Request req, Responder res) {
    if (!allowed(ctx, req, res, auth::Role::Admin, "recover", "")) return;
    on_worker(ctx, res, [&ctx, req] {
      auto findings = ctx.apps.recover();
      json list = json::array();
      for (const auto& f : findings) list.push_back({{"app", f.app}, {"kind", f.kind}, {"detail", f.detail}});
      audit(ctx, req, "recover", "", "ok", fmt::format("{} findings", findings.size()));
      return http::json_success(list);
    });
  }));
  results.push_back(s.route(Method::get, "/api/audit", [&ctx](Request req, Responder res) {
    if (!allowed(ctx, req, res, auth::Role::Operator, "audit", "")) return;
    registry::AuditQuery q;
    if (const auto* v = req.query_param("target")) q.target = *v;
    if (const auto* v = req.query_param("actor")) q.actor = *v;
    if (const auto* v = req.query_param("action")) q.action = *v;
    q.since_usec = query_int(req, "since_usec");
    q.until_usec = query_int(req, "until_usec");
    q.before_id = query_int(req, "before_id");
    if (auto limit = query_int(req, "limit")) q.limit = static_cast<std::size_t>(std::clamp<std::int64_t>(*limit, 0, 1000));
    on_worker(ctx, res, [&ctx, q] {
      auto entries = ctx.registry.query_audit(q);
      if (!entries) return http::error_response(entries.error());
      json list = json::array();
      for (const auto& e : *entries) {
        list.push_back({{"id", e.id}, {"at_usec", e.at_usec}, {"actor", e.actor}, {"role", e.role},
                        {"action", e.action}, {"target", e.target}, {"source", e.source}, {"result", e.result},
                        {"detail", e.detail}});
      }
      return http::json_success(list);
    });
  }));

  // --- The monitor: /scan, /select (monitored processes) and events ------------------
  results.push_back(s.route(Method::get, "/api/scan", [&ctx](Request req, Responder res) {
    if (!allowed(ctx, req, res, auth::Role::Viewer, "scan", "")) return;
    auto q = [&req](const char* key) { const auto* v = req.query_param(key); return v != nullptr ? *v : std::string(); };
    auto filter = procscan::parse_scan_filter(q("kind"), q("user"), q("q").empty() ? q("text") : q("q"));
    if (!filter) {
      res.send(http::error_response(filter.error()));
      return;
    }
    if (ctx.monitor == nullptr) {
      res.send(http::json_failure(StatusCode::service_unavailable, "monitor_off", "the monitor is not running"));
      return;
    }
    on_worker(ctx, res, [&ctx, f = *filter] {
      auto table = ctx.monitor->scan_processes();
      if (!table) return http::error_response(table.error());
      std::set<std::string> monitored;
      if (auto m = ctx.registry.list_monitored()) {
        for (const auto& p : *m) monitored.insert(p.key);
      }
      json list = json::array();
      for (const auto& p : procscan::filter_processes(*table, f)) {
        json j = procscan::to_json(p);
        const auto app = core::app_name_from_unit(p.unit);
        j["managed_app"] = app ? json(*app) : json(nullptr);
        const auto spec = monitor::monitor_spec_for(p);
        j["monitor_key"] = spec.key;
        j["monitored"] = monitored.contains(spec.key);
        list.push_back(std::move(j));
      }
      return http::json_success(list);
    });
  }));
  results.push_back(s.route(Method::get, "/api/monitored", [&ctx](Request req, Responder res) {
    if (!allowed(ctx, req, res, auth::Role::Viewer, "monitored", "")) return;
    on_worker(ctx, res, [&ctx] {
      auto specs = ctx.registry.list_monitored();
      if (!specs) return http::error_response(specs.error());
      std::map<std::string, monitor::MonitoredState> states;
      if (ctx.monitor != nullptr) {
        for (auto& st : ctx.monitor->monitored()) states.emplace(st.key, std::move(st));
      }
      json list = json::array();
      for (const auto& m : *specs) {
        json j = {{"key", m.key}, {"name", m.name}, {"user", m.user}, {"command", monitored_argv(m.command)},
                  {"added_at", m.added_at_usec}, {"status", "unknown"}};
        if (auto it = states.find(m.key); it != states.end()) {
          json st = monitor::to_json(it->second);
          for (auto& [k, v] : st.items()) {
            if (k != "key" && k != "name") j[k] = v;
          }
        }
        list.push_back(std::move(j));
      }
      return http::json_success(list);
    });
  }));
  results.push_back(s.route(Method::post, "/api/monitored", [&ctx](Request req, Responder res) {
    if (!allowed(ctx, req, res, auth::Role::Operator, "monitor_add", "")) return;
    auto body = parse_body(req);
    if (!body || !body->is_object() || !(*body)["pid"].is_number_integer()) {
      audit(ctx, req, "monitor_add", "", "invalid_body");
      res.send(http::json_failure(StatusCode::bad_request, "invalid_body",
                                  "send {\"pid\": <pid from GET /api/scan>, \"name\": \"optional display name\"}"));
      return;
    }
    for (auto& [k, v] : body->items()) {
      if (k != "pid" && k != "name") {
        audit(ctx, req, "monitor_add", "", "unknown_field");
        res.send(http::json_failure(StatusCode::bad_request, "unknown_field",
                                    fmt::format("unknown field '{}': only 'pid' and 'name' are accepted", k)));
        return;
      }
    }
    const int pid = (*body)["pid"].get<int>();
    std::string name = body->value("name", std::string());
    if (name.size() > 64 || name.find_first_of("\r\n\t") != std::string::npos) {
      audit(ctx, req, "monitor_add", "", "invalid_name");
      res.send(http::json_failure(StatusCode::bad_request, "invalid_name",
                                  "'name' must be at most 64 characters without control characters"));
      return;
    }
    if (ctx.monitor == nullptr) {
      res.send(http::json_failure(StatusCode::service_unavailable, "monitor_off", "the monitor is not running"));
      return;
    }
    on_worker(ctx, res, [&ctx, req, pid, name] {
      auto table = ctx.monitor->scan_processes();
      if (!table) return http::error_response(table.error());
      auto it = std::find_if(table->begin(), table->end(), [pid](const core::ProcessInfo& p) { return p.pid == pid; });
      if (it == table->end() || it->cmdline.empty()) {
        audit(ctx, req, "monitor_add", std::to_string(pid), "process_not_found");
        return http::json_failure(StatusCode::not_found, "process_not_found",
                                  fmt::format("no process with pid {} (or it is a kernel thread): list them with "
                                              "GET /api/scan",
                                              pid));
      }
      auto spec = monitor::monitor_spec_for(*it, name);
      registry::MonitoredProcess m{spec.key, name.empty() ? it->comm : name, monitored_command(spec.cmdline), spec.user,
                                   ctx.now_usec()};
      if (auto put = ctx.registry.put_monitored(m); !put) return http::error_response(put.error());
      audit(ctx, req, "monitor_add", m.key, "ok");
      ctx.monitor->trigger();
      return http::json_success({{"key", m.key}, {"name", m.name}, {"user", m.user}, {"command", spec.cmdline}},
                                StatusCode::created);
    });
  }));
  results.push_back(s.route(Method::delete_, "/api/monitored", [&ctx](Request req, Responder res) {
    if (!allowed(ctx, req, res, auth::Role::Operator, "monitor_remove", "")) return;
    const auto* key = req.query_param("key");
    if (key == nullptr || key->empty()) {
      res.send(http::json_failure(StatusCode::bad_request, "missing_key",
                                  "say which process to stop monitoring: DELETE /api/monitored?key=<key from GET "
                                  "/api/monitored>"));
      return;
    }
    on_worker(ctx, res, [&ctx, req, key = *key] {
      auto removed = ctx.registry.remove_monitored(key);
      if (!removed) return http::error_response(removed.error());
      audit(ctx, req, "monitor_remove", key, *removed ? "ok" : "not_found");
      if (!*removed) {
        return http::json_failure(StatusCode::not_found, "not_monitored",
                                  "no monitored process has this key: see GET /api/monitored");
      }
      if (ctx.monitor != nullptr) ctx.monitor->trigger();
      return http::json_success({{"key", key}, {"removed", true}});
    });
  }));
  results.push_back(s.route(Method::get, "/api/events", [&ctx](Request req, Responder res) {
    if (!allowed(ctx, req, res, auth::Role::Viewer, "events", "")) return;
    registry::EventQuery q;
    if (const auto* v = req.query_param("app")) q.app = *v;
    q.since_usec = query_int(req, "since_usec");
    q.before_id = query_int(req, "before_id");
    if (auto limit = query_int(req, "limit")) q.limit = static_cast<std::size_t>(std::clamp<std::int64_t>(*limit, 0, 1000));
    on_worker(ctx, res, [&ctx, q] {
      auto events = ctx.registry.query_events(q);
      if (!events) return http::error_response(events.error());
      json list = json::array();
      for (const auto& e : *events) {
        list.push_back({{"id", e.id}, {"at_usec", e.at_usec}, {"app", e.app}, {"kind", e.kind},
                        {"severity", e.severity}, {"message", e.message}});
      }
      return http::json_success(list);
    });
  }));
  results.push_back(s.route(Method::get, "/metrics", [&ctx](Request req, Responder res) {
    if (!allowed(ctx, req, res, auth::Role::Viewer, "metrics", "")) return;
    Response r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = ctx.metrics.render(ctx.server.stats(), ctx.workers.pending(), ctx.workers.rejected());
    if (ctx.monitor != nullptr) {
      const auto m = ctx.monitor->stats();
      r.body += fmt::format(
          "# HELP siax_monitor_cycles_total Monitor cycles (scan + reconcile) run.\n"
          "# TYPE siax_monitor_cycles_total counter\nsiax_monitor_cycles_total {}\n"
          "# HELP siax_monitor_events_total Events (discrepancies, recoveries) recorded.\n"
          "# TYPE siax_monitor_events_total counter\nsiax_monitor_events_total {}\n"
          "# HELP siax_monitor_health_probes_total HTTP health probes started.\n"
          "# TYPE siax_monitor_health_probes_total counter\nsiax_monitor_health_probes_total {}\n"
          "# HELP siax_monitor_health_probe_failures_total Health probes that failed.\n"
          "# TYPE siax_monitor_health_probe_failures_total counter\nsiax_monitor_health_probe_failures_total {}\n"
          "# HELP siax_monitor_last_cycle_seconds Duration of the last monitor cycle.\n"
          "# TYPE siax_monitor_last_cycle_seconds gauge\nsiax_monitor_last_cycle_seconds {:.6f}\n"
          "# HELP siax_monitor_processes Processes seen by the last scan.\n"
          "# TYPE siax_monitor_processes gauge\nsiax_monitor_processes {}\n"
          "# HELP siax_monitor_unit_reads_total Full unit statuses read from systemd by the monitor.\n"
          "# TYPE siax_monitor_unit_reads_total counter\nsiax_monitor_unit_reads_total {}\n"
          "# HELP siax_monitor_unit_reads_saved_total Unit statuses kept because systemd's states had not moved.\n"
          "# TYPE siax_monitor_unit_reads_saved_total counter\nsiax_monitor_unit_reads_saved_total {}\n",
          m.cycles, m.events, m.probes, m.probe_failures, static_cast<double>(m.last_cycle_duration_us) / 1e6,
          m.processes, m.unit_reads, m.unit_reads_saved);
      r.body += "# HELP siax_app_status The monitor's reconciled status of each app (1 for the current one).\n"
                "# TYPE siax_app_status gauge\n";
      for (const auto& st : ctx.monitor->states()) {
        r.body += fmt::format("siax_app_status{{app=\"{}\",status=\"{}\"}} 1\n", st.name, monitor::to_string(st.status));
      }
    }
    r.body += live_metrics(ctx);
    if (ctx.metrics_extra) r.body += ctx.metrics_extra();
    res.send(std::move(r));
  }));
  results.push_back(s.route(Method::post, "/api/login",
                            [&ctx](Request req, Responder res) { login(ctx, std::move(req), std::move(res)); }));
  results.push_back(s.route(Method::post, "/api/logout", [&ctx](Request req, Responder res) {
    if (auto cookie = req.header("Cookie")) {
      if (auto sid = auth::session_id_from_cookie_header(*cookie, ctx.tls)) ctx.sessions.remove(*sid);
    }
    audit(ctx, req, "logout", "", "ok");
    auto r = http::json_success({{"logged_out", true}});
    r.headers.add("Set-Cookie", auth::clear_session_cookie(ctx.tls));
    res.send(std::move(r));
  }));
  results.push_back(s.route(Method::get, "/api/session", [&ctx](Request req, Responder res) {
    const auto* id = identity_of(req);
    json data = {{"actor", id != nullptr ? id->actor : ""},
                 {"role", id != nullptr ? std::string(auth::to_string(id->role)) : ""}};
    if (id != nullptr && id->via_session) {
      if (auto cookie = req.header("Cookie")) {
        if (auto sid = auth::session_id_from_cookie_header(*cookie, ctx.tls)) {
          if (auto session = ctx.sessions.find(*sid)) data["csrf_token"] = session->csrf_token;
        }
      }
    }
    res.send(http::json_success(data));
  }));
  for (auto& r : results) {
    if (!r) return r;
  }
  return ok();
}

}  // namespace siax::agent
