#pragma once
/// Parsing roles given by people. The Role itself is siax::Role (common/role.h).
#include <string_view>

#include "common/result.h"
#include "common/role.h"

namespace siax::auth {

using ::siax::allows;
using ::siax::Role;
using ::siax::to_string;

/// Parses "viewer", "operator" or "admin" (ASCII case-insensitive). Anything else is an
/// InvalidInput error (code "invalid_role") that lists the valid roles.
[[nodiscard]] Result<Role> role_from_string(std::string_view text);

}  // namespace siax::auth
