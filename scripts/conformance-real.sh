#!/bin/sh
# The real-client conformance run: builds every driver from a checkout of
# the original (scripts/build-drivers.sh), then runs peek-conform over the
# platform models and the real clients side by side, so the matrix shows
# each real client beside its model and model-vs-real.md says, scenario by
# scenario, where they agree.
#
#   PEEK_ORIGINAL_DIR=/path/to/peek scripts/conformance-real.sh [--docs] [REPORT_DIR]
#
# REPORT_DIR defaults to target/conformance-real. With --docs the matrix and
# the model-vs-real report are also copied to docs/conformance/ (with this
# machine's paths made relative), for committing. CI does not run this: it
# has no checkout of the original.
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
docs=no
if [ "${1:-}" = "--docs" ]; then docs=yes; shift; fi
report=${1:-$repo/target/conformance-real}
cd "$repo"
start=$(date +%s)
cargo build --release -q -p conformance --bin peek-conform --bin peek-conform-driver
clients=$(scripts/build-drivers.sh "$repo/target/drivers")
echo "drivers built in $(( $(date +%s) - start )) s (with peek-conform)" >&2
run_start=$(date +%s)
# Models first, each real client after: the matrix reads left to right.
# In-process models run 256 worlds per property (their expectation files
# are judged at that depth), drivers 16 from the same seeds: each world
# costs a driver real processes and wall-clock time.
set +e
eval "target/release/peek-conform --portable-cases 16 --report '$report' \
  --client js-engine --client electron --client extension \
  --client tauri-desktop --client tauri-mobile $(echo "$clients" | tr '\n' ' ')"
status=$?
set -e
echo "conformance run took $(( $(date +%s) - run_start )) s; exit $status" >&2
if [ "$docs" = yes ]; then
  mkdir -p docs/conformance
  for f in matrix.md model-vs-real.md; do
    sed -e "s#$repo/##g" -e "s#${PEEK_ORIGINAL_DIR}#\$PEEK_ORIGINAL_DIR#g" \
      "$report/$f" >"docs/conformance/real-$f"
  done
  echo "wrote docs/conformance/real-matrix.md and docs/conformance/real-model-vs-real.md" >&2
fi
exit $status
