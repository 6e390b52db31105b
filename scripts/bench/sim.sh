#!/usr/bin/env bash
# Simulator throughput: simulated HTTP exchanges per wall-clock second (one
# worker, then two), seeds per minute, and peak memory, over the default
# world (4 reference devices x 300 steps, all faults). Usage:
#   scripts/bench/sim.sh [SEEDS]        (default 1000)
# PEEK_SIM_TMPDIR=/path puts the worlds' SQLite files on a real disk.
set -euo pipefail
cd "$(dirname "$0")/../.."
seeds="${1:-1000}"
cargo build --release -p sim >/dev/null
bin=target/release/peek-sim
for jobs in 1 2; do
  echo "== peek-sim explore --seeds $seeds --jobs $jobs"
  /usr/bin/time -f "cpu: %U s user + %S s sys, wall %e s, max RSS %M KB" \
    "$bin" explore --seeds "$seeds" --jobs "$jobs" 2>&1 | grep -v '^[0-9]*/[0-9]* seeds'
done
