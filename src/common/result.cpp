#include "common/result.h"

namespace siax {

const char* to_string(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::InvalidInput: return "invalid_input";
    case ErrorKind::NotFound: return "not_found";
    case ErrorKind::PermissionDenied: return "permission_denied";
    case ErrorKind::Conflict: return "conflict";
    case ErrorKind::RateLimited: return "rate_limited";
    case ErrorKind::Unavailable: return "unavailable";
    case ErrorKind::Timeout: return "timeout";
    case ErrorKind::OperationFailed: return "operation_failed";
    case ErrorKind::Internal: return "internal";
  }
  return "internal";
}

}  // namespace siax
