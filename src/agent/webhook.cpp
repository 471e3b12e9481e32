#include "agent/webhook.h"

#include <algorithm>
#include <array>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "auth/crypto_util.h"
#include "core/validation.h"

namespace siax::agent::webhook {
namespace {

constexpr std::array<std::string_view, 3> kActions = {"start", "stop", "restart"};
constexpr std::size_t kMaxRules = 256;
constexpr std::size_t kMaxTimestampDigits = 12;  // Unix seconds until the year 33658
constexpr std::size_t kDigestBytes = 32;

tl::unexpected<Rejection> reject(Refusal refusal, std::string code, std::string message) {
  return tl::unexpected<Rejection>(Rejection{refusal, std::move(code), std::move(message)});
}

bool is_action(std::string_view a) { return std::find(kActions.begin(), kActions.end(), a) != kActions.end(); }

/// A raw digest (auth::sha256, auth::hmac_sha256: Nettle) as bytes.
std::string digest_bytes(const auth::Sha256Digest& md) {
  return std::string(reinterpret_cast<const char*>(md.data()), md.size());
}

std::string hmac_sha256(std::string_view key, std::string_view data) { return digest_bytes(auth::hmac_sha256(key, data)); }

std::string sha256(std::string_view data) { return digest_bytes(auth::sha256(data)); }

std::string signed_text(std::string_view timestamp, std::string_view body) {
  std::string text;
  text.reserve(timestamp.size() + 1 + body.size());
  text.append(timestamp).append(".").append(body);
  return text;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// "sha256=<64 hex digits>" (either case) as 32 raw bytes.
std::optional<std::string> decode_signature(std::string_view header) {
  if (!header.starts_with(kSignaturePrefix)) return std::nullopt;
  const auto hex = header.substr(kSignaturePrefix.size());
  if (hex.size() != 2 * kDigestBytes) return std::nullopt;
  std::string raw(kDigestBytes, '\0');
  for (std::size_t i = 0; i < kDigestBytes; ++i) {
    const int hi = hex_value(hex[2 * i]);
    const int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    raw[i] = static_cast<char>((hi << 4) | lo);
  }
  return raw;
}

/// A field name fit for a message: short printable ASCII, else a placeholder.
std::string shown_field(std::string_view key) {
  const bool printable = key.size() <= 40 && std::all_of(key.begin(), key.end(), [](char c) {
                           return c > 0x20 && c < 0x7f && c != '\'';
                         });
  return printable ? fmt::format("'{}'", key) : std::string("(a field with an unprintable or long name)");
}

constexpr std::string_view kBodyShape = R"({"action": "start"|"stop"|"restart", "app_name": "<app>"})";

}  // namespace

const char* to_string(AuthMode mode) noexcept { return mode == AuthMode::Signature ? "signature" : "body_secret"; }

// ---- AllowList ----------------------------------------------------------------------

Result<AllowList> AllowList::parse(std::string_view text) {
  AllowList list;
  const auto grammar =
      "write rules as APP:ACTION separated by commas, where APP is an app name or '*' and ACTION is start, stop, "
      "restart or '*' (e.g. \"orders:restart, api:*\")";
  std::size_t i = 0;
  while (i < text.size()) {
    const auto is_sep = [](char c) { return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    if (is_sep(text[i])) {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && !is_sep(text[end])) ++end;
    const auto rule = text.substr(i, end - i);
    i = end;
    auto bad = [&](std::string_view why) {
      return fail(ErrorKind::InvalidInput, "invalid_webhook_allow",
                  fmt::format("webhook.allow: rule '{}' {}: {}", rule.substr(0, 80), why, grammar));
    };
    const auto colon = rule.find(':');
    if (colon == std::string_view::npos) return bad("has no ':'");
    const auto app = rule.substr(0, colon);
    const auto action = rule.substr(colon + 1);
    if (app != "*" && !core::validate_app_name(app)) return bad("does not name an app");
    if (action != "*" && !is_action(action)) return bad("does not name an action");
    if (list.rules_.size() == kMaxRules) {
      return fail(ErrorKind::InvalidInput, "invalid_webhook_allow",
                  fmt::format("webhook.allow has more than {} rules: use '*' patterns", kMaxRules));
    }
    list.rules_.push_back({std::string(app), std::string(action)});
  }
  return list;
}

bool AllowList::allows(const Command& command) const noexcept {
  return std::any_of(rules_.begin(), rules_.end(), [&](const Rule& r) {
    return (r.app == "*" || r.app == command.app) && (r.action == "*" || r.action == command.action);
  });
}

std::string AllowList::describe() const {
  std::string out;
  for (const auto& r : rules_) {
    if (!out.empty()) out += ", ";
    out += r.app + ":" + r.action;
  }
  return out;
}

// ---- Signatures and bodies ----------------------------------------------------------

std::string sign(std::string_view secret, std::string_view timestamp, std::string_view body) {
  const auto mac = hmac_sha256(secret, signed_text(timestamp, body));
  const auto* bytes = reinterpret_cast<const unsigned char*>(mac.data());
  return std::string(kSignaturePrefix) + auth::hex_encode(bytes, mac.size());
}

Checked<ParsedBody> parse_body(std::string_view body, bool secret_field) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) {
    return reject(Refusal::InvalidBody, "invalid_json", fmt::format("the body is not valid JSON: send {}", kBodyShape));
  }
  if (!j.is_object()) {
    return reject(Refusal::InvalidBody, "invalid_body", fmt::format("the body must be a JSON object: {}", kBodyShape));
  }
  for (const auto& [key, value] : j.items()) {
    if (key == "action" || key == "app_name" || (secret_field && key == "secret")) continue;
    return reject(Refusal::InvalidBody, "unknown_field",
                  fmt::format("unknown field {}: the body has only \"action\" and \"app_name\"{}", shown_field(key),
                              secret_field ? " (and \"secret\")" : ""));
  }
  ParsedBody out;
  const auto action = j.find("action");
  if (action == j.end() || !action->is_string()) {
    return reject(Refusal::InvalidBody, "invalid_body",
                  fmt::format("\"action\" (a string) is required: {}", kBodyShape));
  }
  out.command.action = action->get<std::string>();
  if (!is_action(out.command.action)) {
    return reject(Refusal::InvalidBody, "invalid_action", "\"action\" must be \"start\", \"stop\" or \"restart\"");
  }
  const auto app = j.find("app_name");
  if (app == j.end() || !app->is_string()) {
    return reject(Refusal::InvalidBody, "invalid_body",
                  fmt::format("\"app_name\" (a string) is required: {}", kBodyShape));
  }
  out.command.app = app->get<std::string>();
  if (auto s = core::validate_app_name(out.command.app); !s) {
    return reject(Refusal::InvalidBody, s.error().code, s.error().message);
  }
  if (const auto secret = j.find("secret"); secret_field && secret != j.end()) {
    if (!secret->is_string()) return reject(Refusal::InvalidBody, "invalid_body", "\"secret\" must be a string");
    out.secret = secret->get<std::string>();
  }
  return out;
}

// ---- ReplayCache --------------------------------------------------------------------

ReplayCache::Outcome ReplayCache::remember(const std::string& key, std::int64_t keep_until, std::int64_t now) {
  std::lock_guard lock(mutex_);
  while (!expiry_.empty() && expiry_.begin()->first < now) {
    keys_.erase(expiry_.begin()->second);
    expiry_.erase(expiry_.begin());
  }
  if (keys_.contains(key)) return Outcome::Replayed;
  if (keys_.size() >= capacity_) return Outcome::Full;
  keys_.emplace(key, keep_until);
  expiry_.emplace(keep_until, key);
  return Outcome::Fresh;
}

std::size_t ReplayCache::size() const {
  std::lock_guard lock(mutex_);
  return keys_.size();
}

// ---- Verifier -----------------------------------------------------------------------

Verifier::Verifier(Settings settings) : settings_(std::move(settings)), replays_(settings_.replay_capacity) {}

Checked<std::int64_t> Verifier::check_timestamp(std::string_view text, std::int64_t now) const {
  const bool digits = !text.empty() && text.size() <= kMaxTimestampDigits &&
                      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits) {
    return reject(Refusal::Unauthenticated, "invalid_timestamp",
                  fmt::format("{} must be the Unix time in seconds, digits only (as 'date +%s' prints it)",
                              kTimestampHeader));
  }
  const std::int64_t ts = std::stoll(std::string(text));
  const std::int64_t max_age = settings_.max_age.count();
  const std::int64_t skew = std::min(max_age, static_cast<std::int64_t>(kMaxFutureSkew.count()));
  if (now - ts > max_age) {
    return reject(Refusal::Unauthenticated, "stale_timestamp",
                  fmt::format("the request was signed {} s ago; older than {} s is refused: sign each request when "
                              "you send it (and check the sender's clock)",
                              now - ts, max_age));
  }
  if (ts - now > skew) {
    return reject(Refusal::Unauthenticated, "future_timestamp",
                  fmt::format("the timestamp is {} s ahead of the agent's clock (at most {} s is accepted): check the "
                              "sender's clock",
                              ts - now, skew));
  }
  return ts;
}

