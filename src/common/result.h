#pragma once
/// Errors as values at module boundaries.
///
/// Every fallible operation that crosses a module boundary returns `Result<T>`.
/// The error carries a kind the HTTP layer maps to a status code, a stable
/// machine-readable code, and a message a person can act on (what is wrong and
/// how to fix it). Exceptions are for start-up and configuration only.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

namespace siax {

enum class ErrorKind {
  InvalidInput,      ///< The caller sent something we refuse (400).
  NotFound,          ///< The app or unit does not exist (404).
  PermissionDenied,  ///< The agent lacks a right on the host (403 / 503 for the panel banner).
  Conflict,          ///< The request conflicts with the current state (409).
  RateLimited,       ///< Too many operations (429).
  Unavailable,       ///< A dependency (systemd, the bus) cannot be reached (503).
  Timeout,           ///< A systemd job did not finish in time (504 / 500).
  OperationFailed,   ///< systemd ran the operation and it failed (start failed, ...).
  Internal,          ///< A bug or an unexpected host error (500).
};

[[nodiscard]] const char* to_string(ErrorKind kind) noexcept;

struct Error {
  ErrorKind kind = ErrorKind::Internal;
  std::string code;     ///< stable, snake_case, e.g. "invalid_app_name"
  std::string message;  ///< for people: what is wrong and how to fix it
  /// Structured facts for programs, e.g. {"result","exit-code"}, {"exit_status","1"}.
  std::vector<std::pair<std::string, std::string>> details = {};

  [[nodiscard]] const std::string* detail(std::string_view key) const noexcept {
    for (const auto& [k, v] : details) {
      if (k == key) return &v;
    }
    return nullptr;
  }
};

template <class T>
using Result = tl::expected<T, Error>;

/// Result of an operation that returns nothing on success.
using Status = Result<void>;

[[nodiscard]] inline tl::unexpected<Error> fail(ErrorKind kind, std::string code, std::string message,
                                                std::vector<std::pair<std::string, std::string>> details = {}) {
  return tl::unexpected<Error>(Error{kind, std::move(code), std::move(message), std::move(details)});
}

[[nodiscard]] inline Status ok() { return {}; }

}  // namespace siax
