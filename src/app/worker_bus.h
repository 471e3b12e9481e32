#pragma once
/// One AppUnits, with its own D-Bus connection to systemd, per thread that asks (the
/// workers, the monitor's thread): sd-bus connections are not thread-safe. A connection
/// found lost is replaced: one idle for over a second is pinged first (the daemon may
/// have dropped it, e.g. dbus restarted, and an operation must not be the one to find
/// out); without systemd, an UnavailableSystemd answers every call and a reconnection is
/// tried after 5 s.
///
/// Every connection shares one ReloadCoalescer (one daemon-reload for the writes queued
/// before it); with a unit helper (user mode), unit files are written through it.
///
/// Thread: units() from any thread; each thread gets its own. The per-thread state is a
/// thread_local of this file: one WorkerBus per process.
#include "adapters/linux/sdbus_systemd.h"
#include "agent/reload_coalescer.h"
#include "ports/host.h"
#include "ports/secret_file_store.h"
#include "ports/unit_file_store.h"
#include "ports/unit_helper.h"
#include "units/app_units.h"
#include "units/preflight.h"

namespace siax::app {

class WorkerBus {
 public:
  /// `helper`: the root unit helper (user mode), or nullptr.
  WorkerBus(adapters::SdbusSystemd::Options bus, agent::ReloadCoalescer& reloads, ports::UnitFileStore& store,
            const ports::Host& host, units::PreflightSettings settings, ports::SecretFileStore* secrets,
            ports::UnitHelper* helper)
      : bus_(bus),
        reloads_(reloads),
        store_(store),
        host_(host),
        settings_(std::move(settings)),
        secrets_(secrets),
        helper_(helper) {}

  /// This thread's AppUnits, connected (or reconnected) as needed.
  [[nodiscard]] units::AppUnits& units();

 private:
  adapters::SdbusSystemd::Options bus_;
  agent::ReloadCoalescer& reloads_;
  ports::UnitFileStore& store_;
  const ports::Host& host_;
  units::PreflightSettings settings_;
  ports::SecretFileStore* secrets_;
  ports::UnitHelper* helper_;
};

}  // namespace siax::app
