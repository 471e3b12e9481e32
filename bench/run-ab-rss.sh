#!/usr/bin/env bash
# A/B of resident memory on the same apps (issue 12): one sandbox, APPS `sleep infinity`
# apps registered once (with the first binary), then each binary is started in turn on
# them (alternating, ROUNDS rounds), left idle IDLE s, measured (VmRSS, smaps_rollup,
# the Rss of each file mapping, bench/mem_breakdown.py) and stopped. In round 1 also
# `apps list` (hyperfine, in the sandbox) and wrk GET /api/apps (4 connections, 10 s).
# Usage: bench/run-ab-rss.sh BINARY_A BINARY_B [...]   (as root; copy builds aside first)
#   env: SIAX_BENCH_SANDBOX (default siax-abrss), APPS (200), IDLE (30), ROUNDS (2)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd); SANDBOX=${SIAX_BENCH_SANDBOX:-siax-abrss}; APPS=${APPS:-200}; IDLE=${IDLE:-30}; ROUNDS=${ROUNDS:-2}
BINS=(); for b in "$@"; do BINS+=("$(realpath "$b")"); done
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# shellcheck source=bench/lib-sandbox.sh
. bench/lib-sandbox.sh
bench_sandbox_up
stop_agent() {
  sb pkill -TERM -f "server.port=$PORT" || true
  for _ in $(seq 100); do sb pgrep -f "server.port=$PORT" >/dev/null || return 0; sleep 0.1; done
}
bench_start_agent "${BINS[0]}"
TOKEN=$(sb cat /var/lib/siax-agent/cli-token)
bench_register_apps "$APPS"
sleep 5; stop_agent
for r in $(seq "$ROUNDS"); do
  for bin in "${BINS[@]}"; do
    echo "=== round $r: $bin  (load $(cut -d' ' -f1-3 /proc/loadavg))"
    bench_start_agent "$bin"; sleep "$IDLE"
    APID=$(sb pgrep -f "server.port=$PORT" | head -1)
    echo "  apps running: $(curl -sf -H "Authorization: Bearer $TOKEN" "127.0.0.1:$PORT/api/apps" | grep -o '"status":"running"' | wc -l || true)"
    sb grep -E 'VmRSS|RssAnon|RssFile' /proc/$APID/status | tr -s ' \t' ' ' | paste -sd' '
    sb grep -E '^(Rss|Pss):' /proc/$APID/smaps_rollup | tr -s ' \t' ' ' | paste -sd' '
    sb awk '/^[0-9a-f]+-/ {f = ($6 ~ /^\//) ? $6 : ""; sub(".*/", "", f)} /^Rss:/ && f != "" {r[f] += $2}
      END {for (f in r) printf "%s %d\n", f, r[f]}' /proc/$APID/smaps | sort -k2 -nr | paste -sd',' | sed 's/^/  file-backed Rss kB: /'
    sb python3 "$ROOT/bench/mem_breakdown.py" "$APID" | sed 's/^/  /'
    if [ "$r" = 1 ]; then
      sb hyperfine -N -w 3 -r 30 --style basic "$bin --set server.port=$PORT apps list" 2>&1 | grep -E 'Time|Range' | sed 's/^/  /'
      echo "  wrk GET /api/apps, 4 connections, 10 s (load $(cut -d' ' -f1 /proc/loadavg)):"
      wrk -t1 -c4 -d10s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/apps" | grep -E 'Requests/sec|Non-2xx|Socket errors' | sed 's/^/    /'
    fi
    stop_agent
  done
done
