#!/usr/bin/env bash
# Self-test of tools/sandbox/siax-sandbox against the real machine: boots real sandboxes
# (needs root, and scripts/setup.sh to have run). Prints TAP-like lines ("ok N - ...",
# "not ok N - ...", diagnostics as "# ..."), then exactly one line "N passed, M failed".
# Exits 1 if anything failed.
#
# Usage: tests/sandbox/sandbox_selftest.sh
#   SIAX_SANDBOX=/path/to/siax-sandbox overrides the tool under test.
#
# The sandbox names include this script's PID, so the test can run next to other users
# of the tool; every sandbox it creates is removed on exit, whatever happens.

set -uo pipefail # no -e: failing commands are what a test looks at

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SANDBOX=${SIAX_SANDBOX:-$HERE/../../tools/sandbox/siax-sandbox}
# The tool's directory is bound inside, so the "sees the host's files" check also holds for
# a checkout under /tmp (which the sandbox does not share with the host otherwise).
TOOL_DIR=$(cd "$(dirname "$SANDBOX")" && pwd)
SANDBOX=$TOOL_DIR/$(basename "$SANDBOX")
BOOT_TIMEOUT=30   # seconds; what `up` is given and what the boot test allows
WATCHDOG_LIMIT=10 # seconds the owner watchdog may take to remove a sandbox

A=sbt$$-a # the main sandbox
B=sbt$$-b # the second one, up at the same time as A
W=sbt$$-w # owner watchdog test
S=sbt$$-s # stale recovery test
T=sbt$$-t # the trixie image (Debian 13, systemd 257)
ALL_NAMES=("$A" "$B" "$W" "$S" "$T")

passed=0
failed=0
count=0
WORK=$(mktemp -d /tmp/siax-sandbox-selftest.XXXXXX)
HOST_MARKER=/var/tmp/siax-sandbox-selftest-marker-$$ # written inside only
SLEEPERS=()                                           # PIDs of our sleep processes
INIT_PIDS=()                                          # every container init we saw

ok() {
  count=$((count + 1)) passed=$((passed + 1))
  echo "ok $count - $*"
}
not_ok() {
  count=$((count + 1)) failed=$((failed + 1))
  echo "not ok $count - $*"
}
diag() { sed 's/^/# /'; }
# check DESCRIPTION COMMAND...: ok if COMMAND succeeds.
check() {
  local desc=$1
  shift
  if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# sbx ARGS...: run the tool, its stderr to $WORK/err (shown as diagnostics on failure).
sbx() { "$SANDBOX" "$@" 2>"$WORK/err"; }
show_err() { [[ -s $WORK/err ]] && diag <"$WORK/err"; return 0; }

cleanup() {
  local name pid
  for name in "${ALL_NAMES[@]}"; do "$SANDBOX" down "$name" >/dev/null 2>&1; done
  for pid in "${SLEEPERS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  rm -rf -- "$WORK" "$HOST_MARKER"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# start_sleeper: start `sleep 1000` in the background, its PID in $SLEEPER.
start_sleeper() {
  sleep 1000 &
  SLEEPER=$!
  disown # no "Killed" job notice when the test kills it
  SLEEPERS+=("$SLEEPER")
}

# now_us: microseconds since the epoch.
now_us() { local t=${EPOCHREALTIME/./}; echo "$((10#$t))"; }

# wait_until SECONDS COMMAND...: poll COMMAND every 0.1 s until it succeeds; fails if
# it still fails after SECONDS (whole seconds).
wait_until() {
  local deadline=$(($(now_us) + $1 * 1000000))
  shift
  until "$@"; do
    (($(now_us) < deadline)) || return 1
    sleep 0.1
  done
}

not_running() { ! "$SANDBOX" status "$1" >/dev/null 2>&1; }
gone() { [[ ! -e /proc/$1 ]] || [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) == Z ]]; }

