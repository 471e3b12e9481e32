#pragma once
/// The agent's configuration.
///
/// Sources, each overriding the previous one:
///   1. built-in defaults (`Config{}`): the agent runs without any file;
///   2. a TOML file: the path given (it must exist), else $SIAX_CONFIG (it must exist),
///      else /etc/siax-agent/agent.toml if it exists;
///   3. environment variables (the table below; other SIAX_* variables are ignored);
///   4. command-line overrides "section.key=value", with the same dotted names as the
///      file (e.g. "server.port=9090").
///
/// Every mistake is reported, not just the first: unknown sections and keys (with a
/// "did you mean" for typos), wrong types, values out of range, relative paths, a TLS
/// certificate without its key, an unknown log level... Each message names where the
/// value came from: "agent.toml:3:8: server.port: must be between 0 and 65535, got
/// 70000", "environment variable SIAX_PORT: ...", "override 'server.port=x': ...".
/// Only syntax and ranges are checked here; whether the files exist is checked by the
/// components that open them.
///
/// | key                          | env                          | default                      |
/// |------------------------------|------------------------------|------------------------------|
/// | server.listen                | SIAX_LISTEN                  | "127.0.0.1" (IP literal)     |
/// | server.port                  | SIAX_PORT                    | 8080 (0: any free port)      |
/// | server.tls_cert              | SIAX_TLS_CERT                | unset ("" = unset)           |
/// | server.tls_key               | SIAX_TLS_KEY                 | unset (both or neither)      |
/// | server.allowed_hosts         | SIAX_ALLOWED_HOSTS           | "" (IPs, localhost, hostname)|
/// | server.allow_plain_http_remote | SIAX_ALLOW_PLAIN_HTTP_REMOTE | false                      |
/// | limits.max_body_bytes        | SIAX_MAX_BODY_BYTES          | 1048576                      |
/// | limits.max_connections       | SIAX_MAX_CONNECTIONS         | 256                          |
/// | limits.max_connections_per_address | SIAX_MAX_CONNECTIONS_PER_ADDRESS | 32 (0: no limit) |
/// | limits.request_timeout_s     | SIAX_REQUEST_TIMEOUT_S       | 10                           |
/// | paths.state_dir              | SIAX_STATE_DIR               | "/var/lib/siax-agent"        |
/// | limits.log_viewers_per_app   | SIAX_LOG_VIEWERS_PER_APP     | 10                           |
/// | limits.log_viewers_total     | SIAX_LOG_VIEWERS_TOTAL       | 100                          |
/// | paths.unit_dir               | SIAX_UNIT_DIR                | "/etc/systemd/system"        |
/// | paths.unit_helper_socket     | SIAX_UNIT_HELPER_SOCKET      | "" (no helper)               |
/// | apps.allow_root_apps         | SIAX_ALLOW_ROOT_APPS         | false                        |
/// | apps.rate_limit_interval_ms  | SIAX_RATE_LIMIT_INTERVAL_MS  | 1000 (0: no limit)           |
/// | apps.job_timeout_ms          | SIAX_JOB_TIMEOUT_MS          | 30000                        |
/// | apps.start_settle_ms         | SIAX_START_SETTLE_MS         | 0                            |
/// | apps.usage_interval_ms       | SIAX_USAGE_INTERVAL_MS       | 5000                         |
/// | limits.max_streams           | SIAX_MAX_STREAMS             | 32                           |
/// | apps.scan_interval_ms        | SIAX_SCAN_INTERVAL_MS        | 5000                         |
/// | apps.resync_interval_ms      | SIAX_RESYNC_INTERVAL_MS      | 300000                       |
/// | runtimes.node                | SIAX_NODE                    | "/usr/bin/node"              |
/// | runtimes.npm                 | SIAX_NPM                     | "/usr/bin/npm"               |
/// | runtimes.python              | SIAX_PYTHON                  | "/usr/bin/python3"           |
/// | log.level                    | SIAX_LOG_LEVEL               | "info"                       |
/// | cloud.base_url               | SIAX_CLOUD_URL               | "https://api.siax-system.net"|
/// | cloud.api_key                | SIAX_CLOUD_API_KEY           | "" (cloud link off)          |
/// | cloud.server_id              | SIAX_SERVER_ID               | "" (the host name)           |
/// | cloud.heartbeat_interval_s   | SIAX_HEARTBEAT_INTERVAL_S    | 60                           |
/// | webhook.secret_file          | SIAX_WEBHOOK_SECRET_FILE     | unset (webhook off)          |
/// | webhook.secret               | SIAX_WEBHOOK_SECRET          | "" (prefer secret_file)      |
/// | webhook.max_age_s            | SIAX_WEBHOOK_MAX_AGE_S       | 300                          |
/// | webhook.allow                | SIAX_WEBHOOK_ALLOW           | "" (nothing allowed)         |
/// | webhook.allow_body_secret    | SIAX_WEBHOOK_ALLOW_BODY_SECRET | false                      |
///
/// Environment and override values are parsed by the key's type: integers in decimal,
/// booleans as true/false, 1/0, yes/no, on/off (any case), strings as-is (an override
/// value in double quotes is unquoted).
///
/// Threading: pure functions, except load_config, which reads one file. Call at start-up.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace siax::config {

