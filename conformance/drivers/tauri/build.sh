#!/usr/bin/env bash
# Builds the drivers of the original Tauri apps from the checkout named by
# $PEEK_ORIGINAL_DIR, into an output directory, and prints their
# `driver:…` arguments for peek-conform (one per line, on stdout; build
# messages go to stderr).
#
#   PEEK_ORIGINAL_DIR=/tmp/peek-original conformance/drivers/tauri/build.sh [OUT]
#
# OUT defaults to $PEEK_DRIVERS_DIR, else target/drivers of the repository.
# PEEK_DRIVERS_PROFILE=release for an optimised build (default: dev, with
# dependencies at opt-level 1: the drivers wait on HTTP, not on CPU, and
# the dev build is the quicker one). CARGO_TARGET_DIR is honoured (default:
# OUT/tauri-target); JOBS sets cargo's -j (default 2).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)

if [ -z "${PEEK_ORIGINAL_DIR:-}" ]; then
  echo "build.sh: set PEEK_ORIGINAL_DIR to a checkout of the Peek app" >&2
  exit 2
fi
missing=0
for f in backend/tauri/src-tauri/src/datastore.rs \
         backend/tauri/src-tauri/src/profiles.rs \
         backend/tauri/src-tauri/src/sync.rs \
         backend/tauri-mobile/src-tauri/src/lib.rs; do
  if [ ! -f "$PEEK_ORIGINAL_DIR/$f" ]; then
    echo "build.sh: $PEEK_ORIGINAL_DIR/$f not found" >&2
    missing=1
  fi
done
[ "$missing" = 0 ] || exit 1

out=${1:-${PEEK_DRIVERS_DIR:-$repo/target/drivers}}
mkdir -p "$out"
out=$(cd "$out" && pwd)
export PEEK_ORIGINAL_DIR
PEEK_ORIGINAL_DIR=$(cd "$PEEK_ORIGINAL_DIR" && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$out/tauri-target}
profile=${PEEK_DRIVERS_PROFILE:-dev}
case "$profile" in
  release) flags=(--release); dir=release ;;
  dev) flags=(); dir=debug ;;
  *) echo "build.sh: PEEK_DRIVERS_PROFILE must be dev or release" >&2; exit 2 ;;
esac

start=$(date +%s)
cargo build --manifest-path "$here/Cargo.toml" --locked "${flags[@]}" -j "${JOBS:-2}" \
  -p original-tauri-desktop -p original-tauri-mobile >&2
end=$(date +%s)
for bin in original-tauri-desktop original-tauri-mobile; do
  cp "$CARGO_TARGET_DIR/$dir/$bin" "$out/$bin"
done
echo "build.sh: built original-tauri-desktop and original-tauri-mobile ($profile) in $((end - start)) s into $out" >&2
echo "driver:$out/original-tauri-desktop"
echo "driver:$out/original-tauri-mobile"