Checked<void> Verifier::check_replay(const std::string& key, std::int64_t timestamp, std::int64_t now) {
  switch (replays_.remember(key, timestamp + settings_.max_age.count(), now)) {
    case ReplayCache::Outcome::Fresh: return {};
    case ReplayCache::Outcome::Replayed:
      return reject(Refusal::Unauthenticated, "replayed_request",
                    "this signed request was already received: each one is accepted once; sign a new one (a new "
                    "timestamp) to send the command again");
    case ReplayCache::Outcome::Full: break;
  }
  return reject(Refusal::Busy, "replay_cache_full",
                "too many signed requests in the replay window; try again in a few seconds");
}

Checked<Accepted> Verifier::verify(const Presented& p, std::int64_t now) {
  const auto& secret = settings_.secret;
  if (p.signature) {
    if (!p.timestamp) {
      return reject(Refusal::Unauthenticated, "missing_timestamp",
                    fmt::format("a signed request needs the {} header (Unix seconds) that was signed with the body",
                                kTimestampHeader));
    }
    auto ts = check_timestamp(*p.timestamp, now);
    if (!ts) return tl::unexpected(ts.error());
    const auto given = decode_signature(*p.signature);
    if (!given) {
      return reject(Refusal::Unauthenticated, "invalid_signature_header",
                    fmt::format("{} must be '{}' followed by the 64 hex digits of the HMAC-SHA256", kSignatureHeader,
                                kSignaturePrefix));
    }
    const auto expected = hmac_sha256(secret, signed_text(*p.timestamp, p.body));
    if (expected.size() != kDigestBytes || !auth::constant_time_equals(*given, expected)) {
      return reject(Refusal::Unauthenticated, "bad_signature",
                    "the signature does not match: sign \"<timestamp>.<body>\" (the exact bytes sent) with "
                    "HMAC-SHA256 and the shared secret");
    }
    if (auto r = check_replay(expected, *ts, now); !r) return tl::unexpected(r.error());
    auto body = parse_body(p.body, false);
    if (!body) return tl::unexpected(body.error());
    return Accepted{std::move(body->command), AuthMode::Signature, *ts};
  }
  if (!settings_.allow_body_secret) {
    return reject(Refusal::Unauthenticated, "signature_required",
                  fmt::format("sign the request: send {} (Unix seconds) and {}: sha256=<HMAC-SHA256 of "
                              "\"<timestamp>.<body>\" with the shared secret> (docs/API.md, \"Webhook\")",
                              kTimestampHeader, kSignatureHeader));
  }
  auto body = parse_body(p.body, true);
  if (!body) return tl::unexpected(body.error());
  if (!body->secret) {
    return reject(Refusal::Unauthenticated, "signature_required",
                  fmt::format("send a signed request ({} and {}), or \"secret\" in the body", kTimestampHeader,
                              kSignatureHeader));
  }
  // Digests of equal length: the comparison shows neither where they differ nor the length.
  const auto given = sha256(*body->secret);
  const auto wanted = sha256(secret);
  if (given.size() != kDigestBytes || !auth::constant_time_equals(given, wanted)) {
    return reject(Refusal::Unauthenticated, "bad_secret", "the secret does not match");
  }
  Accepted accepted{std::move(body->command), AuthMode::BodySecret, std::nullopt};
  if (p.timestamp) {
    auto ts = check_timestamp(*p.timestamp, now);
    if (!ts) return tl::unexpected(ts.error());
    if (auto r = check_replay(hmac_sha256(secret, signed_text(*p.timestamp, p.body)), *ts, now); !r) {
      return tl::unexpected(r.error());
    }
    accepted.timestamp = *ts;
  }
  return accepted;
}

