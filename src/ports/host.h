#pragma once
/// Port: read-only facts about the host that the checks before acting need
/// (users, files). Thread: any; the Linux adapter is stateless.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace siax::ports {

struct UserInfo {
  std::string name;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::vector<std::uint32_t> groups;  ///< supplementary groups, including gid
};

enum class FileKind { Missing, Regular, Directory, Other };

struct FileInfo {
  FileKind kind = FileKind::Missing;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::uint32_t mode = 0;  ///< permission bits (st_mode & 07777)
};

class Host {
 public:
  virtual ~Host() = default;
  /// The user, or nullopt when no such user exists.
  [[nodiscard]] virtual std::optional<UserInfo> find_user(const std::string& name) const = 0;
  /// stat(2) following symlinks; Missing when the path does not exist.
  [[nodiscard]] virtual FileInfo stat(const std::string& path) const = 0;
  /// Whether the system journal files can be read by the agent.
  [[nodiscard]] virtual bool journal_readable() const = 0;
  /// The agent's effective uid.
  [[nodiscard]] virtual std::uint32_t effective_uid() const = 0;
};

}  // namespace siax::ports
