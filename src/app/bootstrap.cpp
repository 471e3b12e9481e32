#include "app/bootstrap.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "app/wall_clock.h"
#include "auth/passwords.h"
#include "auth/tokens.h"

namespace siax::app {
namespace {

/// Writes a secret to a new file that is 0600 from its creation (O_EXCL: never an
/// existing file or a planted symlink).
Status write_secret_file(const std::string& path, const std::string& content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    return fail(ErrorKind::Internal, "secret_file",
                fmt::format("cannot create {}: {} (remove it if it is left over, then start again)", path,
                            std::strerror(errno)));
  }
  const std::string data = content + "\n";
  std::size_t done = 0;
  while (done < data.size()) {
    const auto n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      return fail(ErrorKind::Internal, "secret_file", fmt::format("cannot write {}: {}", path, std::strerror(err)));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return fail(ErrorKind::Internal, "secret_file", fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  }
  return ok();
}

}  // namespace

Status bootstrap_credentials(registry::Registry& reg, const std::string& state_dir) {
  auto users = reg.list_users();
  auto tokens = reg.list_tokens();
  if (!users) return tl::unexpected(users.error());
  if (!tokens) return tl::unexpected(tokens.error());
  if (!users->empty() || !tokens->empty()) return ok();

  auto password = auth::generate_password();
  if (!password) return tl::unexpected(password.error());
  const std::string password_file = state_dir + "/initial-admin-password";
  const std::string token_file = state_dir + "/cli-token";
  // Left over from a start that failed half-way: stale secrets, not ours to trust.
  ::unlink(password_file.c_str());
  ::unlink(token_file.c_str());
  auto hash = auth::hash_password(*password);
  if (!hash) return tl::unexpected(hash.error());
  if (auto s = reg.put_user({.username = "admin", .password_hash = *hash, .role = registry::Role::Admin, .created_at_usec = now_usec()}); !s) return s;

  auto token = auth::generate_token();
  if (!token) return tl::unexpected(token.error());
  auto token_hash = auth::hash_token(*token);
  if (!token_hash) return tl::unexpected(token_hash.error());
  if (auto id = reg.add_token("local-cli", registry::Role::Admin, *token_hash, now_usec()); !id) {
    return tl::unexpected(id.error());
  }
  if (auto s = write_secret_file(password_file, *password); !s) return s;
  if (auto s = write_secret_file(token_file, *token); !s) return s;
  std::printf(
      "\n"
      "siax-agent: first start, an admin was created (no secret is printed):\n"
      "  panel login:  user 'admin'; the first password is in %s (root only).\n"
      "                Set your own now: 'siax-agent user set-password admin', then delete that file.\n"
      "  local CLI:    an admin token is in %s (root only); 'siax-agent apps list' uses it\n"
      "  programs:     create scoped tokens with 'siax-agent token create NAME --role viewer|operator|admin'\n\n",
      password_file.c_str(), token_file.c_str());
  std::fflush(stdout);
  return ok();
}

}  // namespace siax::app
