#pragma once
/// `siax-agent unit-helper`: the root unit helper (docs/SECURITY.md, "The unit helper").
/// Socket-activated by siax-agent-helper.socket; serves one request per connection, one
/// connection at a time, and exits when idle. Protocol: appdef/helper_protocol.h.
#include <chrono>
#include <cstdint>
#include <string>

#include "config/config.h"

namespace siax::cli {

struct UnitHelperOptions {
  std::string config_path;               ///< must be root's and not writable by group/other
  std::string peer_user = "siax-agent";  ///< the only user (besides root) it serves
  std::chrono::seconds idle_exit{30};    ///< exit after this long without a connection
};

int run_unit_helper(const config::Config& cfg, const UnitHelperOptions& options);

}  // namespace siax::cli
