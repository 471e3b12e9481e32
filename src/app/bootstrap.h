#pragma once
/// First-run bootstrap: the first start (no user, no token) creates an admin, a panel
/// user with a generated password written to <state_dir>/initial-admin-password, and a
/// token for the local CLI in <state_dir>/cli-token (both 0600 from creation, root only).
/// Only the paths are printed: stdout lands in the journal, which is not a place for
/// secrets. Does nothing once a user or a token exists.
///
/// Thread: the main thread, at start-up, before the server runs.
#include <string>

#include "common/result.h"
#include "registry/registry.h"

namespace siax::app {

[[nodiscard]] Status bootstrap_credentials(registry::Registry& reg, const std::string& state_dir);

}  // namespace siax::app