# leftovers NAME: print what is left of sandbox NAME on the host (nothing if clean).
leftovers() {
  local name=$1
  [[ -e /run/siax-sandbox/$name ]] && echo "state dir /run/siax-sandbox/$name"
  [[ -e /dev/shm/siax-sandbox/$name ]] && echo "tmpfs dir /dev/shm/siax-sandbox/$name"
  find /sys/fs/cgroup -maxdepth 2 -type d -name "siax-sandbox-$name" 2>/dev/null |
    sed 's/^/cgroup /'
  pgrep -a -f -- "--machine=$name |__watchdog $name " | sed 's/^/process /'
  return 0
}
no_leftovers() { [[ -z $(leftovers "$1") ]]; }

if [[ $EUID -ne 0 ]]; then
  not_ok "the self-test must run as root"
  echo "$passed passed, $failed failed"
  exit 1
fi
if [[ ! -x $SANDBOX ]]; then
  not_ok "$SANDBOX is not executable"
  echo "$passed passed, $failed failed"
  exit 1
fi
echo "# testing $SANDBOX"

# --- misuse ------------------------------------------------------------------------------

"$SANDBOX" up Bad_Name >/dev/null 2>&1
check "up rejects an invalid name (exit 2)" test $? -eq 2

# --- boot ---------------------------------------------------------------------------------

start=$EPOCHREALTIME
# --owner $$: should this test be killed, the watchdog removes the sandbox
sbx up "$A" --owner $$ --timeout "$BOOT_TIMEOUT" --bind "$TOOL_DIR"
rc=$?
took=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
reported=$(sed -n 's/.*boot took \([0-9.]*\) s.*/\1/p' "$WORK/err")
if [[ $rc -eq 0 ]] && [[ $("$SANDBOX" status "$A" 2>/dev/null) == running ]]; then
  ok "up $A: running within ${BOOT_TIMEOUT} s (boot time ${reported:-?} s, whole up command $took s)"
else
  not_ok "up $A: running within ${BOOT_TIMEOUT} s (exit $rc)"
  show_err
fi

A_INIT=$("$SANDBOX" pid "$A" 2>/dev/null)
INIT_PIDS+=("$A_INIT")
check "pid $A prints the container's init (PID 1 of its own PID namespace)" \
  grep -Eq '^NSpid:[[:space:]]+[0-9]+[[:space:]]+1$' "/proc/${A_INIT:-0}/status"

A_NSPAWN=$(ps -o ppid= -p "${A_INIT:-0}" | tr -d ' ')
check "nspawn ($A_NSPAWN) runs in the sandbox's own cgroup, not in the host's root cgroup" \
  grep -q ":/siax-sandbox-$A/" "/proc/${A_NSPAWN:-0}/cgroup"

answer=$(sbx exec "$A" -- systemctl is-system-running)
check "systemctl is-system-running inside answers running ($answer)" \
  test "$answer" == running

# --- exec -------------------------------------------------------------------------------

out=$(sbx exec "$A" -- echo hello from inside)
check "exec passes the command's stdout through" test "$out" == "hello from inside"

sbx exec "$A" -- sh -c 'exit 7'
check "exec exits with the command's exit code (exit 7 -> 7)" test $? -eq 7

out=$(echo "some input" | sbx exec "$A" -- cat)
check "exec passes stdin through" test "$out" == "some input"

out=$("$SANDBOX" exec "$A" -- sh -c 'echo oops >&2' 2>&1 >/dev/null)
check "exec passes stderr through" test "$out" == oops

# shellcheck disable=SC2016  # expanded by the shell inside
out=$(sbx exec "$A" --cwd /etc --env FOO=bar -- sh -c 'echo "$PWD|$FOO|$LANG|$HOME|$PATH"')
check "exec --cwd/--env and a clean environment ($out)" test "$out" == \
  "/etc|bar|C.UTF-8|/root|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

out=$(FROM_HOST=leak sbx exec "$A" -- env)
check "exec does not leak the caller's environment" \
  test "$(grep -c FROM_HOST <<<"$out")" -eq 0

