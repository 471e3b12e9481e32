#include "core/validation.h"

#include <cstdint>

#include <fmt/format.h>

namespace siax::core {
namespace {

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

auto invalid(std::string code, std::string message) {
  return fail(ErrorKind::InvalidInput, std::move(code), std::move(message));
}

/// Shows a value in a message without letting control characters through.
std::string printable(std::string_view text) {
  std::string out;
  for (unsigned char c : text.substr(0, 80)) {
    if (is_control(c)) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > 80) out += "...";
  return out;
}

bool is_python_identifier(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s) {
    if (!is_alnum(c) && c != '_') return false;
  }
  return true;
}

bool is_dotted_identifier(std::string_view s) {
  while (true) {
    auto dot = s.find('.');
    if (!is_python_identifier(s.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    s.remove_prefix(dot + 1);
  }
}

/// Why `value` cannot be written to a systemd environment file, or nullptr: invalid
/// UTF-8, a control character other than tab, U+FEFF or a Unicode noncharacter.
const char* secret_value_problem(std::string_view value) {
  std::size_t i = 0;
  while (i < value.size()) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c < 0x80) {
      if (is_control(c) && c != '\t') return "a control character (a newline?)";
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return "invalid UTF-8";
    }
    if (i + len > value.size()) return "invalid UTF-8";
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(value[i + k]);
      if ((cc & 0xC0) != 0x80) return "invalid UTF-8";
      cp = (cp << 6) | (cc & 0x3F);
    }
    const bool overlong = (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
    if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return "invalid UTF-8";
    if (cp >= 0x80 && cp <= 0x9F) return "a control character";
    if (cp == 0xFEFF) return "a byte order mark (U+FEFF)";
    if ((cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE) return "a Unicode noncharacter";
    i += len;
  }
  return nullptr;
}

}  // namespace

Status validate_app_name(std::string_view name) {
  const auto rule = "use 1-64 characters from a-z, A-Z, 0-9, '_' and '-', starting with a letter or digit";
  if (name.empty()) return invalid("invalid_app_name", fmt::format("the app name is empty: {}", rule));
  if (name.size() > 64) {
    return invalid("invalid_app_name", fmt::format("the app name is {} characters long: {}", name.size(), rule));
  }
  if (!is_alnum(name[0])) {
    return invalid("invalid_app_name", fmt::format("the app name '{}' must start with a letter or digit: {}",
                                                   printable(name), rule));
  }
  for (char c : name) {
    if (!is_alnum(c) && c != '_' && c != '-') {
      return invalid("invalid_app_name", fmt::format("the app name '{}' contains '{}', which is not allowed: {}",
                                                     printable(name), printable(std::string_view(&c, 1)), rule));
    }
  }
  return ok();
}

Status validate_user_name(std::string_view name) {
  const auto rule = "a Unix user name starts with a-z or '_' and has at most 32 characters from a-z, 0-9, '_', '-'";
  bool good = !name.empty() && name.size() <= 32 && ((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_');
  for (std::size_t i = 0; good && i < name.size(); ++i) {
    char c = name[i];
    bool last_dollar = (c == '$' && i + 1 == name.size() && i > 0);
    good = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || last_dollar;
  }
  if (!good) return invalid("invalid_user", fmt::format("'{}' is not a valid user name: {}", printable(name), rule));
  return ok();
}

Status validate_env_name(std::string_view name) {
  bool good = !name.empty() && name.size() <= 128 && !(name[0] >= '0' && name[0] <= '9');
  for (char c : name) good = good && (is_alnum(c) || c == '_');
  if (!good) {
    return invalid("invalid_environment",
                   fmt::format("'{}' is not a valid environment variable name: use letters, digits and '_', "
                               "not starting with a digit, at most 128 characters",
                               printable(name)));
  }
  return ok();
}

Status validate_absolute_path(std::string_view field, std::string_view path) {
  if (path.empty()) return invalid("invalid_path", fmt::format("{} is empty: give an absolute path", field));
  if (path.size() > 4096) return invalid("invalid_path", fmt::format("{} is longer than 4096 bytes", field));
  if (path[0] != '/') {
    return invalid("invalid_path",
                   fmt::format("{} '{}' is not absolute: give the full path, starting with '/'", field, printable(path)));
  }
  for (unsigned char c : path) {
    if (is_control(c)) {
      return invalid("invalid_path", fmt::format("{} '{}' contains a control character (a newline?): remove it",
                                                 field, printable(path)));
    }
    if (c == '\\') {
      return invalid("invalid_path",
                     fmt::format("{} '{}' contains a backslash, which a unit file cannot carry safely: rename the "
                                 "file or directory",
                                 field, printable(path)));
    }
  }
  std::string_view rest = path;
  while (!rest.empty()) {
    rest.remove_prefix(1);  // the '/'
    auto slash = rest.find('/');
    auto segment = rest.substr(0, slash);
    if (segment == "." || segment == "..") {
      return invalid("invalid_path",
                     fmt::format("{} '{}' contains a '{}' segment: give the normalized path", field, printable(path),
                                 segment));
    }
    if (segment.empty() && slash != std::string_view::npos) {
      return invalid("invalid_path", fmt::format("{} '{}' contains '//': give the normalized path", field,
                                                 printable(path)));
    }
    if (!segment.empty() && (segment.front() == ' ' || segment.back() == ' ') &&
        slash == std::string_view::npos) {
      return invalid("invalid_path", fmt::format("{} '{}' ends with a space: remove it", field, printable(path)));
    }
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash);
  }
  return ok();
}

Status validate_unit_text(std::string_view field, std::string_view text, std::size_t max_len) {
  if (text.size() > max_len) {
    return invalid("invalid_value", fmt::format("{} is {} bytes long; at most {} are allowed", field, text.size(),
                                                max_len));
  }
  for (unsigned char c : text) {
    if (is_control(c) && c != '\t') {
      return invalid("invalid_value",
                     fmt::format("{} '{}' contains a control character (a newline?), which cannot be written to a "
                                 "unit file safely: remove it",
                                 field, printable(text)));
    }
  }
  return ok();
}

Status validate_asgi_module(std::string_view module) {
  auto colon = module.find(':');
  if (colon == std::string_view::npos || !is_dotted_identifier(module.substr(0, colon)) ||
      !is_dotted_identifier(module.substr(colon + 1))) {
    return invalid("invalid_module",
                   fmt::format("module '{}' is not of the form 'package.module:app' (Python identifiers, as "
                               "uvicorn expects, e.g. 'main:app')",
                               printable(module)));
  }
  return ok();
}

Status validate_definition(const AppDefinition& def) {
  if (auto s = validate_app_name(def.name); !s) return s;
  if (auto s = validate_user_name(def.user); !s) return s;
  if (auto s = validate_absolute_path("working_directory", def.working_directory); !s) return s;
  switch (def.runtime) {
    case Runtime::NodeScript:
    case Runtime::PythonScript:
    case Runtime::Custom:
      if (auto s = validate_absolute_path("script_path", def.script_path); !s) return s;
      break;
    case Runtime::Uvicorn:
      if (auto s = validate_asgi_module(def.module); !s) return s;
      if (def.port == 0) {
        return invalid("invalid_port", "a FastAPI/uvicorn app needs a port between 1 and 65535");
      }
      if (def.host.empty() || def.host.size() > 253 ||
          def.host.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:-[]") !=
              std::string::npos) {
        return invalid("invalid_host", fmt::format("host '{}' is not an IP address or host name", printable(def.host)));
      }
      break;
    case Runtime::NpmStart:
      break;
  }
  if (def.args.size() > kMaxArgs) {
    return invalid("invalid_args", fmt::format("{} arguments given; at most {} are allowed", def.args.size(), kMaxArgs));
  }
  for (const auto& arg : def.args) {
    if (auto s = validate_unit_text("an argument", arg, kMaxArgLength); !s) return s;
  }
  if (def.environment.size() > kMaxEnvVars) {
    return invalid("invalid_environment",
                   fmt::format("{} environment variables given; at most {} are allowed", def.environment.size(),
                               kMaxEnvVars));
  }
  for (const auto& [name, value] : def.environment) {
    if (auto s = validate_env_name(name); !s) return s;
    if (auto s = validate_unit_text(fmt::format("the value of {}", name), value, kMaxEnvValue); !s) return s;
  }
  if (auto s = validate_secret_environment(def); !s) return s;
  if (auto s = validate_unit_text("description", def.description, kMaxDescription); !s) return s;
  if (def.restart_sec > 3600) {
    return invalid("invalid_restart_sec", "restart_sec must be between 0 and 3600 seconds");
  }
  if (def.memory_max_bytes && *def.memory_max_bytes < 1024 * 1024) {
    return invalid("invalid_memory_max", "memory_max must be at least 1 MiB (1048576 bytes)");
  }
  if (def.cpu_quota_percent && (*def.cpu_quota_percent == 0 || *def.cpu_quota_percent > 10000)) {
    return invalid("invalid_cpu_quota", "cpu_quota must be between 1 and 10000 percent (100 = one core)");
  }
  return ok();
}

Status validate_secret_environment(const AppDefinition& def) {
  if (def.secret_names.size() > kMaxEnvVars) {
    return invalid("invalid_secret_environment",
                   fmt::format("{} secret environment variables given; at most {} are allowed", def.secret_names.size(),
                               kMaxEnvVars));
  }
  for (std::size_t i = 0; i < def.secret_names.size(); ++i) {
    const auto& name = def.secret_names[i];
    if (auto s = validate_env_name(name); !s) {
      return invalid("invalid_secret_environment", fmt::format("secret_environment: {}", s.error().message));
    }
    if (i > 0 && !(def.secret_names[i - 1] < name)) {
      return invalid("invalid_secret_environment", "secret_environment names must be sorted and unique");
    }
    if (def.environment.contains(name)) {
      return invalid("invalid_secret_environment",
                     fmt::format("{} is in both environment and secret_environment: keep it in one of them "
                                 "(secret_environment for secrets)",
                                 name));
    }
  }
  if (!def.secret_values) return ok();
  std::size_t k = 0;
  for (const auto& [name, value] : *def.secret_values) {
    if (k >= def.secret_names.size() || def.secret_names[k] != name) {
      return invalid("invalid_secret_environment", "secret_environment names and values do not match");
    }
    ++k;
    // The messages below name the variable, never the value: it is a secret.
    if (value.size() > kMaxEnvValue) {
      return invalid("invalid_secret_environment",
                     fmt::format("the value of secret {} is {} bytes long; at most {} are allowed", name, value.size(),
                                 kMaxEnvValue));
    }
    if (value == kSecretMask) {
      return invalid("invalid_secret_environment",
                     fmt::format("the value of secret {} is \"***\", the mask the API shows instead of secrets: send "
                                 "the real value, or leave secret_environment out of an update to keep the current "
                                 "secrets",
                                 name));
    }
    if (const char* problem = secret_value_problem(value)) {
      return invalid("invalid_secret_environment",
                     fmt::format("the value of secret {} contains {}, which a systemd environment file cannot carry "
                                 "safely: remove it",
                                 name, problem));
    }
  }
  if (k != def.secret_names.size()) {
    return invalid("invalid_secret_environment", "secret_environment names and values do not match");
  }
  return ok();
}

Status validate_environment_file_path(std::string_view path) {
  if (auto s = validate_absolute_path("the secret environment file", path); !s) return s;
  if (path.find_first_of("*?[] \t\"'") != std::string_view::npos) {
    return invalid("invalid_path",
                   fmt::format("the secret environment file '{}' contains a blank, quote or glob character "
                               "(* ? [ ]), which EnvironmentFile= would misread: choose another state directory",
                               printable(path)));
  }
  return ok();
}

}  // namespace siax::core
