#include "config/config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <system_error>
#include <variant>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "config/schema.h"

namespace siax::config {

namespace {

using namespace detail;  // NOLINT: the schema is this file's own

std::string_view toml_type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a floating-point number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    case toml::node_type::none: break;
  }
  return "nothing";
}

std::string location(std::string_view source, const toml::source_region& region) {
  return fmt::format("{}:{}:{}", source, region.begin.line, region.begin.column);
}

// ---------------------------------------------------------------------------------------

constexpr std::size_t kMaxProblems = 50;

class Loader {
 public:
  void apply_toml(std::string_view text, std::string_view source) {
    toml::table root;
    try {
      root = toml::parse(text, std::string(source));
    } catch (const toml::parse_error& e) {
      problem(fmt::format("{}: invalid TOML: {}", location(source, e.source()), e.description()));
      return;
    }
    // toml++ iterates keys in sorted order; problems are reported in file order.
    const std::size_t first_problem = problems_.size();
    for (auto&& [section_key, section_node] : root) {
      const std::string_view section = section_key.str();
      position_ = pack(section_key.source());
      const auto where = location(source, section_key.source());
      if (std::find(kSections.begin(), kSections.end(), section) == kSections.end()) {
        if (!section_node.is_table()) {
          problem(fmt::format("{}: unknown key '{}': settings belong in sections{}", where, section,
                              suggest_key("", section)));
        } else {
          problem(fmt::format("{}: unknown section [{}]{}", where, section, suggest_section(section)));
        }
        continue;
      }
      const auto* table = section_node.as_table();
      if (!table) {
        problem(fmt::format("{}: '{}' must be a table ([{}]), got {}", where, section, section,
                            toml_type_name(section_node.type())));
        continue;
      }
      for (auto&& [key, node] : *table) {
        position_ = pack(key.source());
        apply_node(section, key.str(), node, location(source, key.source()), location(source, node.source()));
      }
    }
    position_ = 0;
    std::vector<std::size_t> order(problems_.size() - first_problem);
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = first_problem + i;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return positions_[a] < positions_[b]; });
    std::vector<std::string> sorted;
    sorted.reserve(order.size());
    for (auto i : order) sorted.push_back(std::move(problems_[i]));
    std::move(sorted.begin(), sorted.end(), problems_.begin() + static_cast<std::ptrdiff_t>(first_problem));
  }

  void apply_env(const Environment& env) {
    for (const auto& k : kKeys) {
      auto it = env.find(std::string(k.env));
      if (it == env.end()) continue;
      apply_text(k, it->second, fmt::format("environment variable {}", k.env));
    }
  }

  void apply_overrides(const Overrides& overrides) {
    for (const auto& [key, raw] : overrides) {
      const auto where = fmt::format("override '{}={}'", key, raw);
      const KeyDef* k = find_dotted(key);
      if (!k) {
        const auto dot = key.find('.');
        const std::string suggestion = dot == std::string::npos ? suggest_key("", key)
                                                                : suggest_key(std::string_view(key).substr(0, dot),
                                                                              std::string_view(key).substr(dot + 1));
        problem(fmt::format("{}: unknown setting '{}'{}; settings are named section.key, e.g. server.port", where, key,
                            suggestion));
        continue;
      }
      std::string_view value = raw;
      if (k->type == Type::String && value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      apply_text(*k, value, where);
    }
  }

  void validate() {
    const auto& s = config_.server;
    // A key that already has a problem is not judged again against the others.
    const bool tls_reported = rejected_.count("server.tls_cert") + rejected_.count("server.tls_key") > 0;
    if (!tls_reported && s.tls_cert_file.has_value() != s.tls_key_file.has_value()) {
      const bool has_cert = s.tls_cert_file.has_value();
      const std::string set_key = has_cert ? "server.tls_cert" : "server.tls_key";
      const std::string missing_key = has_cert ? "server.tls_key" : "server.tls_cert";
      problem(fmt::format("{} is set ({}) but {} is not: set both to serve HTTPS, or neither for plain HTTP", set_key,
                          origin(set_key), missing_key));
    }
    if (config_.webhook.secret_file && !config_.webhook.secret.empty()) {
      problem(fmt::format("webhook.secret_file ({}) and webhook.secret ({}) are both set: keep only secret_file",
                          origin("webhook.secret_file"), origin("webhook.secret")));
    }
  }

  Result<Config> finish() {
    if (problems_.empty()) return config_;
    std::string message;
    if (problems_.size() == 1) {
      message = problems_.front();
    } else {
      message = fmt::format("{} problems in the configuration:", problems_.size());
      for (const auto& p : problems_) message += "\n  - " + p;
    }
    if (truncated_) message += "\n  (further problems not shown)";
    std::vector<std::pair<std::string, std::string>> details;
    details.reserve(problems_.size());
    for (auto& p : problems_) details.emplace_back("problem", std::move(p));
    return fail(ErrorKind::InvalidInput, "invalid_config", std::move(message), std::move(details));
  }

 private:
  void problem(std::string text) {
    if (problems_.size() >= kMaxProblems) {
      truncated_ = true;
      return;
    }
    problems_.push_back(std::move(text));
    positions_.push_back(position_);
  }

  static std::uint64_t pack(const toml::source_region& region) {
    return (std::uint64_t{region.begin.line} << 32) | region.begin.column;
  }

  std::string origin(const std::string& key) const {
    auto it = origins_.find(key);
    return it == origins_.end() ? std::string("default") : it->second;
  }

  void apply_node(std::string_view section, std::string_view name, const toml::node& node, const std::string& key_where,
                  const std::string& value_where) {
    const KeyDef* k = find_key(section, name);
    if (!k) {
      problem(fmt::format("{}: unknown key '{}.{}'{}", key_where, section, name, suggest_key(section, name)));
      return;
    }
    Value v;
    bool type_ok = false;
    switch (k->type) {
      case Type::String:
        if (auto s = node.value_exact<std::string>()) {
          v = std::move(*s);
          type_ok = true;
        }
        break;
      case Type::Integer:
        if (auto i = node.value_exact<std::int64_t>()) {
          v = *i;
          type_ok = true;
        }
        break;
      case Type::Boolean:
        if (auto b = node.value_exact<bool>()) {
          v = *b;
          type_ok = true;
        }
        break;
    }
    if (!type_ok) {
      reject(*k, value_where, fmt::format("must be {}, got {}", type_name(k->type), toml_type_name(node.type())));
      return;
    }
    set(*k, v, value_where);
  }

  void apply_text(const KeyDef& k, std::string_view text, const std::string& where) {
    auto parsed = value_from_text(k.type, text);
    if (auto* err = std::get_if<std::string>(&parsed)) {
      reject(k, where, *err);
      return;
    }
    set(k, std::get<Value>(parsed), where);
  }

  void set(const KeyDef& k, const Value& v, const std::string& where) {
    if (auto err = k.apply(config_, v)) {
      reject(k, where, *err);
      return;
    }
    origins_[dotted(k)] = where;
  }

  void reject(const KeyDef& k, const std::string& where, const std::string& what) {
    problem(fmt::format("{}: {}: {}", where, dotted(k), what));
    rejected_.insert(dotted(k));
  }

  Config config_;
  std::vector<std::string> problems_;
  std::vector<std::uint64_t> positions_;  ///< where in the file each problem is (0 outside a file)
  std::uint64_t position_ = 0;            ///< the file position being applied now
  bool truncated_ = false;
  std::map<std::string, std::string> origins_;
  std::set<std::string> rejected_;  ///< keys with a value that was refused
};

