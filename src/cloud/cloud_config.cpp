#include "cloud/cloud_config.h"

#include <unistd.h>

#include <array>

#include <fmt/format.h>

namespace siax::cloud {

std::string resolve_server_id(const config::CloudConfig& cfg, std::string_view host_name) {
  if (!cfg.server_id.empty()) return cfg.server_id;
  return std::string(host_name);
}

std::string local_host_name() {
  std::array<char, 256> buf{};
  if (::gethostname(buf.data(), buf.size() - 1) != 0 || buf[0] == '\0') return "localhost";
  return std::string(buf.data());
}

std::string describe(const config::CloudConfig& cfg, std::string_view server_id) {
  if (!cfg.enabled()) {
    return "cloud reporting is off: no cloud.api_key configured (set cloud.api_key or SIAX_CLOUD_API_KEY to turn "
           "it on)";
  }
  return fmt::format("cloud reporting to {} as server {} every {} s (outbox: latest state per app, events in order)",
                     cfg.base_url, server_id, cfg.heartbeat_interval.count());
}

}  // namespace siax::cloud
