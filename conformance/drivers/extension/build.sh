#!/bin/sh
# Builds the browser-extension conformance driver from a checkout of the
# original app.
#
#   PEEK_ORIGINAL_DIR=/tmp/peek-original conformance/drivers/extension/build.sh [OUTDIR]
#
# OUTDIR defaults to target/drivers/extension (outside git). Prints the
# `driver:` client argument for peek-conform on stdout.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
orig=${PEEK_ORIGINAL_DIR:?set PEEK_ORIGINAL_DIR to a checkout of autonome/peek}
out=${1:-$repo/target/drivers/extension}
mkdir -p "$out"
out=$(cd "$out" && pwd)

"$here/../node-kit/install.sh"

# The original files the driver needs; bundle.mjs names any that are missing.
# No aliases: `chrome` is a global the driver installs (./stubs/chrome.mjs)
# and IndexedDB is fake-indexeddb, bundled.
node "$here/../node-kit/bundle.mjs" \
  --original "$orig" \
  --entry "$here/driver.mjs" \
  --out "$out" \
  --require backend/extension/api.js \
  --require backend/extension/background.js \
  --require backend/extension/sync.js \
  --require backend/extension/datastore.js \
  --require backend/extension/profiles.js \
  --require backend/extension/environment.js \
  --require backend/extension/version.js \
  --require backend/extension/manifest.json >&2

echo "driver:node $out/driver.mjs"
