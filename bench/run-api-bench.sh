#!/usr/bin/env bash
# Measures the agent's HTTP API with 200 registered (and running) apps, inside a
# throwaway systemd sandbox: resident memory idle with 0 and with 200 apps (from
# /proc/<pid>/status), then `wrk` on GET /api/apps (requests/s, latency percentiles).
# Usage: bench/run-api-bench.sh [APPS=200] [DURATION=20s]   (as root; builds release first)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
APPS=${1:-200}
DURATION=${2:-20s}
SANDBOX=siax-apibench
PORT=18089
AGENT="$ROOT/build/release/src/siax-agent"
cmake --preset release >/dev/null
cmake --build --preset release --target siax-agent >/dev/null
sb() { tools/sandbox/siax-sandbox exec "$SANDBOX" -- "$@"; }
trap 'tools/sandbox/siax-sandbox down "$SANDBOX" >/dev/null 2>&1 || true' EXIT
tools/sandbox/siax-sandbox up "$SANDBOX" --owner $$ --bind "$ROOT" >/dev/null
sb useradd --system --no-create-home siaxapp
tools/sandbox/siax-sandbox exec "$SANDBOX" -- "$AGENT" --set server.port=$PORT \
  --set apps.rate_limit_interval_ms=0 serve >/dev/null 2>&1 &
for _ in $(seq 100); do curl -sf "127.0.0.1:$PORT/api/health" >/dev/null && break; sleep 0.1; done
TOKEN=$(sb cat /var/lib/siax-agent/cli-token)
rss() { sb sh -c "grep VmRSS /proc/\$(pgrep -f 'server.port=$PORT' | head -1)/status"; }
sleep 2
echo "agent RSS idle, 0 apps:   $(rss)"
echo "registering and starting $APPS apps..."
start=$(date +%s.%N)
seq "$APPS" | xargs -P 4 -I{} curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' -X POST "127.0.0.1:$PORT/api/apps/register" \
  -d '{"app_name":"bench{}","runtime":"custom","script_path":"/usr/bin/sleep","args":["infinity"],"working_directory":"/","user":"siaxapp","start":true}'
end=$(date +%s.%N)
echo "registered+started $APPS apps in $(awk "BEGIN {printf \"%.1f\", $end - $start}") s (4 clients)"
running=$(curl -sf -H "Authorization: Bearer $TOKEN" "127.0.0.1:$PORT/api/apps" | grep -o '"status":"running"' | wc -l || true)
echo "apps running: $running"
sleep 5
echo "agent RSS idle, $APPS apps: $(rss)"
for c in 1 4; do
  echo "--- wrk GET /api/apps, $c connection(s), $DURATION"
  wrk -t1 -c$c -d"$DURATION" --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/apps" |
    grep -E 'Requests/sec|Latency|50%|90%|99%|requests in|Non-2xx'
done
echo "agent RSS after load:     $(rss)"
