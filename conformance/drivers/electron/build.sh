#!/bin/sh
# Builds the Electron conformance driver from a checkout of the original app.
#
#   PEEK_ORIGINAL_DIR=/tmp/peek-original conformance/drivers/electron/build.sh [OUTDIR]
#
# OUTDIR defaults to target/drivers/electron (outside git). Prints the
# `driver:` client argument for peek-conform on stdout.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)

# The original files the driver needs; bundle.mjs names any that are missing.
# Aliases (kept short): `electron` -> our stub (ipcMain records handlers,
# app.getPath -> dataDir, the rest inert); `archiver` (zip backups, pulled in
# by ipc.ts -> backup.ts) -> a stub that throws if ever called.
exec "$here/../node-kit/build-driver.sh" "$here" "${1:-$repo/target/drivers/electron}" \
  --require backend/electron/ipc.ts \
  --require backend/electron/sync.ts \
  --require backend/electron/datastore.ts \
  --require backend/electron/profiles.ts \
  --require backend/electron/main.ts \
  --require backend/electron/config.ts \
  --require backend/version.ts \
  --alias electron="$here/stubs/electron.mjs" \
  --alias archiver="$here/stubs/archiver.mjs" \
  --external better-sqlite3
