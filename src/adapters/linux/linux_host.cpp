#include "adapters/linux/linux_host.h"

#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

namespace siax::adapters {

std::optional<ports::UserInfo> LinuxHost::find_user(const std::string& name) const {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) return std::nullopt;
  ports::UserInfo info{pw.pw_name, pw.pw_uid, pw.pw_gid, {}};
  int count = 64;
  std::vector<gid_t> groups(static_cast<std::size_t>(count));
  if (::getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &count) < 0) {
    groups.resize(static_cast<std::size_t>(count));
    if (::getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &count) < 0) count = 0;
  }
  for (int i = 0; i < count; ++i) info.groups.push_back(groups[static_cast<std::size_t>(i)]);
  if (info.groups.empty()) info.groups.push_back(pw.pw_gid);
  return info;
}

ports::FileInfo LinuxHost::stat(const std::string& path) const {
  struct ::stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  ports::FileInfo info;
  info.kind = S_ISREG(st.st_mode) ? ports::FileKind::Regular
              : S_ISDIR(st.st_mode) ? ports::FileKind::Directory
                                    : ports::FileKind::Other;
  info.uid = st.st_uid;
  info.gid = st.st_gid;
  info.mode = st.st_mode & 07777;
  return info;
}

bool LinuxHost::journal_readable() const {
  // The journal is readable when at least one system journal file is: root, or a
  // member of systemd-journal / adm.
  bool readable = false;
  for (const char* pattern : {"/run/log/journal/*/system.journal", "/var/log/journal/*/system.journal"}) {
    glob_t g{};
    if (::glob(pattern, 0, nullptr, &g) == 0) {
      for (std::size_t i = 0; i < g.gl_pathc; ++i) {
        if (::faccessat(AT_FDCWD, g.gl_pathv[i], R_OK, AT_EACCESS) == 0) readable = true;
      }
    }
    ::globfree(&g);
  }
  return readable;
}

std::uint32_t LinuxHost::effective_uid() const { return ::geteuid(); }

}  // namespace siax::adapters
