#!/usr/bin/env bash
# The cost of one full /proc scan with about 1,000 processes: starts enough idle
# processes (sleep) to bring the host's count to TARGET, runs siax_bench_procscan
# (release build), and stops them again.
# Usage: bench/run-procscan-bench.sh [TARGET=1000] [extra Google Benchmark flags]
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${1:-1000}
shift || true
cmake --preset release >/dev/null
cmake --build --preset release --target siax_bench_procscan >/dev/null
have=$(ls -d /proc/[0-9]* | wc -l)
extra=$(( TARGET > have ? TARGET - have : 0 ))
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
for _ in $(seq "$extra"); do
  sleep 3600 &
  pids+=($!)
done
echo "processes on the host: $(ls -d /proc/[0-9]* | wc -l) ($extra started for the bench)"
build/release/bench/siax_bench_procscan --benchmark_repetitions=5 --benchmark_report_aggregates_only=true "$@"
