#!/bin/sh
# Builds the conformance drivers of the original Peek clients (the real
# Electron, extension, Tauri desktop and Tauri mobile sync code, and the JS
# engine) from a checkout of autonome/peek, and prints the `--client`
# arguments that run them.
#
#   PEEK_ORIGINAL_DIR=/path/to/peek scripts/build-drivers.sh [OUTDIR]
#
# OUTDIR defaults to target/drivers (outside git). The original's code is
# never copied into this repository: each driver is built from the
# checkout named here. A checkout made with `git archive` has no .git: put
# its commit in $PEEK_ORIGINAL_DIR/.peek-commit so the matrix can name it.
#
# Get a checkout, for example:
#   git clone https://github.com/autonome/peek /tmp/peek-original
#   (or: git --git-dir=peek.git archive main | tar -x -C /tmp/peek-original)
#
# Prints, on stdout, one `--client 'driver:…'` line per driver built, and
# on stderr each driver's build time. Exits non-zero naming the first file
# it looked for and did not find.
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
orig=${PEEK_ORIGINAL_DIR:-}
if [ -z "$orig" ]; then
  echo "build-drivers: set PEEK_ORIGINAL_DIR to a checkout of autonome/peek (branch main)" >&2
  exit 2
fi
orig=$(cd "$orig" 2>/dev/null && pwd) || {
  echo "build-drivers: PEEK_ORIGINAL_DIR=$PEEK_ORIGINAL_DIR is not a directory" >&2
  exit 2
}
for f in backend/electron/ipc.ts backend/electron/sync.ts backend/extension/sync.js \
         backend/tauri/src-tauri/src/sync.rs backend/tauri-mobile/src-tauri/src/lib.rs \
         sync/sync.js; do
  if [ ! -f "$orig/$f" ]; then
    echo "build-drivers: $orig/$f not found: is PEEK_ORIGINAL_DIR a checkout of autonome/peek's main branch?" >&2
    exit 2
  fi
done
out=${1:-$repo/target/drivers}
mkdir -p "$out"
out=$(cd "$out" && pwd)
export PEEK_ORIGINAL_DIR="$orig"

# Wall-clock build times go to stderr: they are for the person waiting.
timed() {
  name=$1
  shift
  start=$(date +%s)
  "$@"
  echo "build-drivers: $name built in $(( $(date +%s) - start )) s" >&2
}

timed electron "$repo/conformance/drivers/electron/build.sh" "$out/electron" >"$out/electron.client"
timed extension "$repo/conformance/drivers/extension/build.sh" "$out/extension" >"$out/extension.client"
timed tauri "$repo/conformance/drivers/tauri/build.sh" "$out/tauri" >"$out/tauri.client"
# The JS engine's driver loads the original at run time.
echo "driver:env PEEK_ORIGINAL_DIR=$orig node $repo/conformance/drivers/node/driver.mjs" >"$out/js-engine.client"

for c in electron extension tauri js-engine; do
  while IFS= read -r line; do
    printf "%s\n" "--client '$line'"
  done <"$out/$c.client"
done
