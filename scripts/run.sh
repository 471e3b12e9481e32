#!/usr/bin/env bash
# Runs the agent on this machine, doing all set-up first (packages, a release build of the
# agent alone: no tests, no benchmarks).
#   - On a host booted with systemd: runs `siax-agent serve` directly.
#   - Elsewhere (PID 1 is not systemd, as on the project's VMs): boots a throwaway
#     systemd sandbox (tools/sandbox/siax-sandbox, name "siax-run") and runs the agent
#     inside it; it shares the host's network, so the agent is reachable from the host on
#     127.0.0.1:${SIAX_PORT:-8080}.
# --demo (or SIAX_DEMO=1): once the agent answers, registers and starts two example apps
# (examples/: one Node.js, one FastAPI) so that the panel is not empty.
# Stop it with Ctrl-C (or SIGTERM to this script): the agent stops and the sandbox, with
# everything registered in it, is torn down.
# Other arguments are passed to `siax-agent serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SANDBOX=siax-run
DEMO=${SIAX_DEMO:-0}
ARGS=()
for a in "$@"; do
  if [ "$a" = --demo ]; then DEMO=1; else ARGS+=("$a"); fi
done
[ "$(id -u)" = 0 ] || { echo "run.sh: run as root (it installs packages and boots systemd)" >&2; exit 2; }

bash scripts/setup.sh
cmake --preset release -DSIAX_BUILD_TESTS=OFF -DSIAX_BUILD_BENCH=OFF >/dev/null
cmake --build build/release --target siax-agent
AGENT="$ROOT/build/release/src/siax-agent"

if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
  if [ "$DEMO" = 1 ]; then bash scripts/demo.sh & fi
  exec "$AGENT" serve ${ARGS[@]+"${ARGS[@]}"}
fi

echo "run.sh: PID 1 is not systemd here: booting the sandbox '$SANDBOX'"
cleanup() { tools/sandbox/siax-sandbox down "$SANDBOX" >/dev/null 2>&1 || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM
tools/sandbox/siax-sandbox up "$SANDBOX" --owner $$ --bind "$ROOT"
echo "run.sh: agent on 127.0.0.1:${SIAX_PORT:-8080}; open http://127.0.0.1:${SIAX_PORT:-8080}/ (Ctrl-C stops it and tears the sandbox down)"
echo "run.sh: log in as 'admin'; its first password (never printed) is in a root-only file inside the sandbox:"
echo "          tools/sandbox/siax-sandbox exec $SANDBOX -- cat /var/lib/siax-agent/initial-admin-password"
echo "        or set your own: tools/sandbox/siax-sandbox exec $SANDBOX -- $AGENT user set-password admin"
if [ "$DEMO" = 1 ]; then bash scripts/demo.sh "$SANDBOX" & fi
tools/sandbox/siax-sandbox exec "$SANDBOX" --cwd / \
  ${SIAX_PORT:+--env SIAX_PORT="$SIAX_PORT"} -- "$AGENT" serve ${ARGS[@]+"${ARGS[@]}"}
