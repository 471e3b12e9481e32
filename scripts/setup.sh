#!/usr/bin/env bash
# Installs everything the build, the tests and the run command need, from Debian's
# archive and the npm registry only. Idempotent: a second run installs nothing new.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(
  # toolchain
  g++ cmake ninja-build pkg-config git ccache
  # the layout checker (scripts/check-layout.sh: function lengths)
  universal-ctags
  # libraries (Boost 1.81, never 1.74: Beast's message_generator needs 1.81)
  libboost1.81-dev libsystemd-dev libexpected-dev libsqlite3-dev nlohmann-json3-dev
  # (spdlog, fmt, toml++: headers only, compiled into third_party/'s static libraries;
  #  libre2-dev's libre2.a is linked statically: no C++ shared object at run time)
  libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev libssl-dev libcurl4-openssl-dev
  nettle-dev  # SHA-256/HMAC/PBKDF2 (src/auth), static libnettle.a; OpenSSL only for TLS
  libgtest-dev libgmock-dev libbenchmark-dev
  libre2-dev  # the live-log regex filter: linear-time matching with a memory budget
  # a real systemd for tests and the run command (systemd-nspawn)
  systemd systemd-container dbus polkitd util-linux iproute2 procps psmisc sudo
  # a second systemd version for the tests: a Debian 13 root (tools/sandbox/siax-sandbox image)
  debootstrap
  # the apps the agent manages in tests, and the tools that measure it
  python3 python3-fastapi uvicorn python3-httpx python3-pytest python3-websockets curl wrk hyperfine time
  # a self-signed certificate for the CLI-over-HTTPS test
  openssl
  # the panel's browser tests
  chromium
)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: Debian packages already installed"
fi

if ! command -v node >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

# npm packages for the browser tests (playwright-core drives Debian's chromium; it never
# downloads a browser of its own).
if [ -f tests/e2e/package.json ] && [ ! -d tests/e2e/node_modules/playwright-core ]; then
  echo "setup: installing npm packages for tests/e2e"
  (cd tests/e2e && npm ci --prefer-offline --no-audit --no-fund --silent)
fi
echo "setup: done"
