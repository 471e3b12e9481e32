#!/usr/bin/env bash
# desplegar_agent.sh: installs, upgrades (with a health check and automatic rollback) and
# removes siax-agent on a systemd host. Run `desplegar_agent.sh --help`. docs/DEPLOY.md
# explains every step, the rights granted in each mode and how the tests exercise it.
set -euo pipefail
umask 022
export LC_ALL=C

readonly PROG=desplegar_agent.sh
SRC_DIR=$(cd "$(dirname "$(readlink -f -- "${BASH_SOURCE[0]}")")" && pwd)
readonly SRC_DIR

# ---- where things go (docs/DEPLOY.md, "Files") ----
readonly PREFIX=/opt/siax-agent
readonly RELEASES=$PREFIX/releases
readonly CURRENT=$PREFIX/current
readonly CONF_DIR=/etc/siax-agent
readonly CONF=$CONF_DIR/agent.toml
readonly STATE_DIR=/var/lib/siax-agent
readonly LOG_DIR=/var/log/siax-agent
readonly DEPLOY_LOG=$LOG_DIR/deploy.log
readonly UNIT_NAME=siax-agent.service
readonly UNIT_FILE=/etc/systemd/system/$UNIT_NAME
readonly APP_UNIT_DIR=/etc/systemd/system
readonly SVC_USER=siax-agent
readonly POLKIT_DIR=/etc/polkit-1/rules.d
readonly POLKIT_RULE=$POLKIT_DIR/50-siax-agent.rules
readonly UNIT_CHECK=/usr/local/libexec/siax-agent/siax-unit-check
readonly CLI_LINK=/usr/local/bin/siax-agent
# The root unit helper (user mode): writes siax-app-* units for the agent, socket-activated.
readonly HELPER_NAME=siax-agent-helper
readonly HELPER_SOCKET_FILE=/etc/systemd/system/$HELPER_NAME.socket
readonly HELPER_SERVICE_FILE=/etc/systemd/system/$HELPER_NAME.service
readonly HELPER_SOCKET=/run/siax-agent/helper.sock
readonly SECRETS_DIR=$CONF_DIR/secrets
readonly WATCHDOG_SEC=30

# Debian packages the release build needs (kept in step with scripts/setup.sh).
readonly BUILD_PACKAGES=(g++ cmake ninja-build pkg-config libboost1.81-dev libsystemd-dev libexpected-dev
  libsqlite3-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev libssl-dev
  libcurl4-openssl-dev nettle-dev libre2-dev)

usage() {
  cat <<EOF
Usage: $PROG [install|upgrade] [--binary FILE | --package FILE.tar.gz] [OPTIONS]
       $PROG --check [--binary FILE | --package FILE.tar.gz] [--mode user|root]
       $PROG --rollback [--yes]
       $PROG --uninstall [--yes]
       $PROG --purge [--yes]

Installs siax-agent as the systemd service $UNIT_NAME, or upgrades it: the new release
goes next to the old ones in $RELEASES/<version>-<hash>, $CURRENT is switched
to it, the agent is restarted and must answer /api/health with the new version within
the deadline (and stay up); otherwise the previous release is restored automatically and
the script exits non-zero with a report. Running it again with the same build changes
nothing. Managed apps (siax-app-*.service) keep running throughout.

Where the agent comes from (one of):
  (default)            build from this source tree: release preset, target siax-agent only,
                       tests and benchmarks off (in build/deploy-release)
  --binary FILE        an already built siax-agent binary
  --package FILE       a tarball made by '$PROG --make-package DIR' (bin/siax-agent inside)

Options:
  --mode user|root     user (default on first install): the agent runs as the system user
                       '$SVC_USER' with only the rights it needs (polkit rule for siax-app-*
                       units, journal group); registering apps (writing unit files) then
                       needs root, see docs/DEPLOY.md. root: the agent runs as root (all
                       features). An upgrade keeps the installed mode unless this is given.
  --port N             panel/API port written to a NEW configuration (default 8080)
  --listen ADDR        listen address written to a NEW configuration (default 127.0.0.1)
                       (an existing $CONF is never modified)
  --health-timeout S   seconds the new release has to become healthy (default 30)
  --keep N             releases kept on disk, current and previous included (default 3)
  --yes                do not ask for confirmation (needed when stdin is not a terminal)
  --check              run the checks only and change nothing
  --rollback           switch back to the previous release (health-checked like an upgrade)
  --uninstall          remove the agent (service, releases, rights); keep the apps running,
                       their units, the configuration, the state and the logs
  --purge              --uninstall, then also stop and remove every app unit the agent wrote,
                       the configuration, the state, the logs and the user (lists it first)
  --make-package DIR   build (or take --binary) and write DIR/siax-agent-<version>.tar.gz
  -h, --help           this text

Exit codes: 0 done (or nothing to do), 1 the new release was unhealthy and was rolled back,
2 a check failed or bad usage (nothing changed), 3 the rollback failed too (see report),
4 interrupted or refused by the operator.
Log of every run: $DEPLOY_LOG
EOF
}

# ---- output ----
LOGGING=0
say() { echo "$PROG: $*"; [ "$LOGGING" = 1 ] && echo "$(date -u +%FT%TZ) $*" >>"$DEPLOY_LOG" || true; }
warn() { echo "$PROG: warning: $*" >&2; [ "$LOGGING" = 1 ] && echo "$(date -u +%FT%TZ) warning: $*" >>"$DEPLOY_LOG" || true; }
die() { echo "$PROG: $*" >&2; [ "$LOGGING" = 1 ] && echo "$(date -u +%FT%TZ) error: $*" >>"$DEPLOY_LOG" || true; exit "${2:-2}"; }
start_log() {
  install -d -m 0750 "$LOG_DIR"
  touch "$DEPLOY_LOG" && chmod 0640 "$DEPLOY_LOG"
  LOGGING=1
  echo "$(date -u +%FT%TZ) --- $PROG ${ARGS_FOR_LOG}" >>"$DEPLOY_LOG"
}

