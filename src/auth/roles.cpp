#include "auth/roles.h"

#include <array>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace siax::auth {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (x != b[i]) return false;
  }
  return true;
}

}  // namespace

std::string_view to_string(Role role) noexcept {
  switch (role) {
    case Role::Viewer: return "viewer";
    case Role::Operator: return "operator";
    case Role::Admin: return "admin";
  }
  return "viewer";
}

Result<Role> role_from_string(std::string_view text) {
  for (Role r : {Role::Viewer, Role::Operator, Role::Admin}) {
    if (iequals(text, to_string(r))) return r;
  }
  std::string shown(text.substr(0, 64));
  return fail(ErrorKind::InvalidInput, "invalid_role",
              fmt::format("unknown role '{}': use one of viewer, operator, admin", shown));
}

}  // namespace siax::auth
