#!/usr/bin/env bash
# Runs every test on a fresh machine of this kind: installs what is needed, builds,
# runs the unit tests (debug and ASan+UBSan builds), the sandbox tool's self-test, and
# the integration tests against a real systemd booted in a throwaway sandbox.
# The last line is "tests: N passed, M failed"; the exit code is non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SANDBOX=${SIAX_TEST_SANDBOX:-siax-test}
LOGDIR="$ROOT/build/test-logs"
PASSED=0
FAILED=0

die() { echo "test.sh: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "run as root: the sandbox needs it"

step() { echo; echo "=== $* ==="; }

# Adds a gtest binary's counts ("[  PASSED  ] N tests." / "[  FAILED  ] N tests,") to the totals.
count_gtest() {
  local log=$1 p f
  p=$(grep -Eo '^\[  PASSED  \] [0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1)
  f=$(grep -Eo '^\[  FAILED  \] [0-9]+ tests?,' "$log" | grep -Eo '[0-9]+' | tail -1)
  PASSED=$((PASSED + ${p:-0}))
  FAILED=$((FAILED + ${f:-0}))
}

# Runs a command; a non-zero exit with no failure counted becomes one failure.
run_counted() {
  local name=$1; shift
  local log="$LOGDIR/$name.log" before=$FAILED rc
  "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  count_gtest "$log"
  if [ "$rc" -ne 0 ] && [ "$FAILED" -eq "$before" ]; then
    echo "test.sh: $name exited with $rc"
    FAILED=$((FAILED + 1))
  fi
}

# Runs a command whose last summary line is "N passed, M failed" (the shell test scripts)
# and adds the counts; no such line, or a non-zero exit with no failure counted, is one failure.
run_summary() {
  local name=$1; shift
  local log="$LOGDIR/$name.log" rc sp
  "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  sp=$(grep -Eo '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  if [ -z "$sp" ]; then
    echo "test.sh: $name printed no summary (exit $rc)"
    FAILED=$((FAILED + 1))
    return
  fi
  PASSED=$((PASSED + $(echo "$sp" | cut -d' ' -f1)))
  FAILED=$((FAILED + $(echo "$sp" | cut -d' ' -f3)))
  if [ "$rc" -ne 0 ] && [ "$(echo "$sp" | cut -d' ' -f3)" -eq 0 ]; then FAILED=$((FAILED + 1)); fi
}

step "setup"
bash scripts/setup.sh || die "setup failed"
mkdir -p "$LOGDIR"

step "build (debug: everything; asan: the unit tests only)"
cmake --preset debug >/dev/null || die "cmake configure (debug) failed"
cmake --build --preset debug || die "build (debug) failed"
cmake --preset asan >/dev/null || die "cmake configure (asan) failed"
cmake --build --preset asan --target siax_unit_tests || die "build (asan) failed"

step "style of the lines this branch adds vs main (clang-format, clang-tidy naming; reported, not counted)"
# Not counted: code moved between files counts as added, so a split shows old lines.
bash scripts/check-style.sh 2>&1 | tee "$LOGDIR/check-style.log" || true

step "layout: files <= 500 lines, functions <= 80, module dependencies as docs/ARCHITECTURE.md (counted)"
run_counted check-layout bash scripts/check-layout.sh
step "the layout checker's own tests (small trees with each kind of violation)"
run_summary check-layout-test bash tests/scripts/check_layout_test.sh

step "unit tests (debug)"
run_counted unit-debug build/debug/tests/siax_unit_tests --gtest_brief=1
step "unit tests (ASan+UBSan)"
run_counted unit-asan build/asan/tests/siax_unit_tests --gtest_brief=1

step "sandbox tool self-test"
selftest_log="$LOGDIR/sandbox-selftest.log"
bash tests/sandbox/sandbox_selftest.sh 2>&1 | tee "$selftest_log"
sp=$(grep -Eo '^[0-9]+ passed, [0-9]+ failed' "$selftest_log" | tail -1)
if [ -n "$sp" ]; then
  PASSED=$((PASSED + $(echo "$sp" | cut -d' ' -f1)))
  FAILED=$((FAILED + $(echo "$sp" | cut -d' ' -f3)))
else
  FAILED=$((FAILED + 1))
fi

step "integration tests in a real systemd (sandbox $SANDBOX)"
trap 'tools/sandbox/siax-sandbox down "$SANDBOX" >/dev/null 2>&1' EXIT
# The checkout is bound inside (live), so that it is visible wherever it lives (even /tmp).
if tools/sandbox/siax-sandbox up "$SANDBOX" --owner $$ --journal-unlimited --bind "$ROOT"; then
  sb() { tools/sandbox/siax-sandbox exec "$SANDBOX" "$@"; }
  sb -- useradd --system --no-create-home --shell /usr/sbin/nologin siaxapp
  run_counted integration sb --cwd "$ROOT" -- "$ROOT/build/debug/tests/siax_integration_tests" --gtest_brief=1

  # One pytest run per suite (each folder has its own conftest.py), counted like the rest.
  # run_pytest SUITE [SANDBOX]: in sandbox $SANDBOX unless another is named.
  run_pytest() {
    local suite=$1 sandbox=${2:-$SANDBOX} log="$LOGDIR/pytest-$1${2:+-$2}.log"
    (cd "tests/integration/$suite" && SIAX_SANDBOX="$sandbox" SIAX_AGENT_BIN="$ROOT/build/debug/src/siax-agent" \
      /usr/bin/python3 -m pytest -q -p no:cacheprovider 2>&1) | tee "$log"
    local rc=${PIPESTATUS[0]} summary p f
    summary=$(grep -E '^(=+ )?[0-9]+ (passed|failed|errors?)' "$log" | tail -1)
    p=$(echo "$summary" | grep -Eo '[0-9]+ passed' | grep -Eo '[0-9]+')
    f=$(echo "$summary" | grep -Eo '[0-9]+ (failed|errors?)' | grep -Eo '[0-9]+' | awk '{s+=$1} END {print s+0}')
    PASSED=$((PASSED + ${p:-0}))
    FAILED=$((FAILED + ${f:-0}))
    if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then FAILED=$((FAILED + 1)); fi
  }
  step "API and monitor integration tests (pytest, agent in the sandbox, client on the host)"
  run_pytest api
  step "live logs integration tests (pytest + WebSocket client, real journald in the sandbox)"
  run_pytest logs
  step "panel browser tests (playwright-core drives Debian's chromium; agent in the sandbox)"
  e2e_log="$LOGDIR/e2e.log"
  (cd tests/e2e && SIAX_SANDBOX="$SANDBOX" SIAX_AGENT_BIN="$ROOT/build/debug/src/siax-agent" \
    SIAX_E2E_ARTIFACTS="$ROOT/build/test-artifacts/e2e" node run.mjs 2>&1) | tee "$e2e_log"
  e2e_rc=${PIPESTATUS[0]}
  ep=$(grep -Eo '^e2e: [0-9]+ passed, [0-9]+ failed' "$e2e_log" | tail -1)
  if [ -n "$ep" ]; then
    PASSED=$((PASSED + $(echo "$ep" | cut -d' ' -f2)))
    FAILED=$((FAILED + $(echo "$ep" | cut -d' ' -f4)))
  fi
  if [ "$e2e_rc" -ne 0 ] && { [ -z "$ep" ] || [ "$(echo "$ep" | cut -d' ' -f4)" -eq 0 ]; }; then FAILED=$((FAILED + 1)); fi
  step "deploy script tests (desplegar_agent.sh installs the agent as siax-agent.service; systemd 252)"
  run_pytest deploy
  step "polkit matrix (the agent's user and the polkit rule, systemd 252)"
  run_summary polkit-252 bash tests/integration/polkit/polkit_matrix.sh "$SANDBOX"
  tools/sandbox/siax-sandbox down "$SANDBOX"
else
  echo "test.sh: the sandbox did not boot"
  FAILED=$((FAILED + 1))
fi

# A second systemd version: a Debian 13 root (systemd 257), built once per machine and cached
# (/var/cache/siax-sandbox/trixie; the first run spends minutes on it), booted like the first.
SANDBOX257="$SANDBOX-257"
step "integration tests in systemd 257 (Debian 13 image, sandbox $SANDBOX257)"
trap 'tools/sandbox/siax-sandbox down "$SANDBOX" >/dev/null 2>&1; tools/sandbox/siax-sandbox down "$SANDBOX257" >/dev/null 2>&1' EXIT
if tools/sandbox/siax-sandbox up "$SANDBOX257" --image trixie --owner $$ --journal-unlimited --bind "$ROOT"; then
  sb257() { tools/sandbox/siax-sandbox exec "$SANDBOX257" "$@"; }
  sb257 -- useradd --system --no-create-home --shell /usr/sbin/nologin siaxapp
  run_counted integration-257 sb257 --cwd "$ROOT" -- "$ROOT/build/debug/tests/siax_integration_tests" --gtest_brief=1
  step "API, monitor and live logs integration tests in systemd 257 (pytest)"
  if declare -F run_pytest >/dev/null; then # defined above, when the 252 sandbox booted
    run_pytest api "$SANDBOX257"
    run_pytest logs "$SANDBOX257"
  fi
  step "polkit matrix (the agent's user and the polkit rule, systemd 257)"
  run_summary polkit-257 bash tests/integration/polkit/polkit_matrix.sh "$SANDBOX257"
  if declare -F run_pytest >/dev/null; then
    step "deploy script tests on systemd 257 (desplegar_agent.sh, sandbox $SANDBOX257)"
    run_pytest deploy "$SANDBOX257"
  fi
  tools/sandbox/siax-sandbox down "$SANDBOX257"
else
  echo "test.sh: the systemd 257 sandbox did not boot"
  FAILED=$((FAILED + 1))
fi

echo
echo "tests: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
