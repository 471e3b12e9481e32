#!/usr/bin/env bash
# Resident memory with N apps (issue 12), the steps of bench/run-live-bench.sh up to its idle
# RSS line, plus where the memory goes per mapping and `apps list` wall time (hyperfine).
# For A/B runs of a given binary: each run boots its own sandbox and registers+starts N apps
# from 4 clients, waits SETTLE seconds, then measures.
# Usage: bench/run-rss-bench.sh [AGENT_BINARY=build/release/src/siax-agent] [APPS=200]
#   env: SIAX_BENCH_SANDBOX (default siax-rssbench), SIAX_BENCH_SETTLE_S (default 20),
#        SIAX_BENCH_AGENT_ENV (one K=V for the agent, e.g. MALLOC_ARENA_MAX=1)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
AGENT=$(realpath "${1:-build/release/src/siax-agent}")
APPS=${2:-200}
SANDBOX=${SIAX_BENCH_SANDBOX:-siax-rssbench}
SETTLE=${SIAX_BENCH_SETTLE_S:-20}
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sb() { tools/sandbox/siax-sandbox exec "$SANDBOX" -- "$@"; }
trap 'tools/sandbox/siax-sandbox down "$SANDBOX" >/dev/null 2>&1 || true' EXIT
tools/sandbox/siax-sandbox up "$SANDBOX" --owner $$ --bind "$ROOT" >/dev/null
sb useradd --system --no-create-home siaxapp
tools/sandbox/siax-sandbox exec "$SANDBOX" ${SIAX_BENCH_AGENT_ENV:+--env "$SIAX_BENCH_AGENT_ENV"} -- "$AGENT" --set server.port=$PORT \
  --set apps.rate_limit_interval_ms=0 serve >/dev/null 2>&1 &
for _ in $(seq 100); do curl -sf "127.0.0.1:$PORT/api/health" >/dev/null && break; sleep 0.1; done
TOKEN=$(sb cat /var/lib/siax-agent/cli-token)
APID=$(sb pgrep -f "server.port=$PORT" | head -1)
rss() { sb sh -c "grep VmRSS /proc/$APID/status" | awk '{print $2 " kB"}'; }
sleep 2
echo "binary: $AGENT ($(stat -c %s "$AGENT") bytes)"
echo "agent RSS idle, 0 apps:   $(rss)"
seq "$APPS" | xargs -P 4 -I{} curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' -X POST "127.0.0.1:$PORT/api/apps/register" \
  -d '{"app_name":"bench{}","runtime":"custom","script_path":"/usr/bin/sleep","args":["infinity"],"working_directory":"/","user":"siaxapp","start":true}'
echo "agent RSS right after registering $APPS apps: $(rss)"
sleep "$SETTLE"
running=$(curl -sf -H "Authorization: Bearer $TOKEN" "127.0.0.1:$PORT/api/apps" | grep -o '"status":"running"' | wc -l || true)
echo "apps running: $running"
echo "agent RSS idle, $APPS apps ($SETTLE s later): $(rss)"
sb sh -c "grep -E '^(Rss|Pss|Anonymous|Private_Dirty|Shared_Clean|Private_Clean)' /proc/$APID/smaps_rollup" | tr '\n' ' '; echo
sb python3 "$ROOT/bench/mem_breakdown.py" "$APID"
echo "--- resident kB per file mapping"
sb awk '/^[0-9a-f]+-[0-9a-f]+ /{n=$6} /^Rss:/{if(n!="")r[n]+=$2} END{for(k in r) if(r[k]>0) printf "%8d %s\n", r[k], k}' /proc/$APID/smaps | sort -rn | head -25
echo "--- siax-agent apps list wall time (hyperfine, inside the sandbox; load $(cut -d' ' -f1-3 /proc/loadavg))"
sb hyperfine -N --warmup 3 --runs 40 --style basic "$AGENT --set server.port=$PORT apps list" 2>&1 | grep -E 'Time|Range' || true
