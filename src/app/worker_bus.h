#pragma once
/// One AppUnits, with its own D-Bus connection to systemd, per thread that asks (the
/// workers, the monitor's thread): sd-bus connections are not thread-safe. A connection
/// found lost is replaced: one idle for over a second is pinged first (the daemon may
/// have dropped it, e.g. dbus restarted, and an operation must not be the one to find
/// out); without systemd, an UnavailableSystemd answers every call and a reconnection is
/// tried after 5 s.
///
/// Thread: units() from any thread; each thread gets its own. The per-thread state is a
/// thread_local of this file: one WorkerBus per process.
#include "adapters/linux/sdbus_systemd.h"
#include "ports/host.h"
#include "ports/secret_file_store.h"
#include "ports/unit_file_store.h"
#include "units/app_units.h"
#include "units/preflight.h"

namespace siax::app {

class WorkerBus {
 public:
  WorkerBus(adapters::SdbusSystemd::Options bus, ports::UnitFileStore& store, const ports::Host& host,
            units::PreflightSettings settings, ports::SecretFileStore* secrets)
      : bus_(bus), store_(store), host_(host), settings_(std::move(settings)), secrets_(secrets) {}

  /// This thread's AppUnits, connected (or reconnected) as needed.
  [[nodiscard]] units::AppUnits& units();

 private:
  adapters::SdbusSystemd::Options bus_;
  ports::UnitFileStore& store_;
  const ports::Host& host_;
  units::PreflightSettings settings_;
  ports::SecretFileStore* secrets_;
};

}  // namespace siax::app
