#include "cli/output.h"

#include <fstream>
#include <iostream>
#include <iterator>

#include <fmt/format.h>

namespace siax::cli {

using nlohmann::json;

/// Exit codes scripts can rely on (documented in the README).
int exit_code_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::InvalidInput: return 2;
    case ErrorKind::NotFound: return 3;
    case ErrorKind::PermissionDenied: return 4;
    case ErrorKind::Unavailable:
    case ErrorKind::Timeout: return 5;
    case ErrorKind::Conflict:
    case ErrorKind::RateLimited: return 6;
    case ErrorKind::OperationFailed:
    case ErrorKind::Internal: return 1;
  }
  return 1;
}

int exit_code_for_http(unsigned status) {
  if (status < 300) return 0;
  if (status == 400 || status == 413 || status == 431) return 2;
  if (status == 404) return 3;
  if (status == 401 || status == 403) return 4;
  if (status == 503 || status == 504) return 5;
  if (status == 409 || status == 429) return 6;
  return 1;
}

int report(const Error& e, bool as_json) {
  if (as_json) {
    json details = json::object();
    for (const auto& [k, v] : e.details) details[k] = v;
    std::cout << json{{"success", false},
                      {"data", nullptr},
                      {"error", {{"code", e.code}, {"kind", to_string(e.kind)}, {"message", e.message},
                                 {"details", details}}}}
                     .dump(2)
              << "\n";
  } else {
    std::cerr << "error: " << e.message << "\n";
  }
  return exit_code_for(e.kind);
}

int print_ok(const json& data, bool as_json, const std::string& text) {
  if (as_json) {
    std::cout << json{{"success", true}, {"data", data}, {"error", nullptr}}.dump(2) << "\n";
  } else if (!text.empty()) {
    std::cout << text << "\n";
  }
  return 0;
}

Result<json> read_json_file(const std::string& path) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), {});
  } else {
    std::ifstream in(path);
    if (!in) return fail(ErrorKind::InvalidInput, "file_not_found", fmt::format("cannot read {}", path));
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    return fail(ErrorKind::InvalidInput, "invalid_json", fmt::format("{} is not valid JSON", path));
  }
  return j;
}

std::string cell(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::string human_bytes(const json& v) {
  if (!v.is_number()) return "-";
  double b = v.get<double>();
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  int i = 0;
  while (b >= 1024 && i < 3) {
    b /= 1024;
    ++i;
  }
  return fmt::format("{:.1f} {}", b, units[i]);
}

/// Prints the agent's reply: the envelope as is with --json, else a readable summary.
int print_reply(const cli::Reply& r, bool as_json, const std::function<std::string(const json&)>& text) {
  const bool success = r.body.is_object() && r.body.value("success", false);
  if (as_json) {
    std::cout << (r.body.is_null() ? json{{"success", false}, {"data", nullptr}, {"error", r.raw}} : r.body).dump(2)
              << "\n";
  } else if (success) {
    auto out = text(r.body["data"]);
    if (!out.empty()) std::cout << out << "\n";
  } else {
    std::string message = r.raw;
    if (r.body.is_object() && r.body["error"].is_object()) message = r.body["error"].value("message", r.raw);
    std::cerr << fmt::format("error ({}): {}\n", r.status, message);
  }
  return exit_code_for_http(r.status);
}

}  // namespace siax::cli
