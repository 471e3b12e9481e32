#!/usr/bin/env bash
# Measures the live state with N apps running in a throwaway sandbox, release
# build: register + start time (4 clients), RSS, the agent's and systemd's idle CPU (and
# systemd's with the agent stopped), wrk on GET /api/apps (1 and 4 connections) and on
# GET /api/apps/:name/status, kill-to-stream latency, restart through the API vs
# `systemctl restart`, and `siax-agent apps list` wall time.
# Usage: bench/run-live-bench.sh [APPS=200] [DURATION=20s]   (as root; builds release first)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
APPS=${1:-200}
DURATION=${2:-20s}
SANDBOX=${SIAX_BENCH_SANDBOX:-siax-livebench}
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
IDLE=${SIAX_BENCH_IDLE_S:-60}
if [ -n "${SIAX_BENCH_AGENT:-}" ]; then
  AGENT=$SIAX_BENCH_AGENT  # e.g. a debug build, to try the script
else
  AGENT="$ROOT/build/release/src/siax-agent"
  cmake --preset release >/dev/null
  cmake --build --preset release --target siax-agent >/dev/null
fi
# shellcheck source=bench/lib-sandbox.sh
. bench/lib-sandbox.sh
bench_sandbox_up
bench_start_agent "$AGENT"
TOKEN=$(sb cat /var/lib/siax-agent/cli-token)
rss() { sb sh -c "grep VmRSS /proc/\$(pgrep -f 'server.port=$PORT' | head -1)/status"; }
sleep 2
echo "agent RSS idle, 0 apps:   $(rss)"
start=$(date +%s.%N)
bench_register_apps "$APPS"
end=$(date +%s.%N)
echo "registered+started $APPS apps in $(awk "BEGIN {printf \"%.1f\", $end - $start}") s (4 clients)"
sleep 6
running=$(curl -sf -H "Authorization: Bearer $TOKEN" "127.0.0.1:$PORT/api/apps" | grep -o '"status":"running"' | wc -l || true)
echo "apps running: $running"
echo "agent RSS idle, $APPS apps: $(rss)"
ticks() { sb sh -c "awk '{print \$14+\$15}' /proc/$1/stat"; }
TCK=$(getconf CLK_TCK)
APID=$(sb pgrep -f "server.port=$PORT" | head -1)
echo "--- where the resident memory goes (bench/mem_breakdown.py)"
sb python3 "$ROOT/bench/mem_breakdown.py" "$APID"
a0=$(ticks "$APID"); s0=$(ticks 1); sleep "$IDLE"; a1=$(ticks "$APID"); s1=$(ticks 1)
echo "agent CPU over $IDLE s idle, $APPS apps:   $(awk "BEGIN {printf \"%.2f\", ($a1 - $a0) / $TCK / $IDLE * 100}") % of a core"
echo "systemd CPU over the same $IDLE s:        $(awk "BEGIN {printf \"%.2f\", ($s1 - $s0) / $TCK / $IDLE * 100}") % of a core"
for c in 1 4; do
  echo "--- wrk GET /api/apps, $c connection(s), $DURATION"
  wrk -t1 -c$c -d"$DURATION" --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/apps" |
    grep -E 'Requests/sec|Latency|50%|90%|99%|requests in|Non-2xx|Socket errors'
done
echo "--- wrk GET /api/apps/bench7/status, 4 connections, $DURATION"
wrk -t1 -c4 -d"$DURATION" --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/apps/bench7/status" |
  grep -E 'Requests/sec|Latency|50%|90%|99%|requests in|Non-2xx|Socket errors'
echo "--- kill -9 -> stream / API (20 apps)"
python3 bench/live_latency.py "$PORT" "$TOKEN" "$ROOT/tools/sandbox/siax-sandbox" "$SANDBOX" 20
echo "--- restart: API vs systemctl (20 each, apps bench$((APPS - 1)), bench$APPS)"
api_t=$(python3 - "$PORT" "$TOKEN" "$((APPS - 1))" <<'PY'
import sys, time, urllib.request
port, token = sys.argv[1], sys.argv[2]
ts = []
for _ in range(20):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/apps/bench{sys.argv[3]}/restart", method="POST",
                                 headers={"Authorization": f"Bearer {token}"})
    t0 = time.perf_counter(); urllib.request.urlopen(req, timeout=30).read(); ts.append(time.perf_counter() - t0)
ts.sort(); print(f"{ts[len(ts)//2]*1000:.1f} ms median, {ts[-1]*1000:.1f} ms max")
PY
)
echo "API restart:       $api_t"
sys_t=$(sb sh -c "for i in \$(seq 20); do systemctl reset-failed siax-app-bench$APPS.service; s=\$(date +%s%N); systemctl restart siax-app-bench$APPS.service; e=\$(date +%s%N); echo \$(( (e - s) / 1000 )); done" | sort -n | awk '{a[NR]=$1} END {printf "%.1f ms median, %.1f ms max", a[int((NR+1)/2)]/1000, a[NR]/1000}')
echo "systemctl restart: $sys_t (inside the sandbox; excludes the sandbox exec)"
echo "--- siax-agent apps list wall time (10 runs, inside the sandbox)"
sb sh -c "for i in \$(seq 10); do s=\$(date +%s%N); $AGENT --set server.port=$PORT apps list >/dev/null; e=\$(date +%s%N); echo \$(( (e - s) / 1000 )); done" |
  sort -n | awk '{a[NR]=$1} END {printf "median %.1f ms, max %.1f ms\n", a[int((NR+1)/2)]/1000, a[NR]/1000}'
echo "agent RSS after load:     $(rss)"
sb pkill -TERM -f "server.port=$PORT" || true
sleep 2
s0=$(ticks 1); sleep "$IDLE"; s1=$(ticks 1)
echo "systemd CPU over $IDLE s with the agent stopped ($APPS apps running): $(awk "BEGIN {printf \"%.2f\", ($s1 - $s0) / $TCK / $IDLE * 100}") % of a core"