Result<std::string> read_file(const std::string& path, bool explicit_path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) {
    if (ec && ec != std::errc::no_such_file_or_directory && ec != std::errc::not_a_directory) {
      const auto kind = ec == std::errc::permission_denied ? ErrorKind::PermissionDenied : ErrorKind::Unavailable;
      return fail(kind, "config_unreadable", fmt::format("cannot read the config file {}: {}", path, ec.message()),
                  {{"path", path}});
    }
    return fail(ErrorKind::NotFound, "config_not_found",
                fmt::format("the config file {} does not exist{}", path,
                            explicit_path ? "" : "; create it or do not name one to use the defaults"),
                {{"path", path}});
  }
  if (!std::filesystem::is_regular_file(status)) {
    return fail(ErrorKind::InvalidInput, "config_not_a_file",
                fmt::format("the config file {} is not a regular file", path), {{"path", path}});
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    const auto kind = err == EACCES ? ErrorKind::PermissionDenied : ErrorKind::Unavailable;
    return fail(kind, "config_unreadable", fmt::format("cannot read the config file {}: {}", path, std::strerror(err)),
                {{"path", path}});
  }
  std::string text;
  char buf[8192];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxConfigFileBytes) {
      return fail(
          ErrorKind::InvalidInput, "config_too_large",
          fmt::format("the config file {} is larger than {} bytes; is it the right file?", path, kMaxConfigFileBytes),
          {{"path", path}});
    }
  }
  if (in.bad()) {
    return fail(ErrorKind::Unavailable, "config_unreadable", fmt::format("cannot read the config file {}", path),
                {{"path", path}});
  }
  return text;
}

}  // namespace