# ---- arguments ----
ACTION=install
BINARY=""
PACKAGE=""
MODE=""
PORT=8080
LISTEN=127.0.0.1
HEALTH_TIMEOUT=30
KEEP=3
YES=0
PACKAGE_OUT=""
NET_GIVEN=0
ARGS_FOR_LOG="$*"

need_value() { [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value (see --help)"; }
while [ $# -gt 0 ]; do
  case "$1" in
    install|upgrade) ACTION=install ;;
    --binary) need_value "$@"; BINARY=$2; shift ;;
    --package) need_value "$@"; PACKAGE=$2; shift ;;
    --mode) need_value "$@"; MODE=$2; shift ;;
    --port) need_value "$@"; PORT=$2; NET_GIVEN=1; shift ;;
    --listen) need_value "$@"; LISTEN=$2; NET_GIVEN=1; shift ;;
    --health-timeout) need_value "$@"; HEALTH_TIMEOUT=$2; shift ;;
    --keep) need_value "$@"; KEEP=$2; shift ;;
    --yes|-y) YES=1 ;;
    --check) ACTION=check ;;
    --rollback) ACTION=rollback ;;
    --uninstall) ACTION=uninstall ;;
    --purge) ACTION=purge ;;
    --make-package) need_value "$@"; ACTION=package; PACKAGE_OUT=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done
[ -z "$MODE" ] || [ "$MODE" = user ] || [ "$MODE" = root ] || die "--mode must be 'user' or 'root', not '$MODE'"
[[ "$PORT" =~ ^[0-9]{1,5}$ ]] && [ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] || die "--port must be 1-65535, not '$PORT'"
PORT=$((10#$PORT))  # TOML integers have no leading zeros
[[ "$LISTEN" =~ ^[0-9A-Fa-f.:]+$ ]] || die "--listen must be an IP address (e.g. 127.0.0.1 or 0.0.0.0), not '$LISTEN'"
[[ "$HEALTH_TIMEOUT" =~ ^[0-9]{1,4}$ ]] && [ "$HEALTH_TIMEOUT" -ge 5 ] || die "--health-timeout must be 5-9999 seconds"
[[ "$KEEP" =~ ^[0-9]{1,3}$ ]] && [ "$KEEP" -ge 2 ] || die "--keep must be at least 2 (current and previous)"
[ -z "$BINARY" ] || [ -z "$PACKAGE" ] || die "give --binary or --package, not both"

# ---- checks (they change nothing) ----
PROBLEMS=()
problem() { PROBLEMS+=("$1"$'\n'"      fix: $2"); }

installed_mode() {
  [ -f "$UNIT_FILE" ] || return 1
  if grep -q "^User=$SVC_USER\$" "$UNIT_FILE"; then echo user; else echo root; fi
}

effective_mode() {
  if [ -n "$MODE" ]; then echo "$MODE"; else installed_mode || echo user; fi
}

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

check_systemd() {
  if [ "$(cat /proc/1/comm 2>/dev/null)" != systemd ] || [ ! -d /run/systemd/system ]; then
    problem "systemd is not PID 1 here (PID 1 is '$(cat /proc/1/comm 2>/dev/null || echo unknown)'): the agent drives systemd units" \
      "run this on a host booted with systemd (on a build VM, inside tools/sandbox/siax-sandbox)"
    return
  fi
  local state
  state=$(systemctl is-system-running 2>/dev/null || true)
  case "$state" in
    running|degraded|starting|initializing) ;;
    *) problem "systemd does not answer (systemctl is-system-running: '${state:-no answer}')" \
         "check the system bus: systemctl status dbus.service; systemctl start dbus.service" ;;
  esac
}

check_root() {
  [ "$(id -u)" = 0 ] || problem "this script installs a system service and must run as root (uid is $(id -u))" \
    "sudo bash $SRC_DIR/$PROG ${ARGS_FOR_LOG}"
}

check_mode_rights() {
  local mode=$1
  [ "$mode" = user ] || return 0
  if ! have_pkg polkitd && [ ! -x /usr/lib/polkit-1/polkitd ]; then
    problem "user mode grants the agent its siax-app-* rights through polkit, which is not installed" \
      "apt-get install polkitd   (or use --mode root)"
  fi
  local f
  for f in 50-siax-agent.rules install-polkit-rule.sh siax-unit-check; do
    [ -f "$SRC_DIR/packaging/polkit/$f" ] ||
      problem "$SRC_DIR/packaging/polkit/$f is missing (the polkit rule and its installer come from the source tree)" \
        "run the script from a complete checkout (git checkout -- packaging/polkit)"
  done
  [ -d "$POLKIT_DIR" ] || [ ! -d /etc/polkit-1 ] ||
    problem "$POLKIT_DIR does not exist (polkitd is not fully installed)" "apt-get install --reinstall polkitd"
  getent group systemd-journal >/dev/null ||
    problem "the group systemd-journal (read access to the journal) does not exist" "apt-get install --reinstall systemd"
  command -v useradd >/dev/null || problem "useradd is missing (needed for the user $SVC_USER)" "apt-get install passwd"
}

