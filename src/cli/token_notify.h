#pragma once
/// After `siax-agent token create|revoke` wrote the registry: asks the running agent to
/// reload its in-memory tokens (POST /api/tokens/reload over <state_dir>/agent.sock, with
/// the local admin token <state_dir>/cli-token) and waits for the answer, so that the new
/// token works, or the revoked one is refused, as soon as the command returns. Without a
/// running agent (no socket) there is nothing to do; if the agent does not confirm, it
/// still picks the change up by itself (a file watch; at the latest in 60 s, docs/SECURITY.md), and this says so on
/// stderr. Never prints a secret.
#include "config/config.h"

namespace siax::cli {

void tell_agent_tokens_changed(const config::Config& cfg);

}  // namespace siax::cli
