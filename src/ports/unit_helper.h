#pragma once
/// Port: the root unit helper (docs/SECURITY.md, "The unit helper"), through which an agent
/// that cannot write the unit directory (user mode) installs, removes, enables and disables
/// its siax-app-* units. It carries app *definitions*, never unit text: the helper validates
/// and renders them itself with the agent's own code.
///
/// Thread: any; the socket adapter opens one connection per call. Calls block (the helper
/// reloads systemd, a remove stops the app) and must run on worker threads.
/// Errors: PermissionDenied with detail missing_right=write_unit_files when the helper does
/// not answer or refuses this process; otherwise the helper's own error (InvalidInput for a
/// definition it refuses, NotFound, OperationFailed, ...).
#include <string>

#include "common/result.h"
#include "core/app_definition.h"

namespace siax::ports {

struct HelperInstalled {
  std::string unit;
  std::string path;
  std::string content;  ///< the unit text the helper rendered and wrote
  bool changed = false;
};

class UnitHelper {
 public:
  virtual ~UnitHelper() = default;

  /// Validates, renders and writes the app's unit (and its secret environment file), then
  /// reloads systemd; nothing changes when any step fails.
  [[nodiscard]] virtual Result<HelperInstalled> install(const core::AppDefinition& def) = 0;
  /// Disables and stops the app, removes its unit and secret file, reloads systemd.
  [[nodiscard]] virtual Status remove(const std::string& app) = 0;
  [[nodiscard]] virtual Status enable(const std::string& app) = 0;
  [[nodiscard]] virtual Status disable(const std::string& app) = 0;
  /// Whether the helper answers and accepts this process.
  [[nodiscard]] virtual Status ping() = 0;
  /// Where the helper is (for messages), e.g. its socket's path.
  [[nodiscard]] virtual std::string where() const = 0;
};

}  // namespace siax::ports
