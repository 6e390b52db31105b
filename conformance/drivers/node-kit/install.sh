#!/bin/sh
# Installs the kit's pinned packages (package-lock.json) with `npm ci`, once:
# a stamp of the lock file in node_modules skips the reinstall when nothing
# changed (better-sqlite3 compiles from source, which takes minutes).
set -eu
kit=$(cd "$(dirname "$0")" && pwd)
cd "$kit"
stamp=node_modules/.kit-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
# better-sqlite3 has no prebuilt binary reachable here: it builds with
# node-gyp against the installed Node headers when they are present.
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node.h ]; then
  export npm_config_nodedir=/usr
fi
echo "node-kit: npm ci (better-sqlite3 builds from source; a few minutes)" >&2
npm ci --no-audit --no-fund >&2
echo "$want" > "$stamp"
