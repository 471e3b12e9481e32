#include "monitor/health_json.h"

#include <array>
#include <charconv>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace siax::monitor {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 9> kFields = {
    "port", "path", "expected_status", "interval_ms", "timeout_ms", "failures_before_unhealthy",
    "restart_when_unhealthy", "host", "url"};
constexpr std::int64_t kMinIntervalMs = 1'000;
constexpr std::int64_t kMaxIntervalMs = 3'600'000;
constexpr std::size_t kMaxPath = 1024;

tl::unexpected<Error> invalid(const std::string& field, const std::string& message) {
  return fail(ErrorKind::InvalidInput, "invalid_health_check", fmt::format("health_check.{}: {}", field, message),
              {{"field", field}});
}

/// An integer field within [lo, hi].
Result<std::int64_t> integer(const json& body, const std::string& field, std::int64_t lo, std::int64_t hi,
                             const std::string& meaning) {
  const json& v = body.at(field);
  if (!v.is_number_integer()) {
    return invalid(field, fmt::format("must be an integer ({}), got {}", meaning, v.dump()));
  }
  const auto n = v.get<std::int64_t>();
  if (n < lo || n > hi) return invalid(field, fmt::format("must be between {} and {} ({}), got {}", lo, hi, meaning, n));
  return n;
}

bool valid_path(const std::string& path) {
  if (path.empty() || path.front() != '/' || path.size() > kMaxPath) return false;
  for (char c : path) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '#') return false;  // spaces, CR, LF, controls; a fragment is never sent
  }
  return true;
}

Result<std::uint16_t> parse_port(std::string_view text, const std::string& field) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535) {
    return invalid(field, fmt::format("'{}' is not a port (1..65535)", text));
  }
  return static_cast<std::uint16_t>(value);
}

/// "http://host[:port][/path]" into the check.
Status apply_url(const std::string& url, core::HealthCheck& check) {
  constexpr std::string_view kScheme = "http://";
  if (url.rfind(kScheme, 0) != 0) {
    return invalid("url", fmt::format("'{}' must start with http:// (https is not supported for local checks)", url));
  }
  std::string_view rest = std::string_view(url).substr(kScheme.size());
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  check.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return invalid("url", fmt::format("'{}' has an unclosed '['", url));
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return invalid("url", fmt::format("'{}': expected ':' after ']'", url));
      port = after.substr(1);
    }
  } else if (const auto colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  check.host = std::string(host);
  if (!port.empty()) {
    auto p = parse_port(port, "url");
    if (!p) return tl::unexpected(p.error());
    check.port = *p;
  }
  return ok();
}

}  // namespace

bool is_loopback_host(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  if (host.rfind("127.", 0) != 0) return false;
  // A dotted quad: four decimal numbers 0..255.
  int parts = 0;
  std::string_view rest(host);
  while (true) {
    const auto dot = rest.find('.');
    std::string_view part = rest.substr(0, dot);
    unsigned n = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), n);
    if (part.empty() || part.size() > 3 || ec != std::errc() || end != part.data() + part.size() || n > 255) return false;
    ++parts;
    if (dot == std::string_view::npos) break;
    rest = rest.substr(dot + 1);
  }
  return parts == 4;
}