check_tools() {
  command -v curl >/dev/null || problem "curl is missing: the post-deploy health check asks /api/health with it" \
    "apt-get install curl"
  command -v sha256sum >/dev/null || problem "sha256sum is missing" "apt-get install coreutils"
}

check_source() {
  if [ -n "$PACKAGE" ]; then
    [ -f "$PACKAGE" ] || problem "the package '$PACKAGE' does not exist" "give the path of a siax-agent-*.tar.gz made by --make-package"
    return
  fi
  if [ -n "$BINARY" ]; then
    [ -f "$BINARY" ] && [ -x "$BINARY" ] ||
      problem "the binary '$BINARY' does not exist or is not executable" "build it (cmake --build --preset release --target siax-agent) or give another path"
    return
  fi
  [ -f "$SRC_DIR/CMakePresets.json" ] ||
    problem "no --binary or --package given, and $SRC_DIR is not a source tree to build from" \
      "run the script from the siax-agent checkout, or pass --binary FILE"
  local missing=() p
  for p in "${BUILD_PACKAGES[@]}"; do have_pkg "$p" || missing+=("$p"); done
  ((${#missing[@]} == 0)) || problem "building from source needs Debian packages that are not installed: ${missing[*]}" \
    "apt-get install -y ${missing[*]}   (or pass --binary FILE / --package FILE)"
}

run_checks() {
  local mode=$1 what=$2
  PROBLEMS=()
  check_root
  check_systemd
  if [ "$what" = install ]; then
    check_mode_rights "$mode"
    check_tools
    check_source
  fi
  if ((${#PROBLEMS[@]})); then
    echo "$PROG: cannot continue; nothing was changed. What is missing:" >&2
    local p
    for p in "${PROBLEMS[@]}"; do echo "  - $p" >&2; done
    exit 2
  fi
}

confirm() {
  [ "$YES" = 1 ] && return 0
  if [ ! -t 0 ]; then
    die "$1: stdin is not a terminal, so nobody can confirm; re-run with --yes" 4
  fi
  local answer
  read -r -p "$1 [y/N] " answer
  [[ "$answer" =~ ^[yYsS] ]] || die "stopped by the operator; nothing was changed" 4
}

# ---- the binary ----
WORK=""
cleanup() { [ -z "$WORK" ] || rm -rf -- "$WORK"; }
trap cleanup EXIT
# A command that fails unexpectedly (set -e) says where, instead of stopping silently.
on_error() {
  echo "$PROG: unexpected failure (exit $1) at line $2: $3" >&2
  [ "$LOGGING" = 0 ] || echo "$(date -u +%FT%TZ) error: exit $1 at line $2: $3" >>"$DEPLOY_LOG"
}
set -E
trap 'on_error $? $LINENO "$BASH_COMMAND"' ERR
# Interrupted between the switch and the verdict: say where things stand.
CRITICAL=""
on_interrupt() {
  echo "$PROG: interrupted${CRITICAL:+: $CRITICAL}" >&2
  [ "$LOGGING" = 0 ] || echo "$(date -u +%FT%TZ) interrupted${CRITICAL:+: $CRITICAL}" >>"$DEPLOY_LOG"
  exit 4
}
trap on_interrupt INT TERM HUP
# One run at a time (taken after the checks, before the first change).
take_lock() {
  exec 9>/run/lock/desplegar_agent.lock
  flock -n 9 || die "another run of $PROG is in progress (lock /run/lock/desplegar_agent.lock)"
}

binary_version() {
  local out
  out=$("$1" version 2>&1) || die "'$1 version' failed, so the binary cannot run here: $out"
  out=${out#siax-agent }
  [[ "$out" =~ ^[A-Za-z0-9][A-Za-z0-9.+_~-]{0,63}$ ]] || die "'$1 version' printed '$out', which is not a version"
  echo "$out"
}

build_from_source() {
  local dir=$SRC_DIR/build/deploy-release
  say "building the release from $SRC_DIR (preset release, target siax-agent only) in $dir"
  (cd "$SRC_DIR" && cmake --preset release -B "$dir" -DSIAX_BUILD_TESTS=OFF -DSIAX_BUILD_BENCH=OFF >/dev/null &&
    cmake --build "$dir" --target siax-agent) || die "the build failed (see the compiler output above); nothing was installed"
  BINARY=$dir/src/siax-agent
}

obtain_binary() {
  if [ -n "$PACKAGE" ]; then
    WORK=$(mktemp -d)
    tar -xzf "$PACKAGE" -C "$WORK" --no-same-owner || die "cannot unpack $PACKAGE"
    BINARY=$(find "$WORK" -path '*/bin/siax-agent' -type f | head -1)
    [ -n "$BINARY" ] || die "$PACKAGE has no bin/siax-agent inside"
  elif [ -z "$BINARY" ]; then
    build_from_source
  fi
  BINARY=$(readlink -f -- "$BINARY")
}

# ---- configuration and health ----
conf_value() {  # conf_value SECTION KEY: the raw value in $CONF, quotes removed
  [ -f "$CONF" ] || return 0
  awk -v sec="[$1]" -v key="$2" '
    /^[[:space:]]*\[/ { gsub(/[[:space:]]/, ""); in_sec = ($0 == sec); next }
    in_sec && $0 ~ "^[[:space:]]*" key "[[:space:]]*=" {
      sub(/^[^=]*=[[:space:]]*/, ""); sub(/[[:space:]]*(#.*)?$/, ""); gsub(/"/, ""); print; exit }' "$CONF"
}

health_url() {
  local port listen host scheme=http
  port=$(conf_value server port); port=${port:-8080}
  listen=$(conf_value server listen); listen=${listen:-127.0.0.1}
  case "$listen" in 0.0.0.0|"") host=127.0.0.1 ;; ::) host="[::1]" ;; *:*) host="[$listen]" ;; *) host=$listen ;; esac
  [ -z "$(conf_value server tls_cert)" ] || scheme=https
  echo "$scheme://$host:$port/api/health"
}

# restart_agent: queues a restart (--no-block: the health check's deadline bounds the wait,
# not TimeoutStartSec=) and prints the PID it replaces, for health_check.
restart_agent() {
  local pid
  pid=$(unit_prop MainPID)
  systemctl reset-failed "$UNIT_NAME" 2>/dev/null || true
  systemctl restart --no-block "$UNIT_NAME" >&2 || true
  [ "$pid" = 0 ] && pid=""
  echo "$pid"
}

unit_prop() { systemctl show -p "$1" --value "$UNIT_NAME" 2>/dev/null || true; }

HEALTH_REPORT=""
HEALTH_URL=""
# health_check VERSION [OLD_PID]: the unit is active with a process other than OLD_PID (the
# one before the restart), /api/health answers with VERSION within the deadline, and the
# agent is still the same process 3 s later (no crash and restart).
health_check() {
  local want=$1 old_pid=${2:-} url deadline restarts0 body="" got="" state pid
  url=$(health_url)
  HEALTH_URL=$url
  deadline=$((SECONDS + HEALTH_TIMEOUT))
  restarts0=$(unit_prop NRestarts)
  while :; do
    state=$(systemctl is-active "$UNIT_NAME" 2>/dev/null || true)
    if [ "$(unit_prop NRestarts)" != "$restarts0" ]; then
      HEALTH_REPORT="the agent exited after starting and systemd restarted it (unit state: $state)"
      return 1
    fi
    if [ "$state" = active ] && { [ -z "$old_pid" ] || [ "$(unit_prop MainPID)" != "$old_pid" ]; }; then
      body=$(curl -ksS --max-time 2 "$url" 2>&1 || true)
      got=$(grep -o '"version":"[^"]*"' <<<"$body" | head -1 | cut -d'"' -f4 || true)
      if [ "$got" = "$want" ]; then
        pid=$(unit_prop MainPID)
        sleep 3
        if [ "$(systemctl is-active "$UNIT_NAME" 2>/dev/null || true)" = active ] && [ "$(unit_prop MainPID)" = "$pid" ]; then
          HEALTH_REPORT="$url answered version $got; unit active (PID $pid)"
          return 0
        fi
        HEALTH_REPORT="the agent answered, then exited within 3 s"
        return 1
      fi
    fi
    if ((SECONDS >= deadline)); then
      HEALTH_REPORT="no healthy answer within ${HEALTH_TIMEOUT} s: unit $state; $url said: ${body:-nothing}${got:+ (version $got, wanted $want)}"
      return 1
    fi
    sleep 0.5
  done
}

# What the running agent says it may not do (GET /api/system "missing", the panel's yellow
# banner), asked with the local CLI's token. Best effort: says nothing if it cannot ask.
report_missing_rights() {
  local token body missing
  token=$(head -c 200 "$STATE_DIR/cli-token" 2>/dev/null | tr -cd 'A-Za-z0-9_-') || return 0
  [ -n "$token" ] || return 0
  body=$(curl -ksS --max-time 5 -H "Authorization: Bearer $token" "${HEALTH_URL%/health}/system" 2>/dev/null) || return 0
  missing=$(grep -o '"missing":\[[^]]*\]' <<<"$body" | sed -e 's/^"missing":\[//' -e 's/\]$//' || true)
  if [ -z "$missing" ]; then
    say "the agent reports every right it needs"
    return 0
  fi
  say "the agent reports these rights as missing (GET /api/system, the panel's banner):"
  sed -e 's/^"//' -e 's/"$//' -e 's/","/\n/g' <<<"$missing" | while IFS= read -r line; do say "  - $line"; done
}

# ---- what gets installed ----
render_unit() {  # render_unit MODE
  local mode=$1
  cat <<EOF
# Installed by desplegar_agent.sh (siax-agent); re-running the script rewrites it.
[Unit]
Description=siax-agent: runs Node.js and Python apps as systemd services
Documentation=file://$PREFIX/current/share/DEPLOY.md
After=network.target dbus.service
Wants=dbus.service

[Service]
Type=notify
NotifyAccess=main
ExecStart=$CURRENT/bin/siax-agent --config $CONF serve
Restart=on-failure
RestartSec=2
TimeoutStartSec=60
TimeoutStopSec=20
WatchdogSec=$WATCHDOG_SEC
# Only the agent's own process is stopped; apps are units of their own and keep running.
KillMode=mixed
UMask=0077
EOF
  if [ "$mode" = user ]; then
    cat <<EOF
User=$SVC_USER
Group=$SVC_USER
SupplementaryGroups=systemd-journal
# Unit files are written by the root unit helper ($HELPER_NAME.socket): definitions only.
Environment=SIAX_UNIT_HELPER_SOCKET=$HELPER_SOCKET
ReadWritePaths=$STATE_DIR
CapabilityBoundingSet=
AmbientCapabilities=
RemoveIPC=yes
EOF
  else
    cat <<EOF
# Root mode: the agent writes siax-app-*.service files and their secret files itself.
ReadWritePaths=$STATE_DIR $APP_UNIT_DIR $SECRETS_DIR
# Reading other users' app directories (checks before a start) and their /proc entries.
CapabilityBoundingSet=CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_SYS_PTRACE CAP_KILL
EOF
  fi
  cat <<EOF
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK

[Install]
WantedBy=multi-user.target
EOF
}

render_helper_socket() {
  cat <<EOF
# Installed by desplegar_agent.sh (siax-agent, user mode); re-running the script rewrites it.
[Unit]
Description=siax-agent unit helper socket (the agent's user and root only)
Documentation=file://$PREFIX/current/share/DEPLOY.md

[Socket]
ListenStream=$HELPER_SOCKET
SocketUser=root
SocketGroup=$SVC_USER
SocketMode=0660
DirectoryMode=0755
Accept=no
Backlog=16
RemoveOnStop=yes

[Install]
WantedBy=sockets.target
EOF
}

render_helper_service() {
  cat <<EOF
# Installed by desplegar_agent.sh (siax-agent, user mode); re-running the script rewrites it.
# Root, validating: takes app definitions (never unit text) from the agent's user over
# $HELPER_SOCKET, checks and renders them with the agent's own code, writes
# $APP_UNIT_DIR/siax-app-*.service and $SECRETS_DIR/<app>.env, reloads systemd, enables,
# disables. Exits when idle; the socket starts it again.
[Unit]
Description=siax-agent unit helper (writes siax-app-* units for the agent)
Documentation=file://$PREFIX/current/share/DEPLOY.md
Requires=$HELPER_NAME.socket
After=$HELPER_NAME.socket dbus.service

[Service]
Type=simple
ExecStart=$CURRENT/bin/siax-agent --config $CONF unit-helper --peer-user $SVC_USER --idle-exit 30
TimeoutStopSec=20
UMask=0077
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths=$APP_UNIT_DIR $SECRETS_DIR
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices=yes
PrivateNetwork=yes
IPAddressDeny=any
# Reading other users' app directories for the checks before writing a unit.
CapabilityBoundingSet=CAP_DAC_READ_SEARCH
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
RemoveIPC=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
SystemCallErrorNumber=EPERM
RestrictAddressFamilies=AF_UNIX
EOF
}

helper_units_current() {  # the helper's unit files are as this script renders them, the socket listens
  [ -f "$HELPER_SOCKET_FILE" ] && [ "$(cat "$HELPER_SOCKET_FILE")" = "$(render_helper_socket)" ] &&
    [ -f "$HELPER_SERVICE_FILE" ] && [ "$(cat "$HELPER_SERVICE_FILE")" = "$(render_helper_service)" ] &&
    [ "$(systemctl is-active "$HELPER_NAME.socket" 2>/dev/null || true)" = active ]
}

remove_helper() {
  [ -f "$HELPER_SOCKET_FILE" ] || [ -f "$HELPER_SERVICE_FILE" ] || return 0
  systemctl disable --now "$HELPER_NAME.socket" --quiet 2>/dev/null || true
  systemctl stop "$HELPER_NAME.service" 2>/dev/null || true
  rm -f -- "$HELPER_SOCKET_FILE" "$HELPER_SERVICE_FILE"
  systemctl daemon-reload
  systemctl reset-failed "$HELPER_NAME.service" "$HELPER_NAME.socket" 2>/dev/null || true
  say "removed the unit helper ($HELPER_NAME.socket, $HELPER_NAME.service)"
}

default_config() {  # the binary's own commented defaults, with the port and address asked for
  "$BINARY" config | sed -e "s|^listen = .*|listen = \"$LISTEN\"|" -e "s|^port = .*|port = $PORT|"
}

write_file_atomic() {  # write_file_atomic PATH MODE OWNER:GROUP < content
  local path=$1 tmp
  tmp=$(mktemp "$(dirname "$path")/.$(basename "$path").XXXXXX")
  cat >"$tmp"
  chmod "$2" "$tmp"
  chown "$3" "$tmp"
  mv -fT "$tmp" "$path"
}

switch_current() {  # switch_current RELEASE_DIR: atomic (rename of a new symlink over the old)
  ln -sfn "$1" "$CURRENT.new"
  mv -fT "$CURRENT.new" "$CURRENT"
}

current_release() { [ -L "$CURRENT" ] && readlink "$CURRENT" || true; }

journal_tail() { journalctl -u "$UNIT_NAME" -n "${1:-15}" --no-pager -o cat 2>/dev/null | sed 's/^/      /' || true; }

ensure_user_and_dirs() {
  local mode=$1 owner
  if [ "$mode" = user ]; then
    if ! id -u "$SVC_USER" >/dev/null 2>&1; then
      # The group may be left from an earlier install (another user still in it).
      local group_opt=--user-group
      getent group "$SVC_USER" >/dev/null 2>&1 && group_opt="-g $SVC_USER"
      useradd --system $group_opt --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin \
        --comment "siax-agent service" "$SVC_USER"
      say "created the system user $SVC_USER (no login shell, no home)"
    fi
    owner=$SVC_USER
  else
    owner=root
  fi
  install -d -m 0755 -o root -g root "$PREFIX" "$RELEASES"
  install -d -m 0750 -o root -g "$owner" "$CONF_DIR"
  install -d -m 0750 -o "$owner" -g "$owner" "$STATE_DIR"
  # The log dir holds this script's log: root's, readable by the agent's group, never
  # writable by the agent (root appends to files in it). The agent logs to the journal.
  install -d -m 0750 -o root -g "$owner" "$LOG_DIR"
  # A mode switch hands the state over (chown -R changes symlinks, never follows them).
  chown -R "$owner:$owner" "$STATE_DIR"
}

ensure_config() {
  local mode=$1 group=root
  [ "$mode" = user ] && group=$SVC_USER
  if [ -f "$CONF" ]; then
    chgrp "$group" "$CONF"
    say "kept the existing configuration $CONF (never overwritten)"
    [ "$NET_GIVEN" = 0 ] || warn "--port/--listen only shape a new configuration; edit server.port/server.listen in $CONF"
    return
  fi
  default_config | write_file_atomic "$CONF" 0640 "root:$group"
  say "wrote the default configuration $CONF (listen $LISTEN, port $PORT)"
}

ensure_rights() {
  local mode=$1
  # The apps' secret environment files (EnvironmentFile=): root's, written by the agent in
  # root mode and by the unit helper in user mode.
  install -d -m 0700 -o root -g root "$SECRETS_DIR"
  if [ "$mode" = user ]; then
    # The rule, and the root-owned check it runs before a start (docs/SECURITY.md).
    local before after
    before=$(cat "$POLKIT_RULE" "$UNIT_CHECK" 2>/dev/null | sha256sum || true)
    bash "$SRC_DIR/packaging/polkit/install-polkit-rule.sh" --user "$SVC_USER" --check-path "$UNIT_CHECK" >/dev/null
    after=$(cat "$POLKIT_RULE" "$UNIT_CHECK" 2>/dev/null | sha256sum || true)
    [ "$before" = "$after" ] ||
      say "installed the polkit rule $POLKIT_RULE ($SVC_USER may start/stop/restart its own siax-app-* units only)"
    # The unit helper: its two units, the socket listening.
    local changed=0
    if [ ! -f "$HELPER_SOCKET_FILE" ] || [ "$(cat "$HELPER_SOCKET_FILE")" != "$(render_helper_socket)" ]; then
      render_helper_socket | write_file_atomic "$HELPER_SOCKET_FILE" 0644 root:root
      changed=1
    fi
    if [ ! -f "$HELPER_SERVICE_FILE" ] || [ "$(cat "$HELPER_SERVICE_FILE")" != "$(render_helper_service)" ]; then
      render_helper_service | write_file_atomic "$HELPER_SERVICE_FILE" 0644 root:root
      changed=1
    fi
    systemctl daemon-reload
    if [ "$changed" = 1 ]; then
      # A running helper is stopped (the next request starts the new binary).
      systemctl stop "$HELPER_NAME.service" 2>/dev/null || true
      systemctl restart "$HELPER_NAME.socket"
      say "installed the unit helper $HELPER_NAME.socket ($HELPER_SOCKET, root:$SVC_USER 0660) and $HELPER_NAME.service"
    fi
    systemctl enable --now "$HELPER_NAME.socket" --quiet || die "could not start $HELPER_NAME.socket" 1
  else
    if [ -f "$POLKIT_RULE" ]; then
      rm -f -- "$POLKIT_RULE" "$UNIT_CHECK"
      say "removed the polkit rule (root mode does not need it)"
    fi
    remove_helper
  fi
}

prune_releases() {
  local keep_a keep_b n=0 d
  keep_a=$(current_release); keep_b=${1:-}
  # newest first; always keep current and the previous one
  while IFS= read -r d; do
    [ -n "$d" ] || continue
    n=$((n + 1))
    if [ "$d" = "$keep_a" ] || [ "$d" = "$keep_b" ] || ((n <= KEEP)); then continue; fi
    rm -rf -- "$d"
    say "removed the old release $d"
  done < <(ls -1dt "$RELEASES"/*/ 2>/dev/null | sed 's:/$::')
}

# ---- actions ----
do_install() {
  local mode version hash id release prev prev_version old_unit new_unit unit_changed=0
  mode=$(effective_mode)
  run_checks "$mode" install
  obtain_binary
  version=$(binary_version "$BINARY")
  hash=$(sha256sum "$BINARY" | cut -c1-12)
  id="$version-$hash"
  release=$RELEASES/$id
  new_unit=$(render_unit "$mode")
  prev=$(current_release)

  # Same build, same mode, healthy: nothing to do.
  if [ "$prev" = "$release" ] && [ -f "$UNIT_FILE" ] && [ "$(cat "$UNIT_FILE")" = "$new_unit" ] && [ -f "$CONF" ] &&
    { [ "$mode" != user ] || helper_units_current; } &&
    [ "$(systemctl is-active "$UNIT_NAME" 2>/dev/null || true)" = active ] && health_check "$version"; then
    [ "$NET_GIVEN" = 0 ] || warn "--port/--listen only shape a new configuration; edit server.port/server.listen in $CONF"
    say "already installed: siax-agent $version (release $id, mode $mode) is running and healthy; nothing changed"
    return 0
  fi

  take_lock
  start_log
  say "deploying siax-agent $version (release $id, mode $mode)${prev:+ over $(basename "$prev")}"
  ensure_user_and_dirs "$mode"
  ensure_config "$mode"

  if [ ! -x "$release/bin/siax-agent" ]; then
    rm -rf -- "$release.tmp"
    install -d -m 0755 "$release.tmp/bin" "$release.tmp/share"
    install -m 0755 -o root -g root "$BINARY" "$release.tmp/bin/siax-agent"
    [ ! -f "$SRC_DIR/docs/DEPLOY.md" ] || install -m 0644 "$SRC_DIR/docs/DEPLOY.md" "$release.tmp/share/DEPLOY.md"
    echo "$version" >"$release.tmp/VERSION"
    mv -T "$release.tmp" "$release"
    say "unpacked the release into $release"
  fi

  ensure_rights "$mode"
  old_unit=""
  [ ! -f "$UNIT_FILE" ] || old_unit=$(cat "$UNIT_FILE")
  if [ "$old_unit" != "$new_unit" ]; then
    printf '%s\n' "$new_unit" | write_file_atomic "$UNIT_FILE" 0644 root:root
    unit_changed=1
    say "wrote $UNIT_FILE"
  fi
  systemctl daemon-reload
  systemctl enable "$UNIT_NAME" --quiet 2>/dev/null || warn "could not enable $UNIT_NAME at boot"

  switch_current "$release"
  ln -sfn "$CURRENT/bin/siax-agent" "$CLI_LINK"
  say "switched $CURRENT to $id; restarting $UNIT_NAME"
  local old_pid
  CRITICAL="current points to the new release $id${prev:+; the previous one is $(basename "$prev") (--rollback)}"
  old_pid=$(restart_agent)
  if health_check "$version" "$old_pid"; then
    CRITICAL=""
    say "healthy: $HEALTH_REPORT"
    prune_releases "$prev"
    say "installed siax-agent $version (mode $mode)"
    report_missing_rights
    local runas=""
    [ "$mode" = user ] && runas="runuser -u $SVC_USER -- "
    if [ -f "$STATE_DIR/initial-admin-password" ]; then
      say "first login: user 'admin', password in $STATE_DIR/initial-admin-password (readable by root only)"
    fi
    say "set the panel's admin password with (reads it from stdin):"
    say "  ${runas}siax-agent --config $CONF user set-password admin"
    return 0
  fi

  # ---- automatic rollback ----
  local failure=$HEALTH_REPORT
  echo "$PROG: the new release $id is NOT healthy: $failure" >&2
  echo "      last lines of the agent's journal:" >&2
  journal_tail 15 >&2
  if [ -z "$prev" ] || [ "$prev" = "$release" ] || [ ! -x "$prev/bin/siax-agent" ]; then
    systemctl stop "$UNIT_NAME" 2>/dev/null || true
    say "FAILED: $id is unhealthy and there is no other release to go back to; the service is stopped"
    exit 1
  fi
  prev_version=$(cat "$prev/VERSION" 2>/dev/null || binary_version "$prev/bin/siax-agent")
  say "rolling back to $(basename "$prev")"
  if [ "$unit_changed" = 1 ]; then
    if [ -n "$old_unit" ]; then printf '%s\n' "$old_unit" | write_file_atomic "$UNIT_FILE" 0644 root:root; fi
    systemctl daemon-reload
  fi
  switch_current "$prev"
  old_pid=$(restart_agent)
  if health_check "$prev_version" "$old_pid"; then
    CRITICAL=""
    rm -rf -- "$release"
    cat >&2 <<EOF
$PROG: ROLLED BACK. Report:
  failed:   siax-agent $version (release $id): $failure
  restored: siax-agent $prev_version (release $(basename "$prev")): $HEALTH_REPORT
  the failed release was removed; managed apps were not touched. Log: $DEPLOY_LOG
EOF
    say "rolled back: $id failed ($failure); $(basename "$prev") restored and healthy"
    exit 1
  fi
  cat >&2 <<EOF
$PROG: ROLLBACK FAILED TOO. Report:
  failed:   siax-agent $version (release $id): $failure
  restored: release $(basename "$prev") is in place but unhealthy: $HEALTH_REPORT
  look at: journalctl -u $UNIT_NAME; managed apps were not touched. Log: $DEPLOY_LOG
EOF
  journal_tail 10 >&2
  say "rollback of $id to $(basename "$prev") failed: $HEALTH_REPORT"
  exit 3
}

do_rollback() {
  run_checks "$(effective_mode)" other
  local cur prev version
  cur=$(current_release)
  [ -n "$cur" ] || die "siax-agent is not installed (no $CURRENT)"
  prev=$(ls -1dt "$RELEASES"/*/ 2>/dev/null | sed 's:/$::' | grep -vxF "$cur" | head -1 || true)
  [ -n "$prev" ] || die "there is no other release in $RELEASES to go back to"
  version=$(cat "$prev/VERSION" 2>/dev/null || binary_version "$prev/bin/siax-agent")
  confirm "Switch siax-agent from $(basename "$cur") back to $(basename "$prev")?"
  take_lock
  start_log
  switch_current "$prev"
  if health_check "$version" "$(restart_agent)"; then
    touch "$prev"  # newest again, so that the next rollback goes the other way
    say "rolled back to $(basename "$prev"): $HEALTH_REPORT"
    return 0
  fi
  say "the release $(basename "$prev") is unhealthy ($HEALTH_REPORT); switching back to $(basename "$cur")"
  switch_current "$cur"
  restart_agent >/dev/null
  exit 1
}

agent_app_units() {  # unit files the agent wrote (they start with its marker)
  local f
  for f in "$APP_UNIT_DIR"/siax-app-*.service; do
    [ -f "$f" ] || continue
    head -1 "$f" | grep -q '^# Managed by siax-agent' && echo "$f"
  done
}

remove_agent() {
  if systemctl list-unit-files "$UNIT_NAME" >/dev/null 2>&1 && [ -f "$UNIT_FILE" ]; then
    systemctl disable --now "$UNIT_NAME" --quiet 2>/dev/null || systemctl stop "$UNIT_NAME" 2>/dev/null || true
  fi
  remove_helper
  rm -f -- "$UNIT_FILE" "$POLKIT_RULE" "$UNIT_CHECK"
  rmdir --ignore-fail-on-non-empty "$(dirname "$UNIT_CHECK")" 2>/dev/null || true
  [ "$(readlink "$CLI_LINK" 2>/dev/null)" != "$CURRENT/bin/siax-agent" ] || rm -f -- "$CLI_LINK"
  rm -rf -- "$PREFIX"
  systemctl daemon-reload
  systemctl reset-failed "$UNIT_NAME" 2>/dev/null || true
}

do_uninstall() {
  run_checks user other
  [ -e "$UNIT_FILE" ] || [ -e "$PREFIX" ] || { say "siax-agent is not installed; nothing to do"; return 0; }
  cat <<EOF
$PROG: --uninstall will remove:
  - the service $UNIT_NAME (stopped, disabled, $UNIT_FILE deleted)
  - every release in $PREFIX, the link $CLI_LINK, the polkit rule $POLKIT_RULE and $UNIT_CHECK
  - the unit helper $HELPER_SOCKET_FILE and $HELPER_SERVICE_FILE
and keep: the managed apps (running, their units), $CONF_DIR, $STATE_DIR, $LOG_DIR, the user $SVC_USER
EOF
  confirm "Uninstall siax-agent?"
  take_lock
  start_log
  remove_agent
  say "uninstalled siax-agent; apps, configuration, state and logs are kept (--purge removes them)"
}

do_purge() {
  run_checks user other
  local units=() u
  while IFS= read -r u; do [ -n "$u" ] && units+=("$u"); done < <(agent_app_units)
  echo "$PROG: --purge will stop and remove:"
  echo "  - the service $UNIT_NAME, every release in $PREFIX, $CLI_LINK, $POLKIT_RULE, $UNIT_CHECK"
  echo "  - the unit helper $HELPER_NAME.socket and $HELPER_NAME.service"
  if ((${#units[@]})); then
    for u in "${units[@]}"; do
      echo "  - the app unit $(basename "$u") ($(systemctl is-active "$(basename "$u")" 2>/dev/null || true)): stopped, disabled, $u deleted"
    done
  else
    echo "  - (no app units written by the agent)"
  fi
  echo "  - $CONF_DIR, $STATE_DIR (registry, tokens, users), $LOG_DIR"
  id -u "$SVC_USER" >/dev/null 2>&1 && echo "  - the system user $SVC_USER"
  echo "  Unit files in $APP_UNIT_DIR that the agent did not write are left alone."
  confirm "Purge siax-agent and its apps? This cannot be undone."
  take_lock
  remove_agent
  for u in "${units[@]}"; do
    systemctl disable --now "$(basename "$u")" --quiet 2>/dev/null || systemctl stop "$(basename "$u")" 2>/dev/null || true
    rm -f -- "$u"
    echo "$PROG: removed $(basename "$u")"
  done
  systemctl daemon-reload
  for u in "${units[@]}"; do systemctl reset-failed "$(basename "$u")" 2>/dev/null || true; done
  rm -rf -- "$CONF_DIR" "$STATE_DIR" "$LOG_DIR"
  if id -u "$SVC_USER" >/dev/null 2>&1; then userdel "$SVC_USER" 2>/dev/null || warn "could not remove the user $SVC_USER"; fi
  # userdel keeps the group while other users are in it (e.g. one given access by hand)
  if getent group "$SVC_USER" >/dev/null 2>&1; then groupdel "$SVC_USER" 2>/dev/null || warn "could not remove the group $SVC_USER"; fi
  echo "$PROG: purged siax-agent and ${#units[@]} app unit(s)"
}

do_package() {
  PROBLEMS=()
  check_source
  if ((${#PROBLEMS[@]})); then
    echo "$PROG: cannot build the package:" >&2
    printf '  - %s\n' "${PROBLEMS[@]}" >&2
    exit 2
  fi
  obtain_binary
  local version dir
  version=$(binary_version "$BINARY")
  WORK=$(mktemp -d)
  dir=$WORK/siax-agent-$version
  install -d "$dir/bin" "$dir/share"
  install -m 0755 "$BINARY" "$dir/bin/siax-agent"
  [ ! -f "$SRC_DIR/docs/DEPLOY.md" ] || install -m 0644 "$SRC_DIR/docs/DEPLOY.md" "$dir/share/"
  mkdir -p "$PACKAGE_OUT"
  tar -czf "$PACKAGE_OUT/siax-agent-$version.tar.gz" -C "$WORK" "siax-agent-$version"
  echo "$PROG: wrote $PACKAGE_OUT/siax-agent-$version.tar.gz"
}

case "$ACTION" in
  install) do_install ;;
  check)
    run_checks "$(effective_mode)" install
    if [ "$(effective_mode)" = user ] && [ -f "$UNIT_FILE" ]; then
      # Installed in user mode: the unit helper must be in place, or the agent cannot write units.
      if ! helper_units_current; then
        echo "$PROG: the unit helper ($HELPER_NAME.socket on $HELPER_SOCKET) is missing, out of date or not" \
          "listening: the agent cannot register apps. Fix: re-run $PROG (it installs the helper)," \
          "or systemctl enable --now $HELPER_NAME.socket" >&2
        exit 2
      fi
      echo "$PROG: the unit helper $HELPER_NAME.socket listens on $HELPER_SOCKET"
    fi
    echo "$PROG: all checks passed (mode $(effective_mode)); nothing was changed"
    ;;
  rollback) do_rollback ;;
  uninstall) do_uninstall ;;
  purge) do_purge ;;
  package) do_package ;;
esac
