#pragma once
// A host made of literal users and files, for the checks before acting.
#include <map>
#include <string>

#include "ports/host.h"

namespace siax::fakes {

class FakeHost final : public ports::Host {
 public:
  std::map<std::string, ports::UserInfo> users;
  std::map<std::string, ports::FileInfo> files;
  bool journal = true;
  std::uint32_t euid = 0;

  /// A host with root, user "app" (uid 1000), /srv/app with server.js, main.py,
  /// package.json, and the interpreters; directories 0755, files 0644.
  static FakeHost typical() {
    FakeHost h;
    h.users["root"] = {"root", 0, 0, {0}};
    h.users["app"] = {"app", 1000, 1000, {1000}};
    for (const char* d : {"/", "/srv", "/srv/app", "/srv/app/pkg", "/usr", "/usr/bin"}) h.dir(d);
    for (const char* f : {"/srv/app/server.js", "/srv/app/main.py", "/srv/app/package.json", "/srv/app/pkg/api.py"}) {
      h.file(f, 0644);
    }
    for (const char* f : {"/usr/bin/node", "/usr/bin/npm", "/usr/bin/python3", "/srv/app/run.sh"}) h.file(f, 0755);
    return h;
  }
  void dir(const std::string& p, std::uint32_t mode = 0755, std::uint32_t uid = 0) {
    files[p] = {ports::FileKind::Directory, uid, uid, mode};
  }
  void file(const std::string& p, std::uint32_t mode = 0644, std::uint32_t uid = 0) {
    files[p] = {ports::FileKind::Regular, uid, uid, mode};
  }

  std::optional<ports::UserInfo> find_user(const std::string& name) const override {
    auto it = users.find(name);
    if (it == users.end()) return std::nullopt;
    return it->second;
  }
  ports::FileInfo stat(const std::string& path) const override {
    auto it = files.find(path);
    return it == files.end() ? ports::FileInfo{} : it->second;
  }
  bool journal_readable() const override { return journal; }
  std::uint32_t effective_uid() const override { return euid; }
};

}  // namespace siax::fakes
