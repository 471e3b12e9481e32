#pragma once
/// POST /webhook/command: start, stop or restart an app from an outside system (a CI
/// pipeline, the cloud) without a token, authenticated by an HMAC signature instead
/// (agent/webhook.h; docs/API.md, "Webhook").
///
/// Every request whose sender proved to hold the secret is audited, whatever its outcome
/// (actor "webhook", or "webhook:body_secret" in the weaker mode; the source address; the
/// result code; never the signature or the secret). Requests refused before that (bad or
/// missing signature, stale, replayed, too large, webhook off) are counted in
/// siax_webhook_refused_total{code} and audited only as a summary, at most one entry
/// (result "refused") a minute (webhook::RefusalDigest): a flood cannot fill the audit
/// log. An admitted command goes through the same admission as the API's lifecycle
/// routes (admission.h: 409 while an operation runs on the app, 429
/// inside its rate window) and runs on the WorkerPool. A command on an app the webhook
/// may not touch and one on an app that does not exist get the same 403 "not_allowed".
///
/// Thread: the handler runs on the io thread; it computes one HMAC (microseconds) and
/// never blocks. The operation and the audit writes run on the WorkerPool.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "agent/webhook.h"
#include "api/context.h"

namespace siax::api {

inline constexpr std::string_view kWebhookRoute = "/webhook/command";

/// The webhook's settings as the configuration holds them (config::WebhookConfig).
struct WebhookOptions {
  std::optional<std::string> secret_file;
  std::string secret;  ///< inline; not together with secret_file
  std::chrono::seconds max_age{300};
  std::string allow;
  bool allow_body_secret = false;
};

/// The verifier for `options`, or nullptr when no secret is configured (the webhook is
/// off). Parses the allow-list first (a mistake in it is an error even while the webhook
/// is off). The secret file must be a regular file owned by the agent's user or root,
/// with no permission for group or others (chmod 600), holding 16 to 4096 bytes (a
/// trailing newline is ignored) without control characters. Errors: InvalidInput
/// "invalid_webhook_allow", "webhook_secret_unsafe", "webhook_secret_invalid";
/// NotFound or PermissionDenied "webhook_secret_unreadable". Messages name the file,
/// never what it holds. Reads one file: call at start-up.
[[nodiscard]] Result<std::unique_ptr<agent::webhook::Verifier>> make_webhook_verifier(const WebhookOptions& options);


}  // namespace siax::api
