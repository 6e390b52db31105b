#!/usr/bin/env bash
# Simulator throughput over the default world (4 reference devices x 300
# steps, every fault): simulated HTTP exchanges per second (wall) and per
# CPU-second, seeds per minute and peak memory, for one worker and for two,
# each the median of RUNS runs (default 3). Usage:
#   scripts/bench/sim.sh [SEEDS]        (default 1000)
# Knobs: RUNS=3, JOBS="1 2", BIN=path/to/peek-sim (no build),
# PEEK_SIM_TMPDIR=/path (the worlds' server files on a real disk).
#
# Per CPU-second is exchanges / (user + system time): on a shared machine
# it moves far less with the load than the wall-clock figure, which is the
# one the target (exchanges per second per core) is stated in; quote both
# with the load average the script prints.
set -euo pipefail
cd "$(dirname "$0")/../.."
seeds="${1:-1000}"
runs="${RUNS:-3}"
jobs_list="${JOBS:-1 2}"
bin="${BIN:-}"
if [[ -z "$bin" ]]; then
  cargo build --release -p sim >&2
  bin="${CARGO_TARGET_DIR:-target}/release/peek-sim"
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

echo "# peek-sim explore --seeds $seeds, median of $runs runs"
echo
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| jobs | exchanges | wall s | exchanges/s | per core | per CPU-second | seeds/min | max RSS MB |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for jobs in $jobs_list; do
  : >"$tmp/rows"
  for r in $(seq 1 "$runs"); do
    echo "== jobs $jobs, run $r of $runs" >&2
    /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" \
      "$bin" explore --seeds "$seeds" --jobs "$jobs" >"$tmp/out" 2>/dev/null || true
    # The summary row: | seeds | failing | exchanges | ...
    exchanges="$(awk -F'|' -v s="$seeds" '$2 + 0 == s && NF > 7 { gsub(/ /, "", $4); print $4; exit }' "$tmp/out")"
    read -r wall user sys rss <"$tmp/time"
    echo "$exchanges $wall $user $sys $rss" >>"$tmp/rows"
  done
  exchanges="$(awk '{ print $1 }' "$tmp/rows" | median)"
  wall="$(awk '{ print $2 }' "$tmp/rows" | median)"
  xps="$(awk '{ print $1 / $2 }' "$tmp/rows" | median)"
  cpu_rate="$(awk '{ print $1 / ($3 + $4) }' "$tmp/rows" | median)"
  rss="$(awk '{ print $5 / 1024 }' "$tmp/rows" | median)"
  awk -v j="$jobs" -v x="$exchanges" -v w="$wall" -v r="$xps" -v c="$cpu_rate" -v s="$seeds" -v m="$rss" 'BEGIN {
    printf "| %d | %d | %.1f | %.0f | %.0f | %.0f | %.0f | %.1f |\n", j, x, w, r, r / j, c, s / w * 60, m }'
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
