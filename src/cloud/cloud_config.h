#pragma once
/// Start-up helpers for the cloud link: the server identifier and the one-line summary
/// the agent logs at start-up.
/// Threading: pure functions, except local_host_name() (one gethostname call).
#include <string>
#include <string_view>

#include "config/config.h"

namespace siax::cloud {

/// The identifier the agent reports as "server": cloud.server_id, or `host_name` when
/// that is empty.
[[nodiscard]] std::string resolve_server_id(const config::CloudConfig& cfg, std::string_view host_name);

/// This machine's host name (gethostname); "localhost" if it cannot be read.
[[nodiscard]] std::string local_host_name();

/// One line for the start-up log, e.g.
///   "cloud reporting to https://api.siax-system.net as server web-1 every 60 s"
///   "cloud reporting is off: no cloud.api_key configured (set cloud.api_key or SIAX_CLOUD_API_KEY)"
/// The API key itself is never printed.
[[nodiscard]] std::string describe(const config::CloudConfig& cfg, std::string_view server_id);

}  // namespace siax::cloud
