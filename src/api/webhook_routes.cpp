#include "api/webhook_routes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "api/route_support.h"
#include "api/views.h"

namespace siax::api {
namespace {

namespace webhook = agent::webhook;

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

Result<std::string> read_secret_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int err = errno;
    return fail(err == ENOENT ? ErrorKind::NotFound : ErrorKind::PermissionDenied, "webhook_secret_unreadable",
                fmt::format("webhook.secret_file {}: cannot open it: {}", path, std::strerror(err)));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return fail(ErrorKind::InvalidInput, "webhook_secret_unsafe",
                fmt::format("webhook.secret_file {} is not a regular file", path));
  }
  if ((st.st_mode & 077) != 0 || (st.st_uid != ::geteuid() && st.st_uid != 0)) {
    return fail(ErrorKind::InvalidInput, "webhook_secret_unsafe",
                fmt::format("webhook.secret_file {} may be read or changed by others (owner uid {}, mode {:04o}): make "
                            "it the agent's own, readable only by it: chown root: {} && chmod 600 {}",
                            path, st.st_uid, st.st_mode & 07777, path, path));
  }
  std::string text;
  char buf[1024];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return fail(ErrorKind::PermissionDenied, "webhook_secret_unreadable",
                  fmt::format("webhook.secret_file {}: cannot read it: {}", path, std::strerror(errno)));
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > webhook::kMaxSecretBytes + 2) break;  // too long either way
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.size() < webhook::kMinSecretBytes || text.size() > webhook::kMaxSecretBytes || has_control(text)) {
    return fail(ErrorKind::InvalidInput, "webhook_secret_invalid",
                fmt::format("webhook.secret_file {} must hold one line of {} to {} characters without control "
                            "characters (make one with: openssl rand -hex 32 > {})",
                            path, webhook::kMinSecretBytes, webhook::kMaxSecretBytes, path));
  }
  return text;
}

/// Writes the webhook's audit entry (off the io thread, see AuditLog).
struct Auditor {
  ApiContext& ctx;
  std::string source;
  std::string actor = "webhook";
  std::string role;  ///< "operator" once the sender proved to hold the secret

  void operator()(std::string action, std::string target, std::string result, std::string detail) const {
    registry::AuditEntry e;
    e.at_usec = ctx.now_usec();
    e.actor = actor;
    e.role = role;
    e.action = std::move(action);
    e.target = std::move(target);
    e.source = source;
    e.result = std::move(result);
    e.detail = std::move(detail);
    ctx.audit_log.append(std::move(e));
  }
};

StatusCode status_for(webhook::Refusal refusal) {
  switch (refusal) {
    case webhook::Refusal::Unauthenticated: return StatusCode::unauthorized;
    case webhook::Refusal::InvalidBody: return StatusCode::bad_request;
    case webhook::Refusal::Busy: return StatusCode::service_unavailable;
  }
  return StatusCode::internal_server_error;
}

/// The answer to a request the verifier refused.
http::Response refusal_response(const webhook::Rejection& r) {
  auto refusal = http::json_failure(status_for(r.refusal), r.code, r.message,
                                    r.refusal == webhook::Refusal::Busy
                                        ? std::optional<std::chrono::seconds>(std::chrono::seconds(5))
                                        : std::nullopt);
  if (r.refusal == webhook::Refusal::Unauthenticated) {
    refusal.headers.add("WWW-Authenticate", "Siax-Signature realm=\"siax-agent webhook\"");
  }
  return refusal;
}

/// On a worker: runs an admitted command, releases its lease, audits the outcome.
http::Response run_command(ApiContext& ctx, const webhook::Command& cmd, agent::Verb verb, const std::string& how,
                           const Auditor& audit, const Lease& held) {
  auto s = ctx.apps.run(cmd.app, verb);
  held->release();
  if (ctx.monitor != nullptr) ctx.monitor->trigger(cmd.app);
  // The live state holds the outcome before the answer leaves: a read right after it sees it.
  auto v = ctx.apps.get(cmd.app);
  if (v) feed_live(ctx, *v);
  ctx.metrics.count_operation(cmd.app, cmd.action, s ? "ok" : s.error().code);
  if (!s && s.error().kind == ErrorKind::NotFound) {
    // The same answer as for an app the webhook may not touch (the audit log tells them apart).
    audit(cmd.action, cmd.app, "not_allowed", "no such app; " + how);
    return http::error_response(webhook::not_allowed(cmd));
  }
  audit(cmd.action, cmd.app, s ? "ok" : s.error().code, s ? how : s.error().message + "; " + how);
  if (!s) return http::error_response(s.error());
  nlohmann::json data = {{"app", cmd.app}, {"action", cmd.action}};
  if (v) data["state"] = summary_json(ctx, *v);
  return http::json_success(data);
}