out=$(sbx exec "$A" --user nobody -- id -un)
check "exec --user nobody runs as nobody ($out)" test "$out" == nobody

sbx exec "$A" --user nobody -- touch /etc/siax-selftest-denied 2>/dev/null
rc=$?
check "exec --user nobody gets permission errors (touch /etc/... exits $rc)" test "$rc" -ne 0

sbx exec "$A" -- true-command-that-does-not-exist 2>/dev/null
check "exec of a missing command exits 127" test $? -eq 127

check "exec sees the host's files (this tool, bound with --bind) inside" sbx exec "$A" -- test -x "$SANDBOX"
check "exec sees the host's /usr (systemctl) inside" sbx exec "$A" -- test -x /usr/bin/systemctl

# A process left running by a killed `exec` must not survive it (parent-death signal).
"$SANDBOX" exec "$A" -- sleep 4242 2>/dev/null &
exec_pid=$!
sleep 0.5
kill -TERM "$exec_pid" 2>/dev/null
wait "$exec_pid" 2>/dev/null
check "killing exec stops the command inside" \
  wait_until 3 sbx exec "$A" -- sh -c '! pgrep -x -f "sleep 4242" >/dev/null'

# --- isolation of the file system -------------------------------------------------------

sbx exec "$A" -- sh -c "echo inside > '$HOST_MARKER'"
out=$(sbx exec "$A" -- cat "$HOST_MARKER")
check "a file written inside is there inside" test "$out" == inside
check "a file written inside does not appear on the host" test ! -e "$HOST_MARKER"
check "/etc written inside stays inside" \
  sbx exec "$A" -- sh -c 'echo x >/etc/siax-selftest-etc && test -f /etc/siax-selftest-etc'
check "... and is not on the host" test ! -e /etc/siax-selftest-etc

# --- a second sandbox at the same time --------------------------------------------------

if sbx up "$B" --owner $$ --journal-unlimited --timeout "$BOOT_TIMEOUT"; then
  ok "up $B --journal-unlimited while $A is up"
else
  not_ok "up $B --journal-unlimited while $A is up"
  show_err
fi
B_INIT=$("$SANDBOX" pid "$B" 2>/dev/null)
INIT_PIDS+=("$B_INIT")
a_state=$(sbx exec "$A" -- systemctl is-system-running)
b_state=$(sbx exec "$B" -- systemctl is-system-running)
check "both sandboxes are running ($A: $a_state, $B: $b_state)" \
  test "$a_state" == running -a "$b_state" == running
check "they are different containers (init PIDs $A_INIT, $B_INIT)" \
  test -n "$A_INIT" -a -n "$B_INIT" -a "$A_INIT" != "$B_INIT"
check "a file written in $A is not visible in $B" \
  sbx exec "$B" -- test ! -e "$HOST_MARKER"
listing=$("$SANDBOX" list 2>/dev/null)
check "list shows both" \
  test "$(grep -cE "^($A|$B) running$" <<<"$listing")" -eq 2
out=$(sbx exec "$B" -- cat /etc/systemd/journald.conf.d/90-siax-sandbox.conf | tr '\n' ' ')
check "--journal-unlimited wrote the journald drop-in inside ($out)" \
  test "$out" == "[Journal] RateLimitIntervalSec=0 RateLimitBurst=0 "
check "... not on the host" test ! -e /etc/systemd/journald.conf.d/90-siax-sandbox.conf
check "... and journald was restarted with it" \
  sbx exec "$B" -- systemctl is-active --quiet systemd-journald

# --- down -------------------------------------------------------------------------------

check "down $B" sbx down "$B"
check "down $B a second time is fine" sbx down "$B"
check "status $B says stopped (exit 1)" not_running "$B"
check "$B's init is gone" gone "${B_INIT:-0}"
out=$(leftovers "$B")
check "nothing of $B is left on the host${out:+: $out}" test -z "$out"
check "$A is still running after $B went down" \
  test "$("$SANDBOX" status "$A" 2>/dev/null)" == running