namespace {

Status check_known_fields(const json& body) {
  for (const auto& [key, value] : body.items()) {
    bool known = false;
    for (auto f : kFields) known = known || key == f;
    if (!known) {
      return fail(ErrorKind::InvalidInput, "unknown_field",
                  fmt::format("health_check: unknown field '{}'; allowed: port, path, expected_status, interval_ms, "
                              "timeout_ms, failures_before_unhealthy, restart_when_unhealthy, host, url",
                              key),
                  {{"field", key}});
    }
  }
  return ok();
}

/// A string field, when present, into `target`; `hint` says what it must be.
Status read_string(const json& body, const char* field, const char* hint, std::string& target) {
  if (!body.contains(field)) return ok();
  if (!body[field].is_string()) return invalid(field, hint);
  target = body[field].get<std::string>();
  return ok();
}

/// An integer field within [lo, hi], when present, handed to `set`.
template <typename Set>
Status read_integer(const json& body, const char* field, std::int64_t lo, std::int64_t hi, const char* meaning,
                    Set set) {
  if (!body.contains(field)) return ok();
  auto v = integer(body, field, lo, hi, meaning);
  if (!v) return tl::unexpected(v.error());
  set(*v);
  return ok();
}

/// Where the check goes: url, or host, port and path; a loopback host and a plain path.
Status read_target(const json& body, core::HealthCheck& check) {
  if (body.contains("url")) {
    for (const char* f : {"host", "port", "path"}) {
      if (body.contains(f)) return invalid("url", fmt::format("give either url or host/port/path, not both ('{}')", f));
    }
    if (!body["url"].is_string()) return invalid("url", "must be a string like \"http://127.0.0.1:3000/health\"");
    if (auto st = apply_url(body["url"].get<std::string>(), check); !st) return st;
  }
  if (auto st = read_string(body, "host", "must be a string (127.0.0.1, ::1 or localhost)", check.host); !st) return st;
  if (!is_loopback_host(check.host)) {
    return invalid(body.contains("url") ? "url" : "host",
                   fmt::format("'{}' is not a loopback address: health checks only reach this host (127.0.0.1, ::1 "
                               "or localhost)",
                               check.host));
  }
  auto st = read_integer(body, "port", 0, 65535, "0 = the app's port",
                         [&](std::int64_t v) { check.port = static_cast<std::uint16_t>(v); });
  if (!st) return st;
  st = read_string(body, "path", "must be a string starting with '/', like \"/health\"", check.path);
  if (!st) return st;
  if (!valid_path(check.path)) {
    return invalid(body.contains("url") ? "url" : "path",
                   fmt::format("path '{}' must start with '/' and hold no spaces, control characters (CR, LF) or '#' "
                               "(at most {} characters)",
                               check.path, kMaxPath));
  }
  return ok();
}

/// What counts as healthy and how often: status, interval, timeout, failures, restart.
Status read_policy(const json& body, core::HealthCheck& check) {
  auto st = read_integer(body, "expected_status", 100, 599, "an HTTP status",
                         [&](std::int64_t v) { check.expected_status = static_cast<unsigned>(v); });
  if (st) {
    st = read_integer(body, "interval_ms", kMinIntervalMs, kMaxIntervalMs, "1 s to 1 h",
                      [&](std::int64_t v) { check.interval = std::chrono::milliseconds(v); });
  }
  if (st) {
    st = read_integer(body, "timeout_ms", 1, kMaxIntervalMs, "milliseconds, less than interval_ms",
                      [&](std::int64_t v) { check.timeout = std::chrono::milliseconds(v); });
  }
  if (!st) return st;
  if (check.timeout >= check.interval) {
    return invalid("timeout_ms", fmt::format("{} ms must be less than interval_ms ({} ms)", check.timeout.count(),
                                             check.interval.count()));
  }
  st = read_integer(body, "failures_before_unhealthy", 1, 100, "consecutive failed checks",
                    [&](std::int64_t v) { check.failures_before_unhealthy = static_cast<std::uint32_t>(v); });
  if (!st) return st;
  if (body.contains("restart_when_unhealthy")) {
    if (!body["restart_when_unhealthy"].is_boolean()) return invalid("restart_when_unhealthy", "must be true or false");
    check.restart_when_unhealthy = body["restart_when_unhealthy"].get<bool>();
  }
  return ok();
}

}  // namespace

Result<core::HealthCheck> parse_health_check(const json& body) {
  if (!body.is_object()) {
    return fail(ErrorKind::InvalidInput, "invalid_health_check",
                fmt::format("health_check must be an object like {{\"port\": 3000, \"path\": \"/health\"}}, got {}",
                            body.type_name()),
                {{"field", "health_check"}});
  }
  if (auto st = check_known_fields(body); !st) return tl::unexpected(st.error());
  core::HealthCheck check;
  for (auto read : {read_target, read_policy}) {
    if (auto st = read(body, check); !st) return tl::unexpected(st.error());
  }
  return check;
}

json to_json(const core::HealthCheck& check) {
  return json{{"host", check.host},
              {"port", check.port},
              {"path", check.path},
              {"expected_status", check.expected_status},
              {"interval_ms", check.interval.count()},
              {"timeout_ms", check.timeout.count()},
              {"failures_before_unhealthy", check.failures_before_unhealthy},
              {"restart_when_unhealthy", check.restart_when_unhealthy}};
}

}  // namespace siax::monitor
