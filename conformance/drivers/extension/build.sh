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

# The original files the driver needs; bundle.mjs names any that are missing.
# No aliases: `chrome` is a global the driver installs (./stubs/chrome.mjs)
# and IndexedDB is fake-indexeddb, bundled.
exec "$here/../node-kit/build-driver.sh" "$here" "${1:-$repo/target/drivers/extension}" \
  --require backend/extension/api.js \
  --require backend/extension/background.js \
  --require backend/extension/sync.js \
  --require backend/extension/datastore.js \
  --require backend/extension/profiles.js \
  --require backend/extension/environment.js \
  --require backend/extension/version.js \
  --require backend/extension/manifest.json