void handle(ApiContext& ctx, const Request& req, const Responder& res) {
  Auditor audit{ctx, req.remote_address, "webhook", ""};
  // Before the sender proved to hold the secret, anyone can send requests: they are
  // counted, and audited only as a summary (at most one entry a minute), never one by one.
  auto refused = [&](std::string_view code) {
    ctx.metrics.count_webhook_refused(code);
    if (ctx.webhook == nullptr) return;  // off: like any unknown route, nothing to audit
    if (auto summary = ctx.webhook->refusals().note(code, req.remote_address, ctx.now_usec() / 1'000'000)) {
      audit("webhook", "", "refused", std::move(*summary));
    }
  };
  if (ctx.webhook == nullptr) {
    refused("webhook_disabled");
    res.send(http::json_failure(StatusCode::not_found, "webhook_disabled",
                                "the webhook is off on this agent: an administrator turns it on with "
                                "webhook.secret_file (docs/API.md, \"Webhook\")"));
    return;
  }
  if (req.body.size() > webhook::kMaxBodyBytes) {
    refused("body_too_large");
    res.send(http::json_failure(StatusCode::payload_too_large, "body_too_large",
                                fmt::format("the body is {} bytes; a webhook command is at most {} bytes",
                                            req.body.size(), webhook::kMaxBodyBytes)));
    return;
  }
  const webhook::Presented presented{req.header(webhook::kTimestampHeader), req.header(webhook::kSignatureHeader),
                                     req.body};
  auto accepted = ctx.webhook->verify(presented, ctx.now_usec() / 1'000'000);
  if (!accepted) {
    const auto& r = accepted.error();
    if (r.refusal == webhook::Refusal::InvalidBody && presented.signature) {
      // The signature checked out (it is verified before the body): a holder of the secret
      // sent a bad command. Audited like any other of theirs.
      audit.role = "operator";
      audit("webhook", "", r.code, r.message);
    } else {
      refused(r.code);
    }
    res.send(refusal_response(r));
    return;
  }
  const webhook::Command cmd = accepted->command;
  audit.actor = accepted->mode == webhook::AuthMode::Signature ? "webhook" : "webhook:body_secret";
  audit.role = "operator";
  const std::string how =
      accepted->timestamp ? fmt::format("{}, timestamp {}", to_string(accepted->mode), *accepted->timestamp)
                          : fmt::format("{}, no timestamp", to_string(accepted->mode));
  if (auto allowed = ctx.webhook->authorize(cmd); !allowed) {
    audit(cmd.action, cmd.app, allowed.error().code, "not in webhook.allow; " + how);
    res.send(http::error_response(allowed.error()));
    return;
  }
  const auto verb = agent::verb_from_string(cmd.action);  // parse_body let only start, stop, restart through
  const Caller caller{.actor = audit.actor, .role = audit.role, .source = audit.source, .detail = how};
  auto admitted = ctx.admission.admit(cmd.app, cmd.action, caller);
  if (!admitted) {  // audited by admit
    res.send(std::move(admitted.error().response));
    return;
  }
  on_worker(ctx, res, [&ctx, cmd, verb = *verb, how, audit, held = *admitted] {
    return run_command(ctx, cmd, verb, how, audit, held);
  });
}

}  // namespace

Result<std::unique_ptr<agent::webhook::Verifier>> make_webhook_verifier(const WebhookOptions& options) {
  auto allow = webhook::AllowList::parse(options.allow);
  if (!allow) return tl::unexpected(allow.error());
  webhook::Settings settings;
  if (options.secret_file) {
    auto secret = read_secret_file(*options.secret_file);
    if (!secret) return tl::unexpected(secret.error());
    settings.secret = std::move(*secret);
  } else if (!options.secret.empty()) {
    if (options.secret.size() < webhook::kMinSecretBytes || options.secret.size() > webhook::kMaxSecretBytes ||
        has_control(options.secret)) {
      return fail(ErrorKind::InvalidInput, "webhook_secret_invalid",
                  fmt::format("webhook.secret must be {} to {} characters without control characters",
                              webhook::kMinSecretBytes, webhook::kMaxSecretBytes));
    }
    settings.secret = options.secret;
  } else {
    return std::unique_ptr<webhook::Verifier>();
  }
  settings.max_age = options.max_age;
  settings.allow = std::move(*allow);
  settings.allow_body_secret = options.allow_body_secret;
  return std::make_unique<webhook::Verifier>(std::move(settings));
}

Status install_webhook_routes(ApiContext& ctx) {
  return ctx.server.route(http::Method::post, kWebhookRoute,
                          [&ctx](Request req, Responder res) { handle(ctx, req, res); });
}

}  // namespace siax::api
