#pragma once
/// Roles of API tokens and panel users: the one Role of the agent (stored in the
/// registry, carried by sessions and requests). Each role includes the rights of the ones
/// below: admin ⊇ operator ⊇ viewer.
///  - viewer: read status, logs, metrics;
///  - operator: also start, stop, restart apps;
///  - admin: also install/remove apps, manage users and tokens, change settings.
#include <optional>
#include <string_view>

namespace siax {

enum class Role { Viewer, Operator, Admin };

/// "viewer", "operator", "admin": the stored and the wire form.
[[nodiscard]] constexpr std::string_view to_string(Role role) noexcept {
  switch (role) {
    case Role::Viewer: return "viewer";
    case Role::Operator: return "operator";
    case Role::Admin: return "admin";
  }
  return "viewer";
}

/// The role named by `text` in its stored form (exact, lower case), or nullopt. For
/// input from people (any case, with an error that lists the roles) use
/// auth::role_from_string.
[[nodiscard]] constexpr std::optional<Role> role_from_name(std::string_view text) noexcept {
  for (Role r : {Role::Viewer, Role::Operator, Role::Admin}) {
    if (text == to_string(r)) return r;
  }
  return std::nullopt;
}

/// True when a holder of `have` may do what requires `need`.
[[nodiscard]] constexpr bool allows(Role have, Role need) noexcept {
  return static_cast<int>(have) >= static_cast<int>(need);
}

}  // namespace siax
