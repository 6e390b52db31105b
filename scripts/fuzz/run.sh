#!/usr/bin/env bash
# Long run of the hostile-input fuzz test (server/tests/api/hostile/):
# random methods, paths, queries, headers and bodies against the in-process
# router. `cargo test` runs 400 cases; this runs CASES (default 100000).
# proptest is the engine because cargo-fuzz needs a nightly toolchain.
set -euo pipefail
cd "$(dirname "$0")/../.."
CASES="${CASES:-100000}"
start=$(date +%s)
PROPTEST_CASES="$CASES" cargo test -p server --test api -- --exact \
  hostile::random_requests_never_5xx_and_rejections_write_nothing
echo "fuzz: $CASES cases passed in $(( $(date +%s) - start ))s"
