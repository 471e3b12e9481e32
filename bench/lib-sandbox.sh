# Shared by the bench scripts that run an agent on APPS `sleep infinity` apps in a
# throwaway sandbox (sourced; needs ROOT, SANDBOX and PORT set, cwd at the repo root).
#   bench_sandbox_up          boots $SANDBOX (torn down on exit) with the app user siaxapp
#   bench_start_agent BIN     starts BIN serve on $PORT (no rate limit); fails if it does not answer
#   bench_register_apps N     registers and starts bench1..benchN from 4 clients ($TOKEN)
sb() { tools/sandbox/siax-sandbox exec "$SANDBOX" -- "$@"; }

bench_sandbox_up() {
  trap 'tools/sandbox/siax-sandbox down "$SANDBOX" >/dev/null 2>&1 || true' EXIT
  tools/sandbox/siax-sandbox up "$SANDBOX" --owner $$ --bind "$ROOT" >/dev/null
  sb useradd --system --no-create-home siaxapp
}

bench_start_agent() {
  tools/sandbox/siax-sandbox exec "$SANDBOX" -- "$1" --set server.port="$PORT" \
    --set apps.rate_limit_interval_ms=0 serve >/dev/null 2>&1 &
  for _ in $(seq 200); do curl -sf "127.0.0.1:$PORT/api/health" >/dev/null && return 0; sleep 0.1; done
  echo "agent $1 did not answer on port $PORT" >&2
  exit 1
}

bench_register_apps() {
  seq "$1" | xargs -P 4 -I{} curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -X POST "127.0.0.1:$PORT/api/apps/register" \
    -d '{"app_name":"bench{}","runtime":"custom","script_path":"/usr/bin/sleep","args":["infinity"],"working_directory":"/","user":"siaxapp","start":true}'
}