"$SANDBOX" exec "$B" -- true 2>/dev/null
check "exec into a stopped sandbox exits 125" test $? -eq 125
check "down of a sandbox that never existed is fine" sbx down "sbt$$-never"

# --- the owner watchdog -----------------------------------------------------------------

start_sleeper
owner=$SLEEPER
if sbx up "$W" --owner "$owner" --timeout "$BOOT_TIMEOUT"; then
  ok "up $W --owner $owner (a sleep 1000)"
else
  not_ok "up $W --owner $owner"
  show_err
fi
W_INIT=$("$SANDBOX" pid "$W" 2>/dev/null)
INIT_PIDS+=("$W_INIT")
kill -KILL "$owner"
start=$EPOCHREALTIME
if wait_until "$WATCHDOG_LIMIT" no_leftovers "$W"; then
  took=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
  ok "kill -9 of the owner removes $W within ${WATCHDOG_LIMIT} s (took $took s)"
else
  not_ok "kill -9 of the owner removes $W within ${WATCHDOG_LIMIT} s"
  leftovers "$W" | diag
fi
check "$W's init is gone" gone "${W_INIT:-0}"

# The watchdog exits by itself when the sandbox is taken down by other means.
start_sleeper
owner=$SLEEPER
sbx up "$W" --owner "$owner" --timeout "$BOOT_TIMEOUT"
watchdog=$(pgrep -f "siax-sandbox __watchdog $W " | head -n1)
check "the owner watchdog of $W runs (PID ${watchdog:-none})" test -n "$watchdog"
sbx down "$W"
check "down $W also ends its watchdog" wait_until 3 gone "${watchdog:-0}"
kill -KILL "$owner"

# --- stale recovery ---------------------------------------------------------------------

start_sleeper
owner=$SLEEPER
sbx up "$S" --owner "$owner" --timeout "$BOOT_TIMEOUT"
old_init=$("$SANDBOX" pid "$S" 2>/dev/null)
INIT_PIDS+=("$old_init")
nspawn=$(ps -o ppid= -p "${old_init:-0}" | tr -d ' ')
watchdog=$(pgrep -f "siax-sandbox __watchdog $S " | head -n1)
if [[ -n $nspawn && -n $watchdog ]]; then
  # a killed test run: nspawn and the watchdog die, nobody calls down
  kill -KILL "$nspawn" "$watchdog"
  wait_until 3 gone "$nspawn"
  ok "simulated a killed run: kill -9 of $S's nspawn ($nspawn) and watchdog ($watchdog)"
else
  not_ok "find $S's nspawn (${nspawn:-none}) and watchdog (${watchdog:-none})"
fi
check "status $S says stopped" not_running "$S"
if sbx up "$S" --owner $$ --timeout "$BOOT_TIMEOUT"; then
  ok "up $S again over the stale one succeeds"
else
  not_ok "up $S again over the stale one succeeds"
  show_err
fi
diag <"$WORK/err"
new_init=$("$SANDBOX" pid "$S" 2>/dev/null)
INIT_PIDS+=("$new_init")
check "the stale container's init ($old_init) is gone" gone "${old_init:-0}"
check "the new $S runs (init $new_init)" \
  test "$(sbx exec "$S" -- systemctl is-system-running)" == running
kill -KILL "$owner"

# --- a second systemd version: the trixie image ------------------------------------------

"$SANDBOX" up "$T" --image bogus >/dev/null 2>&1
check "up --image bogus is refused (exit 2)" test $? -eq 2
# The image is built once per machine (minutes, the first time) and cached; `image` makes
# sure it exists and prints its path.
start=$EPOCHREALTIME
image_dir=$(sbx image trixie)
rc=$?
took=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
if [[ $rc -eq 0 && -f $image_dir/etc/siax-sandbox-image ]]; then
  ok "image trixie: $image_dir ($took s; $(grep -E '^(build_seconds|systemd)=' "$image_dir/etc/siax-sandbox-image" | tr '\n' ' '))"
