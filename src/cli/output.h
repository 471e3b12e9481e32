#pragma once
/// How the CLI answers: exit codes scripts can rely on (README, "Exit codes"), the
/// {success, data, error} envelope with --json, else readable text; errors on stderr.
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/client.h"
#include "common/result.h"

namespace siax::cli {

[[nodiscard]] int exit_code_for(ErrorKind kind);
[[nodiscard]] int exit_code_for_http(unsigned status);
/// Prints an error (the envelope with --json, "error: ..." on stderr otherwise).
int report(const Error& e, bool as_json);
int print_ok(const nlohmann::json& data, bool as_json, const std::string& text);
/// Prints the agent's reply: the envelope as is with --json, else `text` of its data.
int print_reply(const Reply& r, bool as_json, const std::function<std::string(const nlohmann::json&)>& text);
/// A JSON file, or standard input for "-".
[[nodiscard]] Result<nlohmann::json> read_json_file(const std::string& path);
/// A value for a table cell: "-" for null, strings unquoted.
[[nodiscard]] std::string cell(const nlohmann::json& v);
[[nodiscard]] std::string human_bytes(const nlohmann::json& v);

}  // namespace siax::cli
