#pragma once
/// SecretFileStore over a private directory: /etc/siax-agent/secrets when the agent runs as
/// root, <state_dir>/secrets otherwise (default_secrets_directory). The directory is created
/// 0700 and must stay owned by the agent's user without group/other rights (else every
/// operation is refused); files are `<app>.env`, created 0600 with O_CREAT|O_EXCL|O_NOFOLLOW
/// under a temporary name, fsynced and renamed into place. Thread: any; stateless apart
/// from the directory path.
#include <string>
#include <string_view>

#include "ports/secret_file_store.h"

namespace siax::adapters {

/// Root's secret directory (root mode, and the unit helper's in user mode).
inline constexpr std::string_view kRootSecretsDirectory = "/etc/siax-agent/secrets";

/// "/etc/siax-agent/secrets" for root, "<state_dir>/secrets" for any other user.
[[nodiscard]] std::string default_secrets_directory(const std::string& state_dir);

class FsSecretStore final : public ports::SecretFileStore {
 public:
  explicit FsSecretStore(std::string directory);

  [[nodiscard]] Status write(const std::string& app, const std::string& content) override;
  [[nodiscard]] Status remove(const std::string& app) override;
  [[nodiscard]] Result<std::optional<std::string>> read(const std::string& app) const override;
  [[nodiscard]] std::string path_of(const std::string& app) const override;

 private:
  /// The directory, opened (created 0700 when `create` and missing) and checked to be private.
  [[nodiscard]] Result<int> open_dir(bool create) const;

  std::string dir_;
};

}  // namespace siax::adapters
