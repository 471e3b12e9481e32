#pragma once
/// The signed webhook's core (POST /webhook/command; docs/API.md, "Webhook"): the
/// HMAC-SHA256 signature over "<timestamp>.<raw body>", the time window, the replay
/// cache, the allow-list and the strict command body. No I/O and no clock of its own:
/// the caller passes the time, so every rule is tested with literal inputs.
///
/// What a request must carry (signature mode, the default):
///   X-Siax-Timestamp: <Unix time in seconds, decimal>
///   X-Siax-Signature: sha256=<hex of HMAC-SHA256(secret, "<timestamp>.<raw body>")>
///   body: {"action": "start"|"stop"|"restart", "app_name": "<app>"}
/// Refused: a timestamp older than max_age or more than kMaxFutureSkew ahead; a signature
/// already accepted while its timestamp is inside the window (each signed request is
/// accepted once); any field other than action and app_name.
///
/// Body-secret mode (the seed's form, only with allow_body_secret): no signature header,
/// {"action", "app_name", "secret"}; the secret is compared in constant time (as SHA-256
/// digests, so its length does not show). Weaker: the secret travels in every body and
/// anyone who sees one body can send any command. With an X-Siax-Timestamp header the
/// window and the replay cache apply as well (the timestamp is not bound to the body).
///
/// Threading: the free functions and AllowList are pure. Verifier may be used from any
/// thread (its ReplayCache has a mutex). Nothing here logs; no message contains the
/// secret, the signature or a digest of either.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"

namespace siax::agent::webhook {

inline constexpr std::string_view kTimestampHeader = "X-Siax-Timestamp";
inline constexpr std::string_view kSignatureHeader = "X-Siax-Signature";
inline constexpr std::string_view kSignaturePrefix = "sha256=";
/// The largest command body (a command is ~60 bytes): larger ones are refused unread.
inline constexpr std::size_t kMaxBodyBytes = 4096;
/// Shortest secret accepted (the config and the secret file are held to it).
inline constexpr std::size_t kMinSecretBytes = 16;
inline constexpr std::size_t kMaxSecretBytes = 4096;
/// How far ahead of the agent's clock a timestamp may be (clock skew), at most max_age.
inline constexpr std::chrono::seconds kMaxFutureSkew{60};
/// Signatures remembered at once; when that many are inside their window, new requests
/// are refused (503) rather than forgetting one early (which would allow its replay).
inline constexpr std::size_t kDefaultReplayCapacity = 10'000;

/// One command: action is "start", "stop" or "restart"; app a valid app name.
struct Command {
  std::string action;
  std::string app;
  friend bool operator==(const Command&, const Command&) = default;
};

/// Which apps and actions the webhook may touch. Rules "APP:ACTION" separated by commas
/// and/or whitespace; APP is an app name or "*", ACTION is start, stop, restart or "*".
/// An empty list allows nothing.
class AllowList {
 public:
  /// Errors: InvalidInput "invalid_webhook_allow" naming the bad rule and the grammar.
  [[nodiscard]] static Result<AllowList> parse(std::string_view text);

  [[nodiscard]] bool allows(const Command& command) const noexcept;
  [[nodiscard]] bool empty() const noexcept { return rules_.empty(); }
  /// The rules, normalized: "orders:restart, api:*" (for the start-up log line).
  [[nodiscard]] std::string describe() const;

 private:
  struct Rule {
    std::string app;     ///< "*" or a name
    std::string action;  ///< "*" or an action
  };
  std::vector<Rule> rules_;
};

/// The header value for a request: "sha256=" + lowercase hex of
/// HMAC-SHA256(secret, timestamp + "." + body).
[[nodiscard]] std::string sign(std::string_view secret, std::string_view timestamp, std::string_view body);

/// A strictly validated command body. With `secret_field` the field "secret" (a string)
/// is required too; without it, "secret" is an unknown field like any other.
struct ParsedBody {
  Command command;
  std::optional<std::string> secret;
};

/// Why a request was refused, for the HTTP status: Unauthenticated 401, InvalidBody
/// 400, Busy 503 (replay cache full).
enum class Refusal { Unauthenticated, InvalidBody, Busy };

struct Rejection {
  Refusal refusal = Refusal::Unauthenticated;
  std::string code;     ///< stable, e.g. "stale_timestamp"
  std::string message;  ///< for people; never holds the secret or the signature
};

template <class T>
using Checked = tl::expected<T, Rejection>;

/// Parses a command body. Codes (InvalidBody): "invalid_json", "invalid_body" (not an
/// object, a field missing or of the wrong type), "unknown_field", "invalid_action",
/// "invalid_app_name".
[[nodiscard]] Checked<ParsedBody> parse_body(std::string_view body, bool secret_field);

/// Signatures (or, in body-secret mode, request digests) accepted recently. Bounded.
/// Thread-safe.
class ReplayCache {
 public:
  explicit ReplayCache(std::size_t capacity = kDefaultReplayCapacity) : capacity_(capacity) {}

