// The configuration's keys: one entry per key, each parsing, checking, storing and
// rendering its value (schema.h). The lookups over the table are in schema.cpp.
#include "config/schema.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <vector>

#include <fmt/format.h>

#include "common/strings.h"

namespace siax::config::detail {

using namespace std::chrono_literals;

namespace {

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          out += fmt::format("\\u{:04X}", static_cast<unsigned>(static_cast<unsigned char>(c)));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

std::optional<std::string> check_range(std::int64_t v, std::int64_t lo, std::int64_t hi, std::string_view unit = {}) {
  if (v < lo || v > hi) {
    return fmt::format("must be between {} and {}{}, got {}", lo, hi, unit, v);
  }
  return std::nullopt;
}

/// Absolute and normalized: starts with '/', no "." or ".." segment, no control characters.
std::optional<std::string> check_absolute_path(std::string_view p) {
  if (p.empty()) return "must be an absolute path, got an empty string";
  if (p.size() > 4096) return "must be at most 4096 bytes long";
  if (has_control(p)) return fmt::format("must not contain control characters, got {}", shown(p));
  if (p.front() != '/') return fmt::format("must be an absolute path (starting with '/'), got {}", shown(p));
  std::size_t start = 1;
  while (start <= p.size()) {
    auto end = p.find('/', start);
    if (end == std::string_view::npos) end = p.size();
    const auto seg = p.substr(start, end - start);
    if (seg == "." || seg == "..") {
      return fmt::format("must not contain '.' or '..' segments, got {}", shown(p));
    }
    start = end + 1;
  }
  return std::nullopt;
}

bool is_ip_literal(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

const std::string& str(const Value& v) { return std::get<std::string>(v); }
std::int64_t num(const Value& v) { return std::get<std::int64_t>(v); }

std::optional<std::string> set_path(std::string& field, const Value& v) {
  if (auto p = check_absolute_path(str(v))) return p;
  field = str(v);
  return std::nullopt;
}

std::optional<std::string> set_optional_path(std::optional<std::string>& field, const Value& v) {
  if (str(v).empty()) {
    field.reset();
    return std::nullopt;
  }
  if (auto p = check_absolute_path(str(v))) return p;
  field = str(v);
  return std::nullopt;
}

template <class Duration>
std::optional<std::string> set_duration(Duration& field, const Value& v, std::int64_t lo, std::int64_t hi,
                                        std::string_view unit) {
  if (auto p = check_range(num(v), lo, hi, unit)) return p;
  field = Duration(num(v));
  return std::nullopt;
}

std::optional<LogLevel> parse_log_level(std::string_view s) {
  for (auto level : {LogLevel::Trace, LogLevel::Debug, LogLevel::Info, LogLevel::Warn, LogLevel::Error,
                     LogLevel::Critical, LogLevel::Off}) {
    if (s == to_string(level)) return level;
  }
  return std::nullopt;
}

/// https://host[:port][/path], or http:// for a loopback host only (a local test server):
/// the API key must never cross the network in clear text.
std::optional<std::string> check_base_url(std::string_view url) {
  if (url.size() > 2048) return "must be at most 2048 bytes long";
  if (has_control(url) || url.find(' ') != std::string_view::npos) {
    return fmt::format("must not contain spaces or control characters, got {}", shown(url));
  }
  std::string_view rest;
  bool plain = false;
  if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    rest = url.substr(7);
    plain = true;
  } else {
    return fmt::format("must start with https://, got {}", shown(url));
  }
  const auto host_port = rest.substr(0, rest.find_first_of("/?#"));
  std::string_view host = host_port;
  if (host.starts_with('[')) {
    const auto close = host.find(']');
    if (close == std::string_view::npos) return fmt::format("has an unterminated IPv6 address: {}", shown(url));
    host = host.substr(0, close + 1);
  } else if (auto colon = host.find(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (host.empty()) return fmt::format("must name a host, got {}", shown(url));
  if (host_port.find('@') != std::string_view::npos) {
    return fmt::format("must not contain credentials (user@host): put the key in cloud.api_key");
  }
  if (plain && host != "localhost" && host != "127.0.0.1" && host != "[::1]") {
    return fmt::format("must use https:// (http:// is allowed only for localhost, 127.0.0.1 and [::1]), got {}",
                       shown(url));
  }
  return std::nullopt;
}

std::optional<std::string> check_server_id(std::string_view id) {
  if (id.size() > 253) return "must be at most 253 characters long";
  const bool ok = std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
           c == '_';
  });
  if (!ok) return fmt::format("may contain only letters, digits, '.', '-' and '_', got {}", shown(id));
  return std::nullopt;
}

bool is_host_name_char(char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.'; }

std::string render_seconds(std::chrono::seconds s) { return std::to_string(s.count()); }
std::string render_ms(std::chrono::milliseconds ms) { return std::to_string(ms.count()); }

}  // namespace

/// Quoted for messages: at most 80 bytes, control characters escaped.
std::string shown(std::string_view s) {
  constexpr std::size_t kMax = 80;
  std::string q = quote(s.substr(0, kMax));
  if (s.size() > kMax) q.insert(q.size() - 1, "...");
  return q;
}

// NOLINTNEXTLINE(readability-identifier-naming): a constant
const std::array<KeyDef, 36> kKeys = {{
    // [server]
    {"server", "listen", "SIAX_LISTEN", Type::String,
     "Address to listen on: an IP literal. 127.0.0.1 keeps the API local; 0.0.0.0 or :: exposes it (use TLS).",
     [](Config& c, const Value& v) -> std::optional<std::string> {
       if (!is_ip_literal(str(v))) {
         return fmt::format(
             "must be an IPv4 or IPv6 address such as 127.0.0.1, 0.0.0.0 or ::1 (no brackets, no "
             "host names), got {}",
             shown(str(v)));
       }
       c.server.listen_address = str(v);
       return std::nullopt;
     },
     [](const Config& c) { return quote(c.server.listen_address); }},
    {"server", "port", "SIAX_PORT", Type::Integer, "TCP port (1-65535; 0 lets the system pick a free port).",
     [](Config& c, const Value& v) -> std::optional<std::string> {
       if (auto p = check_range(num(v), 0, 65535)) return p;
       c.server.port = static_cast<std::uint16_t>(num(v));
       return std::nullopt;
     },
     [](const Config& c) { return std::to_string(c.server.port); }},
    {"server", "tls_cert", "SIAX_TLS_CERT", Type::String,
     "TLS certificate chain (PEM). Set together with tls_key to serve HTTPS; leave both unset for plain HTTP.",
     [](Config& c, const Value& v) { return set_optional_path(c.server.tls_cert_file, v); },
     [](const Config& c) { return quote(c.server.tls_cert_file.value_or("")); }, "\"/etc/siax-agent/tls/cert.pem\""},
    {"server", "tls_key", "SIAX_TLS_KEY", Type::String, "TLS private key (PEM), readable only by the agent.",
     [](Config& c, const Value& v) { return set_optional_path(c.server.tls_key_file, v); },
     [](const Config& c) { return quote(c.server.tls_key_file.value_or("")); }, "\"/etc/siax-agent/tls/key.pem\""},
    {"server", "allowed_hosts", "SIAX_ALLOWED_HOSTS", Type::String,
     "Host names the API answers to, comma-separated, besides IP literals, localhost and this host's name "
     "(against DNS rebinding: other Host headers get 421). Example: \"panel.example.com,siax.lan\".",
     [](Config& c, const Value& v) -> std::optional<std::string> {
       std::vector<std::string> names;
       std::string_view rest = str(v);
       while (!rest.empty()) {
         const auto comma = rest.find(',');
         std::string_view name = rest.substr(0, comma);
         rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
         name = trim(name, " ");
         if (name.empty()) continue;
         const bool ok = name.size() <= 253 && std::all_of(name.begin(), name.end(), is_host_name_char);
         if (!ok) {
           return fmt::format("must be host names (letters, digits, '-', '.') separated by commas, got {}",
                              shown(std::string(name)));
         }
         names.emplace_back(name);
       }
       c.server.allowed_hosts = std::move(names);
       return std::nullopt;
     },
     [](const Config& c) {
       std::string out;
       for (const auto& n : c.server.allowed_hosts) out += (out.empty() ? "" : ",") + n;
       return quote(out);
     }},
    {"server", "allow_plain_http_remote", "SIAX_ALLOW_PLAIN_HTTP_REMOTE", Type::Boolean,
     "Serve plain HTTP on a non-loopback listen address (tokens and passwords then cross the network in clear "
     "text). Off: 'serve' refuses such a listen address without tls_cert/tls_key.",
     [](Config& c, const Value& v) -> std::optional<std::string> {
       c.server.allow_plain_http_remote = std::get<bool>(v);
       return std::nullopt;
     },
     [](const Config& c) { return std::string(c.server.allow_plain_http_remote ? "true" : "false"); }},
    // [limits]
    {"limits", "max_body_bytes", "SIAX_MAX_BODY_BYTES", Type::Integer,
     "Largest accepted request body, in bytes (1024 to 1073741824).",
     [](Config& c, const Value& v) -> std::optional<std::string> {
       if (auto p = check_range(num(v), 1024, 1024LL * 1024 * 1024, " bytes")) return p;
       c.limits.max_body_bytes = static_cast<std::size_t>(num(v));
       return std::nullopt;
     },
     [](const Config& c) { return std::to_string(c.limits.max_body_bytes); }},
    {"limits", "max_connections", "SIAX_MAX_CONNECTIONS", Type::Integer,
     "Simultaneous client connections (HTTP and WebSocket); more are refused (1 to 100000).",
     [](Config& c, const Value& v) -> std::optional<std::string> {
       if (auto p = check_range(num(v), 1, 100'000)) return p;
       c.limits.max_connections = static_cast<std::size_t>(num(v));
       return std::nullopt;
     },
     [](const Config& c) { return std::to_string(c.limits.max_connections); }},
    {"limits", "max_connections_per_address", "SIAX_MAX_CONNECTIONS_PER_ADDRESS", Type::Integer,
     "Simultaneous connections from one client address (an IPv6 /64 counts as one), so that one client cannot "
     "take every slot (0: no per-address limit; at most 100000).",
     [](Config& c, const Value& v) -> std::optional<std::string> {
       if (auto p = check_range(num(v), 0, 100'000)) return p;
       c.limits.max_connections_per_address = static_cast<std::size_t>(num(v));
       return std::nullopt;
     },
     [](const Config& c) { return std::to_string(c.limits.max_connections_per_address); }},
    {"limits", "request_timeout_s", "SIAX_REQUEST_TIMEOUT_S", Type::Integer,
     "Seconds a client may take to send a request (1 to 3600).",
     [](Config& c, const Value& v) { return set_duration(c.limits.request_timeout, v, 1, 3600, " s"); },
     [](const Config& c) { return render_seconds(c.limits.request_timeout); }},
    {"limits", "log_viewers_per_app", "SIAX_LOG_VIEWERS_PER_APP", Type::Integer,
     "Simultaneous live-log viewers of one app; more are refused (1 to 10000).",
     [](Config& c, const Value& v) -> std::optional<std::string> {
       if (auto p = check_range(num(v), 1, 10'000)) return p;
       c.limits.log_viewers_per_app = static_cast<std::size_t>(num(v));
       return std::nullopt;
     },
     [](const Config& c) { return std::to_string(c.limits.log_viewers_per_app); }},
    {"limits", "log_viewers_total", "SIAX_LOG_VIEWERS_TOTAL", Type::Integer,
     "Simultaneous live-log viewers overall; more are refused (1 to 100000).",
     [](Config& c, const Value& v) -> std::optional<std::string> {
       if (auto p = check_range(num(v), 1, 100'000)) return p;
       c.limits.log_viewers_total = static_cast<std::size_t>(num(v));
       return std::nullopt;
     },
     [](const Config& c) { return std::to_string(c.limits.log_viewers_total); }},
    {"limits", "max_streams", "SIAX_MAX_STREAMS", Type::Integer,
     "Simultaneous live state streams (GET /api/stream); more are refused with 429 (1 to 10000).",
     [](Config& c, const Value& v) -> std::optional<std::string> {
       if (auto p = check_range(num(v), 1, 10'000)) return p;
       c.limits.max_streams = static_cast<std::size_t>(num(v));
       return std::nullopt;
     },
     [](const Config& c) { return std::to_string(c.limits.max_streams); }},
    // [paths]
    {"paths", "state_dir", "SIAX_STATE_DIR", Type::String,
     "Directory for the agent's state (the SQLite registry). Absolute path.",
     [](Config& c, const Value& v) { return set_path(c.paths.state_dir, v); },
     [](const Config& c) { return quote(c.paths.state_dir); }},
    {"paths", "unit_dir", "SIAX_UNIT_DIR", Type::String,
     "Directory where siax-app-*.service units are written. Absolute path.",
     [](Config& c, const Value& v) { return set_path(c.paths.unit_dir, v); },
     [](const Config& c) { return quote(c.paths.unit_dir); }},
    {"paths", "unit_helper_socket", "SIAX_UNIT_HELPER_SOCKET", Type::String,
     "The root unit helper's socket: unit files are written through it (user mode). Empty: no helper.",
     [](Config& c, const Value& v) -> std::optional<std::string> {
       if (str(v).empty()) {
         c.paths.unit_helper_socket.clear();
         return std::nullopt;
       }
       return set_path(c.paths.unit_helper_socket, v);
     },
     [](const Config& c) { return quote(c.paths.unit_helper_socket); }},
    // [apps]
    {"apps", "allow_root_apps", "SIAX_ALLOW_ROOT_APPS", Type::Boolean,
     "Allow apps to run as root. Off: an app must name an unprivileged user.",
     [](Config& c, const Value& v) -> std::optional<std::string> {
       c.apps.allow_root_apps = std::get<bool>(v);
       return std::nullopt;
     },
     [](const Config& c) { return std::string(c.apps.allow_root_apps ? "true" : "false"); }},
    {"apps", "rate_limit_interval_ms", "SIAX_RATE_LIMIT_INTERVAL_MS", Type::Integer,
     "At most one operation per app per this many milliseconds (0 disables the limit; at most 3600000).",
     [](Config& c, const Value& v) { return set_duration(c.apps.rate_limit_interval, v, 0, 3'600'000, " ms"); },
     [](const Config& c) { return render_ms(c.apps.rate_limit_interval); }},
    {"apps", "job_timeout_ms", "SIAX_JOB_TIMEOUT_MS", Type::Integer,
     "How long to wait for a systemd job (start, stop, restart), in milliseconds (1000 to 3600000).",
     [](Config& c, const Value& v) { return set_duration(c.apps.job_timeout, v, 1000, 3'600'000, " ms"); },
     [](const Config& c) { return render_ms(c.apps.job_timeout); }},
    {"apps", "start_settle_ms", "SIAX_START_SETTLE_MS", Type::Integer,
     "After a start, watch the app this long for an immediate crash before answering, in milliseconds (0 to 60000; "
     "0: answer as soon as systemd's job is done, after one status read).",
     [](Config& c, const Value& v) { return set_duration(c.apps.start_settle, v, 0, 60'000, " ms"); },
     [](const Config& c) { return render_ms(c.apps.start_settle); }},
    {"apps", "usage_interval_ms", "SIAX_USAGE_INTERVAL_MS", Type::Integer,
     "An app's CPU and memory figures change in the live state (API, stream) at most this often, in milliseconds "
     "(0 to 3600000; status changes are never held back).",
     [](Config& c, const Value& v) { return set_duration(c.apps.usage_interval, v, 0, 3'600'000, " ms"); },
     [](const Config& c) { return render_ms(c.apps.usage_interval); }},
    {"apps", "scan_interval_ms", "SIAX_SCAN_INTERVAL_MS", Type::Integer,
     "How often app status and resource usage are refreshed, in milliseconds (100 to 3600000).",
     [](Config& c, const Value& v) { return set_duration(c.apps.scan_interval, v, 100, 3'600'000, " ms"); },
     [](const Config& c) { return render_ms(c.apps.scan_interval); }},
    {"apps", "resync_interval_ms", "SIAX_RESYNC_INTERVAL_MS", Type::Integer,
     "The safety net behind systemd's signals: once per this interval systemd's app units are listed and those "
     "whose state moved unannounced are read again in full; unit files are checked for drift, spread over it; in "
     "milliseconds (1000 to 86400000).",
     [](Config& c, const Value& v) { return set_duration(c.apps.resync_interval, v, 1000, 86'400'000, " ms"); },
     [](const Config& c) { return render_ms(c.apps.resync_interval); }},
    // [runtimes]
    {"runtimes", "node", "SIAX_NODE", Type::String, "Node.js interpreter for node apps. Absolute path.",
     [](Config& c, const Value& v) { return set_path(c.runtimes.node, v); },
     [](const Config& c) { return quote(c.runtimes.node); }},
    {"runtimes", "npm", "SIAX_NPM", Type::String, "npm, for apps started with an npm script. Absolute path.",
     [](Config& c, const Value& v) { return set_path(c.runtimes.npm, v); },
     [](const Config& c) { return quote(c.runtimes.npm); }},
    {"runtimes", "python", "SIAX_PYTHON", Type::String,
     "Python interpreter for Python and uvicorn apps. Absolute path.",
     [](Config& c, const Value& v) { return set_path(c.runtimes.python, v); },
     [](const Config& c) { return quote(c.runtimes.python); }},
    // [log]
    {"log", "level", "SIAX_LOG_LEVEL", Type::String, "Log level: trace, debug, info, warn, error, critical or off.",
     [](Config& c, const Value& v) -> std::optional<std::string> {
       auto level = parse_log_level(str(v));
       if (!level) {
         return fmt::format("must be one of trace, debug, info, warn, error, critical, off; got {}", shown(str(v)));
       }
       c.log.level = *level;
       return std::nullopt;
     },
     [](const Config& c) { return quote(to_string(c.log.level)); }},
    // [cloud]
    {"cloud", "base_url", "SIAX_CLOUD_URL", Type::String, "The SIAX cloud API (https://).",
     [](Config& c, const Value& v) -> std::optional<std::string> {
       if (auto p = check_base_url(str(v))) return p;
       std::string url = str(v);
       while (url.ends_with('/')) url.pop_back();
       c.cloud.base_url = std::move(url);
       return std::nullopt;
     },
     [](const Config& c) { return quote(c.cloud.base_url); }},
    {"cloud", "api_key", "SIAX_CLOUD_API_KEY", Type::String,
     "API key for the cloud link; empty turns the link off. Prefer the environment variable to the file.",
     [](Config& c, const Value& v) -> std::optional<std::string> {
       const auto& key = str(v);
       if (key.size() > 1024) return "must be at most 1024 characters long";
       if (has_control(key) || key.find(' ') != std::string::npos) {
         return "must not contain spaces or control characters (check for a stray newline)";
       }
       c.cloud.api_key = key;
       return std::nullopt;
     },
     [](const Config& c) { return quote(c.cloud.api_key); }},
    {"cloud", "server_id", "SIAX_SERVER_ID", Type::String,
     "How this server is named in the cloud; empty uses the host name.",
     [](Config& c, const Value& v) -> std::optional<std::string> {
       if (auto p = check_server_id(str(v))) return p;
       c.cloud.server_id = str(v);
       return std::nullopt;
     },
     [](const Config& c) { return quote(c.cloud.server_id); }},
    {"cloud", "heartbeat_interval_s", "SIAX_HEARTBEAT_INTERVAL_S", Type::Integer,
     "Seconds between heartbeats to the cloud (5 to 86400).",
     [](Config& c, const Value& v) { return set_duration(c.cloud.heartbeat_interval, v, 5, 86'400, " s"); },
     [](const Config& c) { return render_seconds(c.cloud.heartbeat_interval); }},
    // [webhook] (docs/API.md, "Webhook"); the agent reads the file and parses the rules at start-up.
    {"webhook", "secret_file", "SIAX_WEBHOOK_SECRET_FILE", Type::String,
     "File holding the webhook's shared secret (mode 0600, owned by the agent's user); unset: the webhook is off.",
     [](Config& c, const Value& v) { return set_optional_path(c.webhook.secret_file, v); },
     [](const Config& c) { return quote(c.webhook.secret_file.value_or("")); }, "\"/etc/siax-agent/webhook.secret\""},
    {"webhook", "secret", "SIAX_WEBHOOK_SECRET", Type::String,
     "The webhook's secret inline, instead of secret_file (weaker: it sits in this file or the environment).",
     [](Config& c, const Value& v) -> std::optional<std::string> {
       const auto& secret = str(v);  // never shown in a message
       if (!secret.empty() && (secret.size() < 16 || secret.size() > 4096)) {
         return "must be 16 to 4096 characters long (make one with 'openssl rand -hex 32')";
       }
       if (has_control(secret)) return "must not contain control characters (check for a stray newline)";
       c.webhook.secret = secret;
       return std::nullopt;
     },
     [](const Config&) { return std::string("\"\""); }, "\"\"  # make one with: openssl rand -hex 32"},
    {"webhook", "max_age_s", "SIAX_WEBHOOK_MAX_AGE_S", Type::Integer,
     "Oldest signed timestamp accepted, in seconds, and how long signatures are kept against replays (10 to 3600).",
     [](Config& c, const Value& v) { return set_duration(c.webhook.max_age, v, 10, 3600, " s"); },
     [](const Config& c) { return render_seconds(c.webhook.max_age); }},
    {"webhook", "allow", "SIAX_WEBHOOK_ALLOW", Type::String,
     "What the webhook may do: APP:ACTION rules (ACTION start, stop, restart or *; APP a name or *), comma-separated.",
     [](Config& c, const Value& v) -> std::optional<std::string> {
       if (str(v).size() > 4096) return "must be at most 4096 bytes long";
       const bool bad = std::any_of(str(v).begin(), str(v).end(), [](char ch) {
         return ch != '\t' && ch != '\n' && ch != '\r' && has_control(std::string_view(&ch, 1));
       });
       if (bad) return fmt::format("must not contain control characters, got {}", shown(str(v)));
       c.webhook.allow = str(v);
       return std::nullopt;
     },
     [](const Config& c) { return quote(c.webhook.allow); }, "\"orders:restart, api:*\""},
    {"webhook", "allow_body_secret", "SIAX_WEBHOOK_ALLOW_BODY_SECRET", Type::Boolean,
     "Also accept the old unsigned form with \"secret\" in the JSON body (weaker: no signature, the secret travels).",
     [](Config& c, const Value& v) -> std::optional<std::string> {
       c.webhook.allow_body_secret = std::get<bool>(v);
       return std::nullopt;
     },
     [](const Config& c) { return std::string(c.webhook.allow_body_secret ? "true" : "false"); }},
}};

}  // namespace siax::config::detail
