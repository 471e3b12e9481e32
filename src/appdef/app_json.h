#pragma once
/// JSON <-> app definition, the body of `POST /api/apps/register` and of the CLI's
/// register/render commands. Accepts the previous agent's body
/// (app_name, script_path, working_directory, user, environment, restart_policy,
/// app_type "nodejs"|"python", description, custom_executable, use_npm_start)
/// and the new fields (runtime, module, host, port, args, restart_sec, memory_max,
/// cpu_quota, secret_environment). Unknown fields are refused, so that a typo is not silently ignored.
/// `secret_environment` is read into AppDefinition::secret_names and ::secret_values;
/// definition_to_json writes the names only, each with the value "***" (for every role).
#include <nlohmann/json_fwd.hpp>

#include "common/result.h"
#include "core/app_definition.h"
#include "core/unit_status.h"

namespace siax::appdef {

[[nodiscard]] Result<core::AppDefinition> definition_from_json(const nlohmann::json& body);
[[nodiscard]] nlohmann::json definition_to_json(const core::AppDefinition& def);
[[nodiscard]] nlohmann::json status_to_json(const core::UnitStatus& status);
/// "512M", "1G", "1048576" -> bytes.
[[nodiscard]] Result<std::uint64_t> parse_size(std::string_view text);

}  // namespace siax::appdef