/// Same order and names as spdlog's levels (static_cast to spdlog::level::level_enum).
enum class LogLevel { Trace, Debug, Info, Warn, Error, Critical, Off };
[[nodiscard]] std::string_view to_string(LogLevel level) noexcept;

struct ServerConfig {
  std::string listen_address = "127.0.0.1";
  std::uint16_t port = 8080;                 ///< 0: the OS picks a free port (tests)
  std::optional<std::string> tls_cert_file;  ///< PEM certificate chain; set together with the key
  std::optional<std::string> tls_key_file;   ///< PEM private key
  /// Host names the API answers to besides IP literals, localhost and the host's name.
  std::vector<std::string> allowed_hosts;
  /// Plain HTTP on a non-loopback address: refused by `serve` unless this is true.
  bool allow_plain_http_remote = false;
  [[nodiscard]] bool tls_enabled() const noexcept { return tls_cert_file.has_value() && tls_key_file.has_value(); }
  bool operator==(const ServerConfig&) const = default;
};

struct LimitsConfig {
  std::size_t max_body_bytes = 1024 * 1024;
  std::size_t max_connections = 256;
  std::size_t max_connections_per_address = 32;  ///< 0: no per-address limit
  std::chrono::seconds request_timeout{10};
  std::size_t log_viewers_per_app = 10;  ///< live-log viewers of one app (or of the agent's own log)
  std::size_t log_viewers_total = 100;   ///< live-log viewers overall
  std::size_t max_streams = 32;          ///< live state streams (GET /api/stream)
  bool operator==(const LimitsConfig&) const = default;
};

struct PathsConfig {
  std::string state_dir = "/var/lib/siax-agent";  ///< the SQLite registry lives here
  std::string unit_dir = "/etc/systemd/system";
  /// The root unit helper's socket (docs/DEPLOY.md, "The unit helper"); empty: none, the
  /// agent writes unit files itself (root mode) or reports the right as missing.
  std::string unit_helper_socket;
  bool operator==(const PathsConfig&) const = default;
};

