#include "app/systemd_notify.h"

#include <systemd/sd-daemon.h>

#include <cstdint>
#include <string>

#include <spdlog/spdlog.h>

namespace siax::app {

SystemdNotifier::SystemdNotifier(boost::asio::io_context& ioc) : timer_(ioc) {}

void SystemdNotifier::ready(const std::string& status) {
  const std::string msg = "READY=1\nSTATUS=" + status;
  if (::sd_notify(0, msg.c_str()) < 0) spdlog::warn("systemd: cannot send READY=1");
  std::uint64_t usec = 0;
  // > 0: WatchdogSec= is set for this very process (the variable names our PID).
  if (::sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    interval_ = std::chrono::microseconds(usec / 2);
    spdlog::info("systemd watchdog: pinging every {} ms from the io thread",
                 std::chrono::duration_cast<std::chrono::milliseconds>(interval_).count());
    schedule_ping();
  }
}

void SystemdNotifier::stopping() {
  stopped_ = true;
  timer_.cancel();
  (void)::sd_notify(0, "STOPPING=1");
}

void SystemdNotifier::schedule_ping() {
  if (stopped_) return;
  (void)::sd_notify(0, "WATCHDOG=1");
  timer_.expires_after(interval_);
  timer_.async_wait([this](boost::system::error_code e) {
    if (!e) schedule_ping();
  });
}

}  // namespace siax::app
