#!/usr/bin/env bash
# install-polkit-rule.sh --user USER [--check-path PATH] [--rule FILE] [--remove]
#
# Grants USER (the unprivileged user siax-agent runs as) the lifecycle of its own
# siax-app-* units through polkit, as described in docs/SECURITY.md:
#   PATH (default /usr/local/libexec/siax-agent/siax-unit-check)   the unit check, root:root 0755
#   /etc/polkit-1/rules.d/50-siax-agent.rules                       the rule, root 0644
# Both are written atomically (temporary file, rename). polkitd notices new rules by itself
# within a second or two; `systemctl restart polkit` makes it immediate.
# --rule FILE installs another rule text (tests: show that the old rule fails the matrix).
# --remove deletes both. Run as root. Used by the deploy script and by the tests.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RULES_DIR=/etc/polkit-1/rules.d
RULE=$RULES_DIR/50-siax-agent.rules
user="" check=/usr/local/libexec/siax-agent/siax-unit-check remove=false
rule_src=$HERE/50-siax-agent.rules

die() { echo "install-polkit-rule: $*" >&2; exit 1; }

while (($#)); do
  case $1 in
    --user) user=${2:-}; shift 2 ;;
    --check-path) check=${2:-}; shift 2 ;;
    --rule) rule_src=${2:-}; shift 2 ;;
    --remove) remove=true; shift ;;
    -h | --help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
done
[[ $EUID -eq 0 ]] || die "must run as root"
[[ -r $rule_src ]] || die "cannot read the rule $rule_src"
[[ $check =~ ^(/[A-Za-z0-9._-]+)+$ && $check != *..* ]] ||
  die "--check-path must be an absolute path of letters, digits, '.', '_', '-' (got '$check')"

if $remove; then
  rm -f -- "$RULE" "$check"
  echo "install-polkit-rule: removed $RULE and $check"
  exit 0
fi

[[ $user =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || die "--user must be a Unix user name (got '${user}')"
[[ $user != root ]] || die "--user root needs no rule: root may manage every unit"
getent passwd "$user" >/dev/null || die "no user '$user' (create it first)"

# install_file SRC DEST MODE: root-owned copy, written atomically.
install_file() {
  local tmp
  tmp=$(mktemp "$(dirname "$2")/.${2##*/}.XXXXXX")
  cat -- "$1" >"$tmp"
  chown root:root -- "$tmp"
  chmod "$3" -- "$tmp"
  mv -f -- "$tmp" "$2"
}

# Every directory on the way to the check must be root's alone: whoever can replace the
# check (or a directory above it) decides what the agent's user may start.
install -d -o root -g root -m 0755 "$(dirname "$check")"
d=$(dirname "$check")
while [[ $d != / ]]; do
  [[ $(stat -c %u "$d") == 0 && $(stat -c %A "$d") != ?????w???? && $(stat -c %A "$d") != ????????w? ]] ||
    die "$d must be owned by root and writable by root only"
  d=$(dirname "$d")
done
install_file "$HERE/siax-unit-check" "$check" 0755

[[ -d $RULES_DIR ]] || die "$RULES_DIR does not exist: install polkitd first"
rule_tmp=$(mktemp)
trap 'rm -f -- "$rule_tmp"' EXIT
sed -e "s|@SIAX_USER@|$user|g" -e "s|@SIAX_UNIT_CHECK@|$check|g" "$rule_src" >"$rule_tmp"
install_file "$rule_tmp" "$RULE" 0644
echo "install-polkit-rule: $RULE for user $user (unit check $check)"
