#!/usr/bin/env bash
# The polkit matrix: what the agent's unprivileged user may and may not do with the rule
# packaging/polkit/50-siax-agent.rules installed, against the real systemd of a running
# sandbox (tools/sandbox/siax-sandbox; scripts/test.sh runs this on the host image,
# systemd 252, and on the trixie image, systemd 257). See docs/SECURITY.md.
#
# Usage: tests/integration/polkit/polkit_matrix.sh SANDBOX
#   SIAX_AGENT_BIN   the agent binary (default build/debug/src/siax-agent of this checkout)
#   SIAX_POLKIT_RULE another rule file to test (default packaging/polkit/50-siax-agent.rules);
#                    e.g. the rule before the fix, to see the matrix fail on systemd 257
#   SIAX_POLKIT_VERBOSE=1  also show the error of each refusal
# The checkout must be visible inside the sandbox at the same path (up --bind CHECKOUT).
# Prints "ok N - ..." / "not ok N - ..." lines, then exactly one line "N passed, M failed";
# exits 1 if anything failed. Installs the rule and users inside the sandbox and removes
# the rule again at the end (the sandbox itself is throwaway).

set -uo pipefail # no -e: failing commands are what a test looks at

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
SANDBOX=${1:?usage: polkit_matrix.sh SANDBOX}
TOOL=$ROOT/tools/sandbox/siax-sandbox
AGENT=${SIAX_AGENT_BIN:-$ROOT/build/debug/src/siax-agent}
AGENT_USER=siaxagent  # the user the agent runs as
APP_USER=siaxapp      # the user its apps run as
APP=pm-app            # an app whose unit root wrote through the agent
UNIT=siax-app-$APP.service
CHECK=/usr/local/libexec/siax-agent/siax-unit-check
PWNED=/root/siax-polkit-pwned # only root can create it: proof of a command run as root

passed=0 failed=0 count=0
ok() { count=$((count + 1)) passed=$((passed + 1)); echo "ok $count - $*"; }
not_ok() { count=$((count + 1)) failed=$((failed + 1)); echo "not ok $count - $*"; }
diag() { sed 's/^/# /'; }

sb() { "$TOOL" exec "$SANDBOX" "$@"; }          # as root inside
as_agent() { sb --user "$AGENT_USER" -- "$@" </dev/null; } # as the agent's user inside

# allowed DESC CMD...: CMD run as the agent's user must succeed.
allowed() {
  local desc=$1 out
  shift
  if out=$(as_agent "$@" 2>&1); then ok "allowed: $desc"; else not_ok "allowed: $desc"; diag <<<"$out"; fi
}
# refused DESC CMD...: CMD run as the agent's user must fail, and nothing may have run as
# root (the marker file does not exist).
refused() {
  local desc=$1 out
  shift
  if out=$(as_agent "$@" 2>&1); then
    not_ok "refused: $desc (it succeeded)"
    diag <<<"$out"
  elif grep -Eqi 'invalid option|unrecognized option|unknown (command|operation)|too (few|many) arguments|failed to parse' <<<"$out"; then
    not_ok "refused: $desc (the test itself is wrong: the command was misused)"
    diag <<<"$out"
  elif sb -- test -e "$PWNED"; then
    not_ok "refused: $desc (it failed, but $PWNED exists: something ran as root)"
    diag <<<"$out"
  else
    ok "refused: $desc"
    [[ -n ${SIAX_POLKIT_VERBOSE:-} ]] && diag <<<"$out"
  fi
  sb -- rm -f "$PWNED"
}
# check DESC CMD...: CMD (as root inside) must succeed; for the state after an action.
check() {
  local desc=$1
  shift
  if sb -- "$@" >/dev/null 2>&1; then ok "$desc"; else not_ok "$desc"; fi
}

main_pid() { sb -- systemctl show -P MainPID "$1" 2>/dev/null; }
active_state() { sb -- systemctl show -P ActiveState "$1" 2>/dev/null; }

