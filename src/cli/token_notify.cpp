#include "cli/token_notify.h"

#include <sys/stat.h>

#include <fstream>
#include <iostream>
#include <string>

#include "cli/client.h"

namespace siax::cli {

void tell_agent_tokens_changed(const config::Config& cfg) {
  const std::string socket = cfg.paths.state_dir + "/agent.sock";
  struct stat st {};
  if (::stat(socket.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return;  // no agent running here
  Endpoint ep;
  ep.unix_socket = socket;
  ep.port = cfg.server.port;
  std::ifstream in(cfg.paths.state_dir + "/cli-token");
  in >> ep.token;
  auto r = call(ep, "POST", "/api/tokens/reload");
  // 401: the local admin token itself was just revoked, and the agent already knows.
  if (r && (r->status == 200 || r->status == 401)) return;
  std::cerr << "note: the running agent did not confirm the change ("
            << (r ? "HTTP " + std::to_string(r->status) : r.error().message)
            << "); it takes effect when the agent sees the registry change (a file watch: at once; at the "
               "latest in 60 s)\n";
}

}  // namespace siax::cli