else
  not_ok "image trixie (exit $rc)"
  show_err
fi
start=$EPOCHREALTIME
sbx up "$T" --image trixie --owner $$ --timeout "$BOOT_TIMEOUT" --bind "$TOOL_DIR"
rc=$?
took=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
reported=$(sed -n 's/.*boot took \([0-9.]*\) s.*/\1/p' "$WORK/err")
if [[ $rc -eq 0 ]] && [[ $("$SANDBOX" status "$T" 2>/dev/null) == running ]]; then
  ok "up $T --image trixie: running (boot time ${reported:-?} s, whole up command $took s)"
else
  not_ok "up $T --image trixie: running (exit $rc)"
  show_err
fi
T_INIT=$("$SANDBOX" pid "$T" 2>/dev/null)
INIT_PIDS+=("$T_INIT")
out=$(sbx exec "$T" -- systemctl --version | head -n1)
check "systemctl --version inside $T says 257 ($out)" grep -Eq '^systemd 257 ' <<<"$out"
out=$(sbx exec "$T" -- cat /etc/debian_version)
check "$T is Debian 13 (debian_version $out)" grep -Eq '^13' <<<"$out"
check "systemctl is-system-running inside $T answers running" \
  test "$(sbx exec "$T" -- systemctl is-system-running)" == running
out=$(sbx exec "$T" --user nobody -- id -un)
check "exec --user nobody in $T ($out)" test "$out" == nobody
check "$T sees the bound tool" sbx exec "$T" -- test -x "$SANDBOX"
# Libraries: the image's own win (libc); the host's fill in sonames Debian 13 lacks.
out=$(sbx exec "$T" -- ldconfig -p | awk '$1 == "libc.so.6" && !found {print $NF; found = 1}')
check "the loader in $T takes the image's libc ($out)" test "$out" == /lib/x86_64-linux-gnu/libc.so.6
out=$(sbx exec "$T" -- ldconfig -p | awk '$1 == "libfmt.so.9" && !found {print $NF; found = 1}')
check "the host's libfmt.so.9 (Debian 12 only) is found in $T ($out)" \
  test "$out" == /opt/siax-host-lib/libfmt.so.9
for tool in node npm python3 sudo busctl runuser; do
  check "$T has $tool" sbx exec "$T" -- sh -c "command -v $tool >/dev/null"
done
check "$T has FastAPI and uvicorn for /usr/bin/python3" sbx exec "$T" -- python3 -c 'import fastapi, uvicorn'
sbx exec "$T" -- sh -c 'echo x >/etc/siax-selftest-etc'
check "a file written in $T stays out of the cached image" test ! -e "$image_dir/etc/siax-selftest-etc"
check "down $T" sbx down "$T"
check "$T's init is gone" gone "${T_INIT:-0}"
out=$(leftovers "$T")
check "nothing of $T is left on the host${out:+: $out}" test -z "$out"

# --- everything down ----------------------------------------------------------------------

for name in "$A" "$S"; do
  check "down $name" sbx down "$name"
  check "down $name again" sbx down "$name"
done

out=$(findmnt -rn | grep siax-sandbox)
check "no siax-sandbox mounts on the host${out:+: $out}" test -z "$out"
out=$(for name in "${ALL_NAMES[@]}"; do leftovers "$name"; done)
check "no state dirs, cgroups or processes of the test's sandboxes${out:+: $out}" test -z "$out"
alive=()
for pid in "${INIT_PIDS[@]}"; do
  [[ -n $pid ]] && ! gone "$pid" && alive+=("$pid")
done
check "every container init the test saw is gone${alive[*]:+ (alive: ${alive[*]})}" \
  test "${#alive[@]}" -eq 0

echo "$passed passed, $failed failed"
((failed == 0))