  enum class Outcome { Fresh, Replayed, Full };
  /// Forgets entries whose keep_until is before `now`, then: Replayed when `key` is
  /// known; Full (nothing recorded) when `capacity` entries remain; else records `key`
  /// until `keep_until` (Unix seconds) and answers Fresh.
  [[nodiscard]] Outcome remember(const std::string& key, std::int64_t keep_until, std::int64_t now);
  [[nodiscard]] std::size_t size() const;

 private:
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::int64_t> keys_;  ///< key -> keep_until
  std::multimap<std::int64_t, std::string> expiry_;     ///< keep_until -> key, for pruning
};

struct Settings {
  std::string secret;  ///< at least kMinSecretBytes; empty turns the webhook off (see Verifier)
  std::chrono::seconds max_age{300};
  AllowList allow;
  bool allow_body_secret = false;
  std::size_t replay_capacity = kDefaultReplayCapacity;
};

/// What a caller presented: the two headers (absent: nullopt) and the raw body.
struct Presented {
  std::optional<std::string_view> timestamp;
  std::optional<std::string_view> signature;
  std::string_view body;
};

enum class AuthMode { Signature, BodySecret };
[[nodiscard]] const char* to_string(AuthMode mode) noexcept;

/// A request whose sender proved to hold the secret, with its command (not yet checked
/// against the allow-list).
struct Accepted {
  Command command;
  AuthMode mode = AuthMode::Signature;
  std::optional<std::int64_t> timestamp;  ///< absent only in body-secret mode without the header
};

/// Refusals of requests whose sender did not prove to hold the secret, summarised for the
/// audit log so that a flood cannot fill it (each refusal is counted in the metrics
/// instead, like the API's unauthenticated refusals): the first refusal after a quiet
/// window is audited at once; later ones at most once per window, each entry telling how
/// many were refused since the previous one, by code, and the last sender's address.
/// Refusals at the end of a flood are in the next entry (and in the metrics at once).
/// Bounded: at most kMaxCodes distinct codes are named (the rest as "other").
/// Thread-safe (a mutex).
class RefusalDigest {
 public:
  static constexpr std::size_t kMaxCodes = 32;

  explicit RefusalDigest(std::chrono::seconds window = std::chrono::seconds(60)) : window_(window) {}

  /// Records one refusal at Unix time `now`; the audit entry's detail to write now, or
  /// nullopt (counted, summarised later).
  [[nodiscard]] std::optional<std::string> note(std::string_view code, std::string_view source, std::int64_t now);

 private:
  const std::chrono::seconds window_;
  mutable std::mutex mutex_;
  std::optional<std::int64_t> last_entry_;  ///< when the last summary was written
  std::map<std::string, std::uint64_t, std::less<>> counts_;
  std::uint64_t total_ = 0;
  std::string last_source_;
};

class Verifier {
 public:
  explicit Verifier(Settings settings);

  /// Authenticates `p` at Unix time `now`, then parses its body.
  ///
  /// Signature mode (a signature header is present): timestamp header present and
  /// well-formed ("missing_timestamp", "invalid_timestamp"), inside the window
  /// ("stale_timestamp", "future_timestamp"), signature header well-formed
  /// ("invalid_signature_header"), equal in constant time ("bad_signature"), not seen
  /// before ("replayed_request"; "replay_cache_full" is Busy); then the body (400 codes
  /// of parse_body). Without a signature header: "signature_required", unless
  /// allow_body_secret, where the body is parsed first, then its secret compared
  /// ("bad_secret"), then the timestamp header, if any, checked as above.
  [[nodiscard]] Checked<Accepted> verify(const Presented& p, std::int64_t now);

  /// Whether the allow-list lets `command` run. Refusal: PermissionDenied "not_allowed"
  /// (see not_allowed()).
  [[nodiscard]] Status authorize(const Command& command) const;

  [[nodiscard]] const Settings& settings() const noexcept { return settings_; }
  [[nodiscard]] std::size_t remembered() const { return replays_.size(); }
  /// The audit summary of refused requests (see RefusalDigest).
  [[nodiscard]] RefusalDigest& refusals() noexcept { return refusals_; }

 private:
  [[nodiscard]] Checked<std::int64_t> check_timestamp(std::string_view text, std::int64_t now) const;
  [[nodiscard]] Checked<void> check_replay(const std::string& key, std::int64_t timestamp, std::int64_t now);

  Settings settings_;
  ReplayCache replays_;
  RefusalDigest refusals_;
};

/// The one refusal for a command on an app the webhook may not touch, and for one on an
/// app that does not exist: the same code and message, so that a refusal never tells
/// whether an app exists. PermissionDenied "not_allowed".
[[nodiscard]] Error not_allowed(const Command& command);

}  // namespace siax::agent::webhook
