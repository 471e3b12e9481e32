#!/usr/bin/env bash
# Live logs end to end: a Node.js flooder in the sandbox -> journald -> the agent's hub
# -> WebSocket viewers on the host. Prints lines/s delivered to 1 and to 10 viewers, the
# delay from a line's write (its own timestamp) to its arrival (p50/p99) at a paced rate
# and flat out, and the agent's CPU per 10,000 lines/s.
# Usage: bench/logs_bench.sh [LINES=200000] [PACED_RATE=20000]   (as root; builds release)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
LINES=${1:-200000}
RATE=${2:-20000}
SANDBOX=siax-logsbench
PORT=18093
AGENT=${SIAX_AGENT_BIN:-"$ROOT/build/release/src/siax-agent"}
if [ -z "${SIAX_AGENT_BIN:-}" ]; then
  cmake --preset release >/dev/null
  cmake --build --preset release --target siax-agent >/dev/null
fi
sb() { tools/sandbox/siax-sandbox exec "$SANDBOX" -- "$@"; }
trap 'tools/sandbox/siax-sandbox down "$SANDBOX" >/dev/null 2>&1 || true' EXIT
tools/sandbox/siax-sandbox up "$SANDBOX" --owner $$ --bind "$ROOT" --journal-unlimited >/dev/null
sb useradd --system --no-create-home siaxapp
sb systemd-run --unit=siax-agent-bench --collect -- "$AGENT" --set server.port=$PORT \
  --set apps.rate_limit_interval_ms=0 serve >/dev/null
for _ in $(seq 100); do curl -sf "127.0.0.1:$PORT/api/health" >/dev/null && break; sleep 0.1; done
TOKEN=$(sb cat /var/lib/siax-agent/cli-token)
PID=$(sb systemctl show -p MainPID --value siax-agent-bench)
/usr/bin/python3 bench/logs_bench_client.py --port "$PORT" --token "$TOKEN" --agent-pid "$PID" \
  --sandbox "$SANDBOX" --lines "$LINES" --rate "$RATE" --app-dir "$ROOT/tests/fixtures/apps/logger"
