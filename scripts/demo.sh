#!/usr/bin/env bash
# Registers and starts the two demo apps (examples/) once the agent answers. Called by
# scripts/run.sh --demo, in the background; usable alone against a running agent:
#   bash scripts/demo.sh [sandbox-name]     (no name: the agent runs on this host)
# Each app is registered only if it is not there yet.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SANDBOX=${1:-}
PORT=${SIAX_PORT:-8080}
AGENT="$ROOT/build/release/src/siax-agent"
[ -x "$AGENT" ] || AGENT="$ROOT/build/debug/src/siax-agent"
NODE_PORT=${SIAX_DEMO_NODE_PORT:-8300}
FASTAPI_PORT=${SIAX_DEMO_FASTAPI_PORT:-8301}

cli() {
  if [ -n "$SANDBOX" ]; then
    tools/sandbox/siax-sandbox exec "$SANDBOX" --env SIAX_PORT="$PORT" -- "$AGENT" "$@"
  else
    SIAX_PORT="$PORT" "$AGENT" "$@"
  fi
}

for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/api/health" >/dev/null 2>&1 && break
  sleep 0.2
done

mkdir -p build/demo
cat > build/demo/hello-node.json <<JSON
{"app_name": "hello-node", "runtime": "node", "script_path": "$ROOT/examples/hello-node/server.js",
 "working_directory": "$ROOT/examples/hello-node", "user": "nobody",
 "environment": {"PORT": "$NODE_PORT"}, "description": "Demo Node.js app (scripts/run.sh --demo)"}
JSON
cat > build/demo/hello-fastapi.json <<JSON
{"app_name": "hello-fastapi", "runtime": "uvicorn", "module": "main:app", "port": $FASTAPI_PORT,
 "working_directory": "$ROOT/examples/hello-fastapi", "user": "nobody",
 "health_check": {"path": "/health"}, "description": "Demo FastAPI app (scripts/run.sh --demo)"}
JSON
for app in hello-node hello-fastapi; do
  if cli apps status "$app" >/dev/null 2>&1; then
    echo "demo: $app is already registered"
  elif cli apps register "$ROOT/build/demo/$app.json" --start >/dev/null; then
    echo "demo: registered and started $app"
  else
    echo "demo: could not register $app (see the message above)" >&2
  fi
done
echo "demo: open http://127.0.0.1:$PORT/ to see them"
