#!/usr/bin/env bash
# Measures the agent's HTTP API with 200 registered (and running) apps, inside a
# throwaway systemd sandbox: resident memory idle with 0 and with 200 apps (from
# /proc/<pid>/status), the agent's and systemd's CPU over a minute of monitoring, then
# `wrk` on GET /api/apps (requests/s, latency percentiles).
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
# CPU over a minute of monitoring at the default interval (utime+stime from /proc/<pid>/stat),
# the agent's and systemd's (PID 1 of the sandbox, which answers the monitor's D-Bus calls).
ticks() { sb sh -c "awk '{print \$14+\$15}' /proc/$1/stat"; }
APID=$(sb pgrep -f "server.port=$PORT" | head -1)
TCK=$(getconf CLK_TCK)
a0=$(ticks "$APID"); s0=$(ticks 1)
sleep 60
a1=$(ticks "$APID"); s1=$(ticks 1)
echo "agent CPU over 60 s idle, $APPS apps:   $(awk "BEGIN {printf \"%.2f\", ($a1 - $a0) / $TCK / 60 * 100}") % of a core"
echo "systemd CPU over the same 60 s:        $(awk "BEGIN {printf \"%.2f\", ($s1 - $s0) / $TCK / 60 * 100}") % of a core"
curl -sf -H "Authorization: Bearer $TOKEN" "127.0.0.1:$PORT/api/system" |
  grep -o '"unit_reads":[0-9]*,"unit_reads_saved":[0-9]*' || true
for c in 1 4; do
  echo "--- wrk GET /api/apps, $c connection(s), $DURATION"
  wrk -t1 -c$c -d"$DURATION" --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/apps" |
    grep -E 'Requests/sec|Latency|50%|90%|99%|requests in|Non-2xx|Socket errors'
done
echo "agent RSS after load:     $(rss)"