cleanup() {
  sb -- "$ROOT/packaging/polkit/install-polkit-rule.sh" --remove --check-path "$CHECK" >/dev/null 2>&1
  sb -- "$AGENT" unit remove "$APP" >/dev/null 2>&1
  sb -- systemctl restart polkit.service >/dev/null 2>&1
}
trap cleanup EXIT

"$TOOL" status "$SANDBOX" >/dev/null || { echo "polkit_matrix: sandbox $SANDBOX is not running" >&2; exit 2; }
version=$(sb -- systemctl --version | awk 'NR == 1 {print $2}')
[[ $version =~ ^[0-9]+$ ]] || { echo "polkit_matrix: cannot tell the systemd version in $SANDBOX" >&2; exit 2; }
echo "# systemd $version in sandbox $SANDBOX"

# ---- setup, as root (what the deploy script and the agent do) ----
for u in "$AGENT_USER" "$APP_USER"; do
  sb -- getent passwd "$u" >/dev/null ||
    sb -- useradd --system --no-create-home --shell /usr/sbin/nologin "$u"
done
sb -- "$ROOT/packaging/polkit/install-polkit-rule.sh" --user "$AGENT_USER" --check-path "$CHECK" \
  --rule "${SIAX_POLKIT_RULE:-$ROOT/packaging/polkit/50-siax-agent.rules}" | diag
sb -- systemctl restart polkit.service
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
def=$(printf '{"app_name":"%s","script_path":"%s/tests/fixtures/apps/node-http/server.js","working_directory":"%s/tests/fixtures/apps/node-http","user":"%s","environment":{"PORT":"%s"}}' \
  "$APP" "$ROOT" "$ROOT" "$APP_USER" "$port")
# shellcheck disable=SC2016  # $1 and $2 are expanded by the shell inside
if out=$(sb -- sh -c 'printf "%s" "$1" | "$2" unit install -' sh "$def" "$AGENT" 2>&1); then
  ok "root installs $UNIT through the agent"
else
  not_ok "root installs $UNIT through the agent"
  diag <<<"$out"
fi

# polkitd compiles its rules in the background after a restart: wait until they apply.
perms=""
for _ in $(seq 1 100); do
  perms=$(as_agent "$AGENT" --json permissions 2>&1)
  [[ $perms == *'"manage_units": true'* ]] && break
  sleep 0.2
done
if [[ $perms == *'"manage_units": true'* && $perms == *'"write_unit_files": false'* ]]; then
  ok "the agent's user: manage_units true, write_unit_files false (siax-agent permissions)"
else
  not_ok "the agent's user: manage_units true, write_unit_files false (siax-agent permissions)"
  diag <<<"$perms"
fi

# ---- what the agent's user may do: the lifecycle of an existing siax-app-* unit ----
allowed "systemctl start $UNIT" systemctl start "$UNIT"
check "$UNIT is active after the start" test "$(active_state "$UNIT")" = active
allowed "systemctl reset-failed $UNIT" systemctl reset-failed "$UNIT"
pid1=$(main_pid "$UNIT")
allowed "systemctl restart $UNIT" systemctl restart "$UNIT"
pid2=$(main_pid "$UNIT")
if [[ $pid2 =~ ^[1-9][0-9]*$ && $pid2 != "$pid1" ]]; then ok "the restart gave a new PID ($pid1 -> $pid2)"; else not_ok "the restart gave a new PID ($pid1 -> $pid2)"; fi
allowed "systemctl try-restart $UNIT" systemctl try-restart "$UNIT"
allowed "systemctl stop $UNIT" systemctl stop "$UNIT"
check "$UNIT is inactive after the stop" test "$(active_state "$UNIT")" = inactive
allowed "siax-agent unit start $APP (the agent's own D-Bus path)" "$AGENT" unit start "$APP"
allowed "siax-agent unit restart $APP" "$AGENT" unit restart "$APP"
allowed "siax-agent unit stop $APP" "$AGENT" unit stop "$APP"
sb -- systemctl start "$UNIT" >/dev/null 2>&1 # running, for the refusals below

