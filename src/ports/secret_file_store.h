#pragma once
/// Port: where the apps' secret environment files live (docs/SECURITY.md, "Secret
/// environment"): one file per app, readable by root only, named by the unit's
/// EnvironmentFile=. Writes are atomic (a reader sees the old file or the new one).
/// Thread: any, but callers serialize operations on one app.
/// Errors: InvalidInput (a name that is not an app name), PermissionDenied, Internal (I/O,
/// or a directory that is not private). Messages never contain a file's content.
#include <optional>
#include <string>

#include "common/result.h"

namespace siax::ports {

class SecretFileStore {
 public:
  virtual ~SecretFileStore() = default;

  /// Replaces the app's file atomically with `content`, mode 0600.
  [[nodiscard]] virtual Status write(const std::string& app, const std::string& content) = 0;
  /// Removes the app's file; succeeds when it is already gone.
  [[nodiscard]] virtual Status remove(const std::string& app) = 0;
  /// The file's content (to put it back after a failed update), or nullopt when there is none.
  [[nodiscard]] virtual Result<std::optional<std::string>> read(const std::string& app) const = 0;
  /// The file's full path (for EnvironmentFile= and messages).
  [[nodiscard]] virtual std::string path_of(const std::string& app) const = 0;
};

}  // namespace siax::ports