Status Verifier::authorize(const Command& command) const {
  if (settings_.allow.allows(command)) return ok();
  return tl::unexpected(not_allowed(command));
}

Error not_allowed(const Command& command) {
  return Error{ErrorKind::PermissionDenied, "not_allowed",
               fmt::format("the webhook may not {} '{}', or there is no such app: an administrator lists what it may "
                           "do in webhook.allow",
                           command.action, command.app)};
}

}  // namespace siax::agent::webhook

namespace siax::agent::webhook {

std::optional<std::string> RefusalDigest::note(std::string_view code, std::string_view source, std::int64_t now) {
  std::lock_guard lock(mutex_);
  auto it = counts_.find(code);
  if (it == counts_.end()) it = counts_.try_emplace(counts_.size() < kMaxCodes ? std::string(code) : "other", 0).first;
  ++it->second;
  ++total_;
  last_source_ = std::string(source.substr(0, 64));
  if (last_entry_ && now - *last_entry_ < window_.count()) return std::nullopt;
  std::string by_code;
  for (const auto& [c, n] : counts_) by_code += fmt::format("{}{} {}", by_code.empty() ? "" : ", ", c, n);
  std::string detail = fmt::format(
      "{} unauthenticated request(s) refused ({}), the last from {}; summarised: at most one entry per {} s, each "
      "refusal counted in siax_webhook_refused_total",
      total_, by_code, last_source_, window_.count());
  counts_.clear();
  total_ = 0;
  last_entry_ = now;
  return detail;
}

}  // namespace siax::agent::webhook
