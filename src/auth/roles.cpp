#include "auth/roles.h"

#include <array>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "common/strings.h"

namespace siax::auth {

Result<Role> role_from_string(std::string_view text) {
  for (Role r : {Role::Viewer, Role::Operator, Role::Admin}) {
    if (iequals(text, to_string(r))) return r;
  }
  std::string shown(text.substr(0, 64));
  return fail(ErrorKind::InvalidInput, "invalid_role",
              fmt::format("unknown role '{}': use one of viewer, operator, admin", shown));
}

}  // namespace siax::auth