# ---- transient units: the hole of systemd 257 with a name-only rule ----
refused "systemd-run --unit=siax-app-evil (a transient unit running a command as root)" \
  systemd-run --unit=siax-app-evil --wait -p Type=oneshot /bin/sh -c "id -u > $PWNED"
refused "systemd-run --unit=siax-app-evil --scope" \
  systemd-run --unit=siax-app-evil --scope /bin/sh -c "id -u > $PWNED"
refused "busctl StartTransientUnit siax-app-evil2.service" \
  busctl -- call org.freedesktop.systemd1 /org/freedesktop/systemd1 org.freedesktop.systemd1.Manager \
  StartTransientUnit 'ssa(sv)a(sa(sv))' siax-app-evil2.service replace \
  2 Type s oneshot ExecStart 'a(sasb)' 1 /bin/sh 3 /bin/sh -c "id -u > $PWNED" false 0
# The name of an existing agent unit passes the rule (its file exists), but systemd makes
# no transient unit under a name that has a unit file.
refused "busctl StartTransientUnit under the name of the existing $UNIT" \
  busctl -- call org.freedesktop.systemd1 /org/freedesktop/systemd1 org.freedesktop.systemd1.Manager \
  StartTransientUnit 'ssa(sv)a(sa(sv))' "$UNIT" replace \
  2 Type s oneshot ExecStart 'a(sasb)' 1 /bin/sh 3 /bin/sh -c "id -u > $PWNED" false 0
refused "busctl StartTransientUnit of $UNIT with an auxiliary transient siax-app-evil3.service" \
  busctl -- call org.freedesktop.systemd1 /org/freedesktop/systemd1 org.freedesktop.systemd1.Manager \
  StartTransientUnit 'ssa(sv)a(sa(sv))' "$UNIT" replace 0 \
  1 siax-app-evil3.service 2 Type s oneshot ExecStart 'a(sasb)' 1 /bin/sh 3 /bin/sh -c "id -u > $PWNED" false
check "no transient siax-app-evil* unit exists" sh -c \
  '! systemctl list-units --all --plain --no-legend "siax-app-evil*" | grep -q .'

# ---- other units, and siax-app-* names without an agent unit file ----
journald_pid=$(main_pid systemd-journald.service)
refused "systemctl stop systemd-journald.service" systemctl stop systemd-journald.service
refused "systemctl restart systemd-journald.service" systemctl restart systemd-journald.service
refused "systemctl start systemd-tmpfiles-clean.service" systemctl start systemd-tmpfiles-clean.service
refused "systemctl stop polkit.service" systemctl stop polkit.service
check "journald kept its PID" test "$(main_pid systemd-journald.service)" = "$journald_pid"
refused "systemctl start siax-app-nofile.service (no unit file)" systemctl start siax-app-nofile.service
refused "systemctl restart siax-app-nofile.service (no unit file)" systemctl restart siax-app-nofile.service
refused "systemctl start siax-app-tmpl@x.service (a template instance)" systemctl start siax-app-tmpl@x.service
sb -- sh -c "printf '[Service]\nType=oneshot\nExecStart=/bin/sh -c \"id -u > $PWNED\"\n' > /run/systemd/system/siax-app-runtime.service && systemctl daemon-reload"
refused "systemctl start siax-app-runtime.service (root's file, but not in /etc/systemd/system)" \
  systemctl start siax-app-runtime.service
sb -- sh -c 'rm -f /run/systemd/system/siax-app-runtime.service && systemctl daemon-reload'

# ---- unit files: writing, enabling, linking, masking, reloading, properties ----
refused "write /etc/systemd/system/siax-app-evil.service" \
  sh -c 'echo "[Service]" > /etc/systemd/system/siax-app-evil.service'
refused "write /run/systemd/system/siax-app-evil.service" \
  sh -c 'mkdir -p /run/systemd/system && echo "[Service]" > /run/systemd/system/siax-app-evil.service'
refused "write /etc/systemd/system.control/siax-app-evil.service" \
  sh -c 'mkdir -p /etc/systemd/system.control && echo "[Service]" > /etc/systemd/system.control/siax-app-evil.service'
