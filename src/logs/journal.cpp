#include "logs/journal.h"

namespace siax::logs {

Selector app_selector(const std::string& app_name) {
  const std::string unit = "siax-app-" + app_name + ".service";
  return Selector{app_name, {{{"_SYSTEMD_UNIT", unit}}, {{"UNIT", unit}, {"_PID", "1"}}}};
}

}  // namespace siax::logs