std::string_view to_string(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::Trace: return "trace";
    case LogLevel::Debug: return "debug";
    case LogLevel::Info: return "info";
    case LogLevel::Warn: return "warn";
    case LogLevel::Error: return "error";
    case LogLevel::Critical: return "critical";
    case LogLevel::Off: return "off";
  }
  return "info";
}

std::span<const KeyInfo> config_keys() noexcept {
  // Built once from the schema; the strings are owned by this static.
  static const auto infos = [] {
    struct Owned {
      std::vector<std::string> names;
      std::vector<KeyInfo> infos;
    } owned;
    owned.names.reserve(kKeys.size());
    for (const auto& k : kKeys) owned.names.push_back(dotted(k));
    for (std::size_t i = 0; i < kKeys.size(); ++i) owned.infos.push_back({owned.names[i], kKeys[i].env, kKeys[i].doc});
    return owned;
  }();
  return infos.infos;
}

Result<Config> parse_config_text(std::string_view text, std::string_view source_name) {
  Loader loader;
  loader.apply_toml(text, source_name);
  loader.validate();
  return loader.finish();
}

Result<Config> resolve_config(const std::optional<ConfigText>& file, const Environment& env,
                              const Overrides& overrides) {
  Loader loader;
  if (file) loader.apply_toml(file->text, file->source_name);
  loader.apply_env(env);
  loader.apply_overrides(overrides);
  loader.validate();
  return loader.finish();
}

Result<Config> load_config(std::optional<std::string> path, const Environment& env, const Overrides& overrides) {
  bool must_exist = true;
  if (!path) {
    if (auto it = env.find(std::string(kConfigPathEnv)); it != env.end() && !it->second.empty()) {
      path = it->second;
    } else {
      std::error_code ec;
      if (!std::filesystem::exists(std::string(kDefaultConfigPath), ec))
        return resolve_config(std::nullopt, env, overrides);
      path = std::string(kDefaultConfigPath);
      must_exist = false;
    }
  }
  auto text = read_file(*path, must_exist);
  if (!text) return tl::unexpected(text.error());
  return resolve_config(ConfigText{std::move(*text), *path}, env, overrides);
}

Result<std::pair<std::string, std::string>> parse_override(std::string_view assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return fail(ErrorKind::InvalidInput, "invalid_override",
                fmt::format("override {} must look like section.key=value, e.g. server.port=9090", shown(assignment)));
  }
  return std::pair{std::string(assignment.substr(0, eq)), std::string(assignment.substr(eq + 1))};
}

Environment environment_from(const char* const* envp) {
  Environment env;
  if (!envp) return env;
  for (; *envp; ++envp) {
    std::string_view entry(*envp);
    const auto eq = entry.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return env;
}

std::string render_default_config() {
  const Config defaults;
  std::string out =
      "# siax-agent configuration (TOML).\n"
      "#\n"
      "# Every key is optional: a missing key keeps the default shown here. Environment\n"
      "# variables (named after each key) override this file, and command-line overrides\n"
      "# such as `server.port=9090` override both. Unknown keys are errors.\n";
  std::string_view section;
  for (const auto& k : kKeys) {
    if (k.section != section) {
      section = k.section;
      out += fmt::format("\n[{}]\n", section);
    }
    out += fmt::format("\n# {}\n# Environment: {}\n", k.doc, k.env);
    if (!k.example.empty()) {
      out += fmt::format("# {} = {}\n", k.name, k.example);
    } else {
      out += fmt::format("{} = {}\n", k.name, k.render(defaults));
    }
  }
  return out;
}

}  // namespace siax::config
