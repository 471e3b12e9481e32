#pragma once
/// The agent's side of its own unit's `Type=notify` and `WatchdogSec=` (desplegar_agent.sh
/// installs siax-agent.service with both).
///
/// ready() tells systemd the server is listening (READY=1 and a STATUS= line); when the
/// unit sets WatchdogSec=, it also starts a timer on the given io_context that sends
/// WATCHDOG=1 every half period. The ping runs on the io thread itself, the thread that
/// serves requests: if that event loop wedges, the pings stop and systemd restarts the
/// agent. stopping() sends STOPPING=1 and cancels the timer.
///
/// Outside systemd (no $NOTIFY_SOCKET) every call is a no-op. Thread: the io thread.
/// Lives in the composition root because only adapters and cli link libsystemd.
#include <chrono>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace siax::app {

class SystemdNotifier {
 public:
  explicit SystemdNotifier(boost::asio::io_context& ioc);
  SystemdNotifier(const SystemdNotifier&) = delete;
  SystemdNotifier& operator=(const SystemdNotifier&) = delete;

  /// READY=1 with `status` as STATUS=; starts the watchdog pings when WatchdogSec= is set.
  void ready(const std::string& status);
  /// STOPPING=1; stops the pings.
  void stopping();
  /// The ping interval (half of WatchdogSec=), or zero when the watchdog is off.
  [[nodiscard]] std::chrono::microseconds ping_interval() const { return interval_; }

 private:
  void schedule_ping();

  boost::asio::steady_timer timer_;
  std::chrono::microseconds interval_{0};
  bool stopped_ = false;
};

}  // namespace siax::app
