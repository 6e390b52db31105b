#!/usr/bin/env bash
# Session replay speed: records a simulator session of about 10,000
# exchanges (4 reference devices), then replays it against a
# fresh in-process server and against the client (wiremock, real HTTP), and
# prints exchanges/s and sessions/s. Usage:
#   scripts/bench/replay.sh [STEPS]     (default 47000 steps ≈ 10,000 exchanges)
# Faults are off: restores re-push every item and make the session grow
# far faster than its exchange count.
set -euo pipefail
cd "$(dirname "$0")/../.."
steps="${1:-47000}"
cargo build --release -p sim >/dev/null
bin=target/release/peek-sim
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
"$bin" run --seed 1 --steps "$steps" --no-faults --trace "$dir/big.jsonl" | grep -E '^(ok|FAIL|trace)'
n=$(grep -c '"kind":"exchange"' "$dir/big.jsonl")
echo "session: $n exchanges, $(du -h "$dir/big.jsonl" | cut -f1)"
for what in replay replay-client; do
  start=$(date +%s.%N)
  "$bin" "$what" "$dir/big.jsonl" | tail -2
  end=$(date +%s.%N)
  awk -v n="$n" -v s="$start" -v e="$end" -v w="$what" \
    'BEGIN { t = e - s; printf "%s: %.2f s wall, %.0f exchanges/s, %.2f sessions/s\n", w, t, n / t, 1 / t }'
done
