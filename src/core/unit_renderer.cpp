#include "core/unit_renderer.h"

#include <fmt/format.h>

#include "core/validation.h"

namespace siax::core {
namespace {

void append_c_escaped(std::string& out, char c) {
  switch (c) {
    case '\\': out += "\\\\"; break;
    case '"': out += "\\\""; break;
    case '\t': out += "\\t"; break;
    case '%': out += "%%"; break;
    default: out += c; break;
  }
}

}  // namespace

std::string quote_exec_word(std::string_view word) {
  std::string out = "\"";
  for (char c : word) {
    if (c == '$') {
      out += "$$";
    } else {
      append_c_escaped(out, c);
    }
  }
  out += '"';
  return out;
}

std::string quote_environment(std::string_view name, std::string_view value) {
  std::string out = "\"";
  out += name;
  out += '=';
  for (char c : value) append_c_escaped(out, c);
  out += '"';
  return out;
}

std::string escape_specifiers(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '%') {
      out += "%%";
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<std::string> exec_command(const AppDefinition& def, const Interpreters& interpreters) {
  std::vector<std::string> cmd;
  switch (def.runtime) {
    case Runtime::NodeScript: cmd = {interpreters.node, def.script_path}; break;
    case Runtime::NpmStart: cmd = {interpreters.npm, "start"}; break;
    case Runtime::PythonScript: cmd = {interpreters.python, def.script_path}; break;
    case Runtime::Uvicorn:
      cmd = {interpreters.python, "-m", "uvicorn", def.module, "--host", def.host, "--port", std::to_string(def.port)};
      break;
    case Runtime::Custom: cmd = {def.script_path}; break;
  }
  if (def.runtime == Runtime::NpmStart && !def.args.empty()) cmd.emplace_back("--");
  cmd.insert(cmd.end(), def.args.begin(), def.args.end());
  return cmd;
}

std::string quote_environment_file_value(std::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '\\' || c == '"' || c == '`' || c == '$') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

Result<std::string> render_environment_file(const AppDefinition& def) {
  if (auto s = validate_secret_environment(def); !s) return tl::unexpected(s.error());
  if (!def.secret_values) {
    return fail(ErrorKind::InvalidInput, "invalid_secret_environment", "no secret values to write");
  }
  std::string out = "# Written by siax-agent from the app's secret_environment; edits here are overwritten.\n";
  for (const auto& [name, value] : *def.secret_values) {
    out += name;
    out += '=';
    out += quote_environment_file_value(value);
    out += '\n';
    if (out.size() > kMaxEnvironmentFileBytes) {
      return fail(ErrorKind::InvalidInput, "secret_environment_too_large",
                  fmt::format("the secret environment of '{}' is over {} bytes: use fewer or shorter values", def.name,
                              kMaxEnvironmentFileBytes));
    }
  }
  return out;
}

Result<std::string> render_unit(const AppDefinition& def, const Interpreters& interpreters,
                                std::string_view environment_file) {
  if (auto s = validate_definition(def); !s) return tl::unexpected(s.error());
  if (!def.secret_names.empty()) {
    if (environment_file.empty()) {
      return fail(ErrorKind::InvalidInput, "secret_environment_unsupported",
                  "this app has a secret_environment but the agent has no place for secret files here");
    }
    if (auto s = validate_environment_file_path(environment_file); !s) return tl::unexpected(s.error());
  }
  for (const auto* path : {&interpreters.node, &interpreters.npm, &interpreters.python}) {
    if (auto s = validate_absolute_path("interpreter", *path); !s) return tl::unexpected(s.error());
  }
  // A raw value ending in a backslash would continue onto the next line of the file.
  if (!def.description.empty() && def.description.back() == '\\') {
    return fail(ErrorKind::InvalidInput, "invalid_value", "description must not end with a backslash");
  }

  const std::string unit = unit_name_for(def.name);
  std::string description = def.description.empty() ? fmt::format("siax app {}", def.name) : def.description;

  std::string out;
  out.reserve(1024);
  out += "# Rendered from the app's definition; edits here are overwritten (use the agent's API or CLI).\n";
  out += "[Unit]\n";
  out += fmt::format("Description={}\n", escape_specifiers(description));
  out += "After=network.target\n";
  out += "\n[Service]\n";
  // exec: the start job fails when the executable cannot be run at all.
  out += "Type=exec\n";
  out += fmt::format("User={}\n", def.user);
  out += fmt::format("WorkingDirectory={}\n", escape_specifiers(def.working_directory));
  for (const auto& [name, value] : def.environment) {
    out += fmt::format("Environment={}\n", quote_environment(name, value));
  }
  // The secrets' values are in a 0600 root file, not here: a unit is readable by every local user.
  if (!def.secret_names.empty()) out += fmt::format("EnvironmentFile={}\n", escape_specifiers(environment_file));
  std::string exec;
  for (const auto& word : exec_command(def, interpreters)) {
    if (!exec.empty()) exec += ' ';
    exec += quote_exec_word(word);
  }
  out += fmt::format("ExecStart={}\n", exec);
  out += fmt::format("Restart={}\n", to_string(def.restart_policy));
  out += fmt::format("RestartSec={}\n", def.restart_sec);
  out += fmt::format("SyslogIdentifier={}\n", unit.substr(0, unit.size() - kUnitSuffix.size()));
  out += "SyslogLevelPrefix=yes\n";
  out += "CPUAccounting=yes\n";
  out += "MemoryAccounting=yes\n";
  if (def.memory_max_bytes) out += fmt::format("MemoryMax={}\n", *def.memory_max_bytes);
  if (def.cpu_quota_percent) out += fmt::format("CPUQuota={}%\n", *def.cpu_quota_percent);
  // Every process of the app gets SIGTERM, and SIGKILL after 15 s: a stop leaves nothing behind.
  out += "KillMode=control-group\n";
  out += "TimeoutStopSec=15\n";
  out += "NoNewPrivileges=yes\n";
  out += "\n[Install]\n";
  out += "WantedBy=multi-user.target\n";
  auto text = fmt::format("{}\n# siax-checksum: fnv1a64:{:016x}\n{}", kManagedMarker, fnv1a64(out), out);
  // Refused here, at write, rather than written and then unreadable by the store.
  if (text.size() > kMaxRenderedUnitBytes) {
    return fail(ErrorKind::InvalidInput, "unit_too_large",
                fmt::format("the unit would be {} bytes, over the {} the agent reads back: use fewer or shorter "
                            "environment variables and arguments",
                            text.size(), kMaxRenderedUnitBytes));
  }
  return text;
}

std::uint64_t fnv1a64(std::string_view data) noexcept {
  std::uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

UnitFileState classify_unit_file(std::string_view on_disk, std::string_view rendered) {
  if (on_disk == rendered) return UnitFileState::Current;
  if (!on_disk.starts_with(kManagedMarker)) return UnitFileState::Foreign;
  // line 2: "# siax-checksum: fnv1a64:<hex>", then the body it covers
  auto first_nl = on_disk.find('\n');
  if (first_nl == std::string_view::npos) return UnitFileState::Edited;
  auto second_nl = on_disk.find('\n', first_nl + 1);
  if (second_nl == std::string_view::npos) return UnitFileState::Edited;
  auto line = on_disk.substr(first_nl + 1, second_nl - first_nl - 1);
  constexpr std::string_view kPrefix = "# siax-checksum: fnv1a64:";
  if (!line.starts_with(kPrefix)) return UnitFileState::Edited;
  auto body = on_disk.substr(second_nl + 1);
  return line.substr(kPrefix.size()) == fmt::format("{:016x}", fnv1a64(body)) ? UnitFileState::Stale
                                                                                : UnitFileState::Edited;
}

const char* to_string(UnitFileState state) noexcept {
  switch (state) {
    case UnitFileState::Current: return "current";
    case UnitFileState::Stale: return "stale";
    case UnitFileState::Edited: return "edited";
    case UnitFileState::Foreign: return "foreign";
  }
  return "foreign";
}

const char* unit_file_state_name(const std::optional<std::string>& on_disk, std::string_view rendered) {
  return on_disk ? to_string(classify_unit_file(*on_disk, rendered)) : "missing";
}

}  // namespace siax::core
