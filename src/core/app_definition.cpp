#include "core/app_definition.h"

namespace siax::core {

const char* to_string(Runtime runtime) noexcept {
  switch (runtime) {
    case Runtime::NodeScript: return "node";
    case Runtime::NpmStart: return "npm";
    case Runtime::PythonScript: return "python";
    case Runtime::Uvicorn: return "uvicorn";
    case Runtime::Custom: return "custom";
  }
  return "node";
}

std::optional<Runtime> runtime_from_string(std::string_view text) noexcept {
  // "nodejs" and "fastapi" are the previous agent's app_type values.
  if (text == "node" || text == "nodejs") return Runtime::NodeScript;
  if (text == "npm") return Runtime::NpmStart;
  if (text == "python") return Runtime::PythonScript;
  if (text == "uvicorn" || text == "fastapi") return Runtime::Uvicorn;
  if (text == "custom") return Runtime::Custom;
  return std::nullopt;
}

const char* to_string(RestartPolicy policy) noexcept {
  switch (policy) {
    case RestartPolicy::No: return "no";
    case RestartPolicy::Always: return "always";
    case RestartPolicy::OnFailure: return "on-failure";
    case RestartPolicy::OnAbnormal: return "on-abnormal";
    case RestartPolicy::OnAbort: return "on-abort";
    case RestartPolicy::OnSuccess: return "on-success";
  }
  return "always";
}

std::optional<RestartPolicy> restart_policy_from_string(std::string_view text) noexcept {
  for (auto p : {RestartPolicy::No, RestartPolicy::Always, RestartPolicy::OnFailure, RestartPolicy::OnAbnormal,
                 RestartPolicy::OnAbort, RestartPolicy::OnSuccess}) {
    if (text == to_string(p)) return p;
  }
  if (text == "never") return RestartPolicy::No;
  return std::nullopt;
}

std::string unit_name_for(const std::string& app_name) {
  return std::string(kUnitPrefix) + app_name + std::string(kUnitSuffix);
}

std::optional<std::string> app_name_from_unit(std::string_view unit_name) {
  if (unit_name.size() <= kUnitPrefix.size() + kUnitSuffix.size()) return std::nullopt;
  if (!unit_name.starts_with(kUnitPrefix) || !unit_name.ends_with(kUnitSuffix)) return std::nullopt;
  unit_name.remove_prefix(kUnitPrefix.size());
  unit_name.remove_suffix(kUnitSuffix.size());
  return std::string(unit_name);
}

}  // namespace siax::core
