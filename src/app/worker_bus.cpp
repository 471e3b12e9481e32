#include "app/worker_bus.h"

#include <chrono>
#include <memory>

#include <spdlog/spdlog.h>

#include "units/unavailable_systemd.h"

namespace siax::app {
namespace {

struct PerThread {
  std::unique_ptr<ports::SystemdManager> systemd;
  adapters::SdbusSystemd* bus = nullptr;  ///< nullptr while systemd is unavailable
  std::unique_ptr<units::AppUnits> units;
  std::chrono::steady_clock::time_point made;
  std::chrono::steady_clock::time_point used;
};

}  // namespace

units::AppUnits& WorkerBus::units() {
  thread_local PerThread t;
  const auto now = std::chrono::steady_clock::now();
  const bool idle = now - t.used > std::chrono::seconds(1);
  const bool lost = t.units && (t.bus == nullptr ? now - t.made > std::chrono::seconds(5)
                                                 : !(idle ? t.bus->answers() : t.bus->is_open()));
  t.used = now;
  if (!t.units || lost) {
    t.units.reset();
    auto bus = adapters::SdbusSystemd::connect(bus_);
    if (bus) {
      t.bus = bus->get();
      t.systemd = std::make_unique<agent::CoalescingSystemd>(std::move(*bus), reloads_);  // one reload for many writes
    } else {
      spdlog::warn("systemd is not reachable: {}", bus.error().message);
      t.bus = nullptr;
      t.systemd = std::make_unique<units::UnavailableSystemd>(bus.error());
    }
    t.units = std::make_unique<units::AppUnits>(*t.systemd, store_, host_, settings_, secrets_);
    if (helper_ != nullptr) t.units->use_helper(helper_);
    t.made = now;
  }
  return *t.units;
}

}  // namespace siax::app