struct AppsConfig {
  bool allow_root_apps = false;
  std::chrono::milliseconds rate_limit_interval{1000};  ///< per app; 0 disables the limit
  std::chrono::milliseconds job_timeout{30'000};
  std::chrono::milliseconds start_settle{0};  ///< 0: answer when systemd's job is done
  std::chrono::milliseconds usage_interval{5'000};  ///< live state: usage changes at most this often per app
  std::chrono::milliseconds scan_interval{5'000};
  std::chrono::milliseconds resync_interval{300'000};  ///< the monitor's safety-net re-read of every unit
  bool operator==(const AppsConfig&) const = default;
};

struct RuntimesConfig {
  std::string node = "/usr/bin/node";
  std::string npm = "/usr/bin/npm";
  std::string python = "/usr/bin/python3";
  bool operator==(const RuntimesConfig&) const = default;
};

struct LogConfig {
  LogLevel level = LogLevel::Info;
  bool operator==(const LogConfig&) const = default;
};

struct CloudConfig {
  std::string base_url = "https://api.siax-system.net";  ///< no trailing slash
  std::string api_key;                                   ///< empty: the cloud link is off
  std::string server_id;                                 ///< empty: use the host name
  std::chrono::seconds heartbeat_interval{60};
  [[nodiscard]] bool enabled() const noexcept { return !api_key.empty(); }
  bool operator==(const CloudConfig&) const = default;
};

/// The signed webhook (POST /webhook/command, docs/API.md "Webhook"). Off unless a secret
/// is set; the secret file and the allow-list are read and parsed by the agent at start-up.
struct WebhookConfig {
  std::optional<std::string> secret_file;  ///< a file readable only by the agent holding the secret
  std::string secret;                      ///< the secret inline (weaker: it sits in the config); not with secret_file
  std::chrono::seconds max_age{300};       ///< oldest accepted timestamp (and the replay window)
  std::string allow;                       ///< "APP:ACTION" rules, e.g. "orders:restart, api:*"; empty: nothing
  bool allow_body_secret = false;          ///< accept the seed's {"secret": ...} body (weaker)
  bool operator==(const WebhookConfig&) const = default;
};

struct Config {
  ServerConfig server;
  LimitsConfig limits;
  PathsConfig paths;
  AppsConfig apps;
  RuntimesConfig runtimes;
  LogConfig log;
  CloudConfig cloud;
  WebhookConfig webhook;
  bool operator==(const Config&) const = default;
};

inline constexpr std::string_view kDefaultConfigPath = "/etc/siax-agent/agent.toml";
/// Environment variable naming the config file when no path is given.
inline constexpr std::string_view kConfigPathEnv = "SIAX_CONFIG";
/// Files larger than this are refused (a config file is a few KiB).
inline constexpr std::size_t kMaxConfigFileBytes = 1024 * 1024;

using Environment = std::map<std::string, std::string>;
using Overrides = std::vector<std::pair<std::string, std::string>>;

/// One configurable key, for help texts and docs.
struct KeyInfo {
  std::string_view key;          ///< dotted name, e.g. "server.port"
  std::string_view env;          ///< environment variable, e.g. "SIAX_PORT"
  std::string_view description;  ///< one line
};
/// Every key, in file order.
[[nodiscard]] std::span<const KeyInfo> config_keys() noexcept;

/// The contents of a config file and the name used in messages (usually its path).
struct ConfigText {
  std::string text;
  std::string source_name;
};

/// Defaults, then the TOML `text`. Errors are InvalidInput, code "invalid_config",
/// with one {"problem", message} detail per mistake.
[[nodiscard]] Result<Config> parse_config_text(std::string_view text, std::string_view source_name);

/// Defaults, then `file` (if any), then `env`, then `overrides`; then validation.
/// Pure: no file system access.
[[nodiscard]] Result<Config> resolve_config(const std::optional<ConfigText>& file, const Environment& env,
                                            const Overrides& overrides);

/// resolve_config with the file chosen as described at the top. An explicit path (or
/// $SIAX_CONFIG) that does not exist is NotFound; an unreadable file is PermissionDenied.
[[nodiscard]] Result<Config> load_config(std::optional<std::string> path, const Environment& env,
                                         const Overrides& overrides);

/// Splits a command-line "section.key=value" at the first '='. InvalidInput when there
/// is no '=' or the key is empty. The key is not checked here (resolve_config does).
[[nodiscard]] Result<std::pair<std::string, std::string>> parse_override(std::string_view assignment);

/// The process environment as a map (from `environ`-style, null-terminated "K=V" strings).
[[nodiscard]] Environment environment_from(const char* const* envp);

/// A commented example file with every key at its default value; parsing it yields
/// `Config{}`.
[[nodiscard]] std::string render_default_config();

}  // namespace siax::config
