#pragma once
/// Roles of API tokens and panel users. Each role includes the rights of the ones below:
/// admin ⊇ operator ⊇ viewer.
///  - viewer: read status, logs, metrics;
///  - operator: also start, stop, restart apps;
///  - admin: also install/remove apps, manage users and tokens, change settings.
#include <string_view>

#include "common/result.h"

namespace siax::auth {

enum class Role { Viewer, Operator, Admin };

/// "viewer", "operator", "admin".
[[nodiscard]] std::string_view to_string(Role role) noexcept;

/// Parses "viewer", "operator" or "admin" (ASCII case-insensitive). Anything else is an
/// InvalidInput error (code "invalid_role") that lists the valid roles.
[[nodiscard]] Result<Role> role_from_string(std::string_view text);

/// True when a holder of `have` may do what requires `need`.
[[nodiscard]] constexpr bool allows(Role have, Role need) noexcept {
  return static_cast<int>(have) >= static_cast<int>(need);
}

}  // namespace siax::auth
