#!/usr/bin/env bash
# Benchmarks the systemd layer against systemctl inside a throwaway systemd sandbox.
# Usage: bench/run-systemd-bench.sh   (as root; builds the release preset first)
# Prints Google Benchmark's table; the figures go into docs/PERFORMANCE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SANDBOX=siax-bench
cmake --preset release >/dev/null
cmake --build --preset release --target siax_bench_systemd
trap 'tools/sandbox/siax-sandbox down "$SANDBOX" >/dev/null 2>&1 || true' EXIT
tools/sandbox/siax-sandbox up "$SANDBOX" --owner $$ --bind "$(pwd)"
tools/sandbox/siax-sandbox exec "$SANDBOX" -- "$(pwd)/build/release/bench/siax_bench_systemd" \
  --benchmark_min_time=2 "$@"
