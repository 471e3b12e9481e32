#pragma once
/// Appends entries to the registry's audit log without ever running SQLite on the io
/// thread: each entry is written on a worker; with the pool full it is written inline
/// from any other thread, and dropped and counted (siax_audit_dropped_total) on the io
/// thread.
///
/// Thread: append() from any thread; set_io_thread() once, before the server runs.
#include <thread>

#include "agent/worker_pool.h"
#include "api/metrics.h"
#include "registry/registry.h"

namespace siax::api {

class AuditLog {
 public:
  AuditLog(registry::Registry& registry, agent::WorkerPool& workers, Metrics& metrics)
      : registry_(registry), workers_(workers), metrics_(metrics) {}

  /// The thread that runs the io_context (install_api sets it, running on it).
  void set_io_thread(std::thread::id id) noexcept { io_thread_ = id; }
  void append(registry::AuditEntry entry);

 private:
  registry::Registry& registry_;
  agent::WorkerPool& workers_;
  Metrics& metrics_;
  std::thread::id io_thread_{};
};

}  // namespace siax::api
