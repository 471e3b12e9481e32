#include "appdef/app_json.h"

#include "monitor/health_json.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/validation.h"

namespace siax::appdef {
namespace {

using nlohmann::json;

auto invalid(std::string code, std::string message) {
  return fail(ErrorKind::InvalidInput, std::move(code), std::move(message));
}

const std::set<std::string>& known_fields() {
  static const std::set<std::string> fields = {
      "app_name", "name", "script_path", "working_directory", "user", "environment", "restart_policy", "app_type",
      "runtime", "description", "custom_executable", "use_npm_start", "module", "host", "port", "args",
      "restart_sec", "memory_max", "cpu_quota", "health_check", "secret_environment"};
  return fields;
}

Result<std::string> get_string(const json& body, const char* key, bool required) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) {
    if (required) return invalid("missing_field", fmt::format("'{}' is required", key));
    return std::string();
  }
  if (!it->is_string()) return invalid("invalid_field", fmt::format("'{}' must be a string", key));
  return it->get<std::string>();
}

/// A non-negative integer no larger than `max`, whether JSON stored it signed or not.
std::optional<std::uint64_t> as_uint(const json& v, std::uint64_t max) {
  if (v.is_number_unsigned()) {
    auto x = v.get<std::uint64_t>();
    return x <= max ? std::optional(x) : std::nullopt;
  }
  if (v.is_number_integer()) {
    auto x = v.get<std::int64_t>();
    return x >= 0 && static_cast<std::uint64_t>(x) <= max ? std::optional(static_cast<std::uint64_t>(x)) : std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

Result<std::uint64_t> parse_size(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data()) {
    return invalid("invalid_memory_max", fmt::format("'{}' is not a size: use bytes or a suffix K, M, G (e.g. 512M)", text));
  }
  std::string_view suffix(end, static_cast<std::size_t>(text.data() + text.size() - end));
  std::uint64_t mult = 1;
  if (suffix == "K" || suffix == "k") mult = 1024ULL;
  else if (suffix == "M" || suffix == "m") mult = 1024ULL * 1024;
  else if (suffix == "G" || suffix == "g") mult = 1024ULL * 1024 * 1024;
  else if (!suffix.empty()) {
    return invalid("invalid_memory_max", fmt::format("'{}' is not a size: use bytes or a suffix K, M, G (e.g. 512M)", text));
  }
  if (value > UINT64_MAX / mult) return invalid("invalid_memory_max", fmt::format("'{}' is too large", text));
  return value * mult;
}

namespace {

/// The member `key` of `body`, or nullptr when it is absent or null.
const json* field(const json& body, const char* key) {
  auto it = body.find(key);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

/// An object of name: value, the values strings (numbers and booleans as their JSON text).
Result<std::map<std::string, std::string>> string_map(const json& v, const char* key, const char* code,
                                                      const char* what) {
  if (!v.is_object()) return invalid(code, fmt::format("'{}' must be an object of name: value strings", key));
  std::map<std::string, std::string> values;
  for (const auto& [k, x] : v.items()) {
    if (x.is_string()) {
      values[k] = x.get<std::string>();
    } else if (x.is_number() || x.is_boolean()) {
      values[k] = x.dump();
    } else {
      return invalid(code, fmt::format("{} '{}' must be a string", what, k));
    }
  }
  return values;
}

/// The name, the paths, the user, the description, the module and the host.
Status read_identity(const json& body, core::AppDefinition& def) {
  auto name = get_string(body, body.contains("app_name") ? "app_name" : "name", true);
  if (!name) return tl::unexpected(name.error());
  def.name = *name;
  for (auto [key, target] : {std::pair{"script_path", &def.script_path}, {"working_directory", &def.working_directory},
                             {"user", &def.user}, {"description", &def.description}, {"module", &def.module}}) {
    auto v = get_string(body, key, false);
    if (!v) return tl::unexpected(v.error());
    *target = *v;
  }
  if (def.user.empty()) return invalid("missing_field", "'user' is required: the Unix user the app runs as");
  if (def.working_directory.empty()) {
    return invalid("missing_field", "'working_directory' is required: the app's directory (absolute path)");
  }
  auto host = get_string(body, "host", false);
  if (!host) return tl::unexpected(host.error());
  if (!host->empty()) def.host = *host;
  return ok();
}

/// Runtime: explicit "runtime", else the previous agent's app_type and flags.
Status read_runtime(const json& body, core::AppDefinition& def) {
  auto runtime = get_string(body, "runtime", false);
  auto app_type = get_string(body, "app_type", false);
  if (!runtime) return tl::unexpected(runtime.error());
  if (!app_type) return tl::unexpected(app_type.error());
  std::string kind = !runtime->empty() ? *runtime : *app_type;
  if (kind.empty()) kind = def.module.empty() ? "nodejs" : "uvicorn";
  if (kind == "python" && !def.module.empty()) kind = "uvicorn";
  auto rt = core::runtime_from_string(kind);
  if (!rt) {
    return invalid("invalid_runtime", fmt::format("runtime '{}' is not one of node, npm, python, uvicorn, custom "
                                                  "(app_type: nodejs, python, fastapi)",
                                                  kind));
  }
  def.runtime = *rt;
  if (const json* v = field(body, "use_npm_start")) {
    if (!v->is_boolean()) return invalid("invalid_field", "'use_npm_start' must be true or false");
    if (v->get<bool>()) def.runtime = core::Runtime::NpmStart;
  }
  if (const json* v = field(body, "custom_executable")) {
    if (v->is_string()) {
      def.runtime = core::Runtime::Custom;
      def.script_path = v->get<std::string>();
    } else if (v->is_boolean()) {
      if (v->get<bool>()) def.runtime = core::Runtime::Custom;
    } else {
      return invalid("invalid_field", "'custom_executable' must be a path or true/false");
    }
  }
  return ok();
}

/// The port, the arguments, the environment and the secret environment.
Status read_process(const json& body, core::AppDefinition& def) {
  if (const json* v = field(body, "port")) {
    auto port = as_uint(*v, 65535);
    if (!port || *port == 0) return invalid("invalid_port", "'port' must be a number between 1 and 65535");
    def.port = static_cast<std::uint16_t>(*port);
  }
  if (const json* v = field(body, "args")) {
    if (!v->is_array()) return invalid("invalid_field", "'args' must be an array of strings");
    for (const auto& a : *v) {
      if (!a.is_string()) return invalid("invalid_field", "'args' must be an array of strings");
      def.args.push_back(a.get<std::string>());
    }
  }
  if (const json* v = field(body, "environment")) {
    auto values = string_map(*v, "environment", "invalid_environment", "environment variable");
    if (!values) return tl::unexpected(values.error());
    def.environment = std::move(*values);
  }
  if (const json* v = field(body, "secret_environment")) {
    auto values = string_map(*v, "secret_environment", "invalid_secret_environment", "secret environment variable");
    if (!values) return tl::unexpected(values.error());
    for (const auto& [k, value] : *values) def.secret_names.push_back(k);  // sorted: a std::map's keys
    def.secret_values = std::move(*values);
  }
  return ok();
}

/// The restart policy and delay, the memory and CPU limits.
Status read_limits(const json& body, core::AppDefinition& def) {
  auto policy = get_string(body, "restart_policy", false);
  if (!policy) return tl::unexpected(policy.error());
  if (!policy->empty()) {
    auto p = core::restart_policy_from_string(*policy);
    if (!p) {
      return invalid("invalid_restart_policy",
                     fmt::format("restart_policy '{}' is not one of no, always, on-failure, on-abnormal, on-abort, "
                                 "on-success",
                                 *policy));
    }
    def.restart_policy = *p;
  }
  if (const json* v = field(body, "restart_sec")) {
    auto sec = as_uint(*v, 3600);
    if (!sec) return invalid("invalid_restart_sec", "'restart_sec' must be a number of seconds between 0 and 3600");
    def.restart_sec = static_cast<std::uint32_t>(*sec);
  }
  if (const json* v = field(body, "memory_max")) {
    if (auto bytes = as_uint(*v, UINT64_MAX)) {
      def.memory_max_bytes = *bytes;
    } else if (v->is_string()) {
      auto size = parse_size(v->get<std::string>());
      if (!size) return tl::unexpected(size.error());
      def.memory_max_bytes = *size;
    } else {
      return invalid("invalid_memory_max", "'memory_max' must be bytes or a string such as \"512M\"");
    }
  }
  if (const json* v = field(body, "cpu_quota")) {
    auto quota = as_uint(*v, 10000);
    if (!quota || *quota == 0) {
      return invalid("invalid_cpu_quota", "'cpu_quota' must be a percentage between 1 and 10000 (100 = one core)");
    }
    def.cpu_quota_percent = static_cast<std::uint32_t>(*quota);
  }
  return ok();
}

Status read_health_check(const json& body, core::AppDefinition& def) {
  const json* v = field(body, "health_check");
  if (!v) return ok();
  auto check = monitor::parse_health_check(*v);
  if (!check) return tl::unexpected(check.error());
  if (check->port == 0 && def.port == 0) {
    return invalid("invalid_health_check", "'health_check' needs a port: set health_check.port, or the app's 'port'");
  }
  def.health_check = *check;
  return ok();
}

}  // namespace

Result<core::AppDefinition> definition_from_json(const json& body) {
  if (!body.is_object()) return invalid("invalid_body", "the body must be a JSON object describing the app");
  for (const auto& [key, value] : body.items()) {
    if (!known_fields().contains(key)) {
      return invalid("unknown_field", fmt::format("unknown field '{}': see docs/API.md for the register body", key));
    }
  }
  core::AppDefinition def;
  // In this order: the runtime depends on the module, the health check on the port.
  for (auto read : {read_identity, read_runtime, read_process, read_limits, read_health_check}) {
    if (auto s = read(body, def); !s) return tl::unexpected(s.error());
  }
  return def;
}

json definition_to_json(const core::AppDefinition& def) {
  json j = {{"app_name", def.name},
            {"runtime", core::to_string(def.runtime)},
            {"script_path", def.script_path},
            {"working_directory", def.working_directory},
            {"user", def.user},
            {"environment", def.environment},
            {"restart_policy", core::to_string(def.restart_policy)},
            {"restart_sec", def.restart_sec},
            {"description", def.description},
            {"args", def.args}};
  if (def.runtime == core::Runtime::Uvicorn) {
    j["module"] = def.module;
    j["host"] = def.host;
  }
  if (def.port != 0) j["port"] = def.port;
  if (def.memory_max_bytes) j["memory_max"] = *def.memory_max_bytes;
  if (def.cpu_quota_percent) j["cpu_quota"] = *def.cpu_quota_percent;
  if (def.health_check) j["health_check"] = monitor::to_json(*def.health_check);
  // Names only: the values are never returned, to anyone (they live in a root-only file).
  if (!def.secret_names.empty()) {
    json secrets = json::object();
    for (const auto& name : def.secret_names) secrets[name] = std::string(core::kSecretMask);
    j["secret_environment"] = std::move(secrets);
  }
  return j;
}

json status_to_json(const core::UnitStatus& st) {
  json j = {{"unit", st.unit},
            {"status", core::to_string(st.phase())},
            {"load_state", st.load_state},
            {"active_state", st.active_state},
            {"sub_state", st.sub_state},
            {"systemd_status", fmt::format("{} ({})", st.active_state, st.sub_state)},
            {"result", st.result},
            {"unit_file_state", st.unit_file_state},
            {"control_group", st.control_group},
            {"pid", st.main_pid == 0 ? json(nullptr) : json(st.main_pid)},
            {"exit_code", core::to_string(st.exec_main_code)},
            {"exit_status", st.exec_main_status},
            {"restart_count", st.restart_count},
            {"since_usec", st.state_change_usec}};
  j["memory_usage"] = st.memory_current_bytes ? json(*st.memory_current_bytes) : json(nullptr);
  j["cpu_usage_nsec"] = st.cpu_usage_nsec ? json(*st.cpu_usage_nsec) : json(nullptr);
  if (st.phase() == core::UnitPhase::Failed) j["failure"] = st.failure_summary();
  return j;
}

}  // namespace siax::appdef
