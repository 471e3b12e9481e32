#pragma once
/// Port: where unit files live (/etc/systemd/system on a real host).
///
/// Writes are atomic: a reader (systemd) sees the old file or the new one, never a
/// partial one. Thread: any, but callers serialize writes of one unit.
/// Errors: PermissionDenied (directory not writable: says which right is missing),
/// InvalidInput (a name that is not a siax-app-*.service unit), Internal (I/O).
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace siax::ports {

class UnitFileStore {
 public:
  virtual ~UnitFileStore() = default;

  /// Replaces the unit file atomically (temporary file, fsync, rename, fsync of the directory).
  [[nodiscard]] virtual Status write(const std::string& unit, const std::string& content) = 0;
  /// Removes the unit file; succeeds when it is already gone.
  [[nodiscard]] virtual Status remove(const std::string& unit) = 0;
  /// The file's content, or nullopt when there is no such file.
  [[nodiscard]] virtual Result<std::optional<std::string>> read(const std::string& unit) const = 0;
  /// Names of the siax-app-*.service files present.
  [[nodiscard]] virtual Result<std::vector<std::string>> list() const = 0;
  /// Full path of the unit's file (for messages and the API).
  [[nodiscard]] virtual std::string path_of(const std::string& unit) const = 0;
  /// Whether write() would be allowed, without writing.
  [[nodiscard]] virtual bool writable() const = 0;
};

}  // namespace siax::ports