refused "write a drop-in /etc/systemd/system/$UNIT.d/evil.conf" \
  sh -c "mkdir -p /etc/systemd/system/$UNIT.d && echo '[Service]' > /etc/systemd/system/$UNIT.d/evil.conf"
refused "replace the unit check $CHECK" sh -c "echo 'exit 0' > $CHECK"
sb -- install -d -o "$AGENT_USER" -m 0755 /var/lib/siax-polkit-test
sb -- sh -c "printf '[Service]\nType=oneshot\nExecStart=/bin/sh -c \"id -u > $PWNED\"\n' > /var/lib/siax-polkit-test/siax-app-linked.service && chown $AGENT_USER /var/lib/siax-polkit-test/siax-app-linked.service"
refused "systemctl link a unit file of its own" systemctl link /var/lib/siax-polkit-test/siax-app-linked.service
refused "systemctl enable --now a unit file of its own" \
  systemctl enable --now /var/lib/siax-polkit-test/siax-app-linked.service
check "no siax-app-linked unit appeared" sh -c \
  '! test -e /etc/systemd/system/siax-app-linked.service && ! test -e /run/systemd/system/siax-app-linked.service'
refused "systemctl enable $UNIT" systemctl enable "$UNIT"
refused "systemctl disable $UNIT" systemctl disable "$UNIT"
refused "systemctl mask systemd-journald.service" systemctl mask systemd-journald.service
refused "systemctl daemon-reload" systemctl daemon-reload
refused "systemctl set-property $UNIT (runtime drop-in)" systemctl set-property --runtime "$UNIT" CPUWeight=50
refused "systemctl kill $UNIT" systemctl kill "$UNIT"
if ((version >= 256)); then # systemctl edit --stdin is new in 256
  refused "systemctl edit --runtime --stdin $UNIT" \
    sh -c "printf '[Service]\nExecStartPre=/bin/sh -c \"id -u > $PWNED\"\n' | systemctl edit --runtime --stdin $UNIT"
fi

# ---- the agent itself when not root: no unit files, errors that say so ----
sb -- sh -c "printf '%s' '$def' | sed 's/$APP/pm-other/' > /var/lib/siax-polkit-test/other.json && chmod 0644 /var/lib/siax-polkit-test/other.json"
out=$(as_agent "$AGENT" --json unit install /var/lib/siax-polkit-test/other.json 2>&1)
code=$?
if [[ $code == 4 && $out == *write_unit_files* ]] && ! sb -- test -e /etc/systemd/system/siax-app-pm-other.service; then
  ok "refused: siax-agent unit install as the agent's user (exit 4, write_unit_files, no file)"
else
  not_ok "refused: siax-agent unit install as the agent's user (exit $code)"
  diag <<<"$out"
fi
out=$(as_agent "$AGENT" --json unit remove "$APP" 2>&1)
code=$?
if [[ $code == 4 ]] && sb -- test -e "/etc/systemd/system/$UNIT"; then
  ok "refused: siax-agent unit remove as the agent's user (exit 4, the file stays)"
else
  not_ok "refused: siax-agent unit remove as the agent's user (exit $code)"
  diag <<<"$out"
fi
refused "siax-agent unit enable $APP" "$AGENT" unit enable "$APP"

# ---- anything else as root ----
refused "sudo -n true" sudo -n true
refused "pkexec true (when installed)" sh -c 'command -v pkexec >/dev/null && pkexec true'
refused "busctl SetUnitProperties on $UNIT" \
  busctl -- call org.freedesktop.systemd1 /org/freedesktop/systemd1 org.freedesktop.systemd1.Manager \
  SetUnitProperties 'sba(sv)' "$UNIT" false 1 CPUWeight t 50
refused "systemctl reboot" systemctl --no-block --no-wall reboot
check "$UNIT still runs as $APP_USER" sh -c "test \"\$(systemctl show -P User $UNIT)\" = $APP_USER && test \"\$(systemctl show -P ActiveState $UNIT)\" = active"

echo "$passed passed, $failed failed"
((failed == 0))
