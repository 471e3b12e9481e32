#include "api/audit_log.h"

namespace siax::api {

void AuditLog::append(registry::AuditEntry entry) {
  auto write = [&reg = registry_, e = std::move(entry)] { (void)reg.append_audit(e); };
  if (workers_.try_post(write)) return;
  if (std::this_thread::get_id() == io_thread_) {
    metrics_.count_audit_dropped();
    return;
  }
  write();
}

}  // namespace siax::api
