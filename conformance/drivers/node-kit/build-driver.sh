#!/bin/sh
# What every Node driver's build.sh does: check the checkout is named,
# install the kit's packages (once), bundle the driver with the original
# files it needs, and print the `driver:` client argument.
#
#   build-driver.sh DRIVER_DIR OUTDIR [bundle.mjs options: --require, --alias, --external]
#
# bundle.mjs names any original file that is missing.
set -eu
kit=$(cd "$(dirname "$0")" && pwd)
driver=$1
out=$2
shift 2
orig=${PEEK_ORIGINAL_DIR:?set PEEK_ORIGINAL_DIR to a checkout of autonome/peek}
mkdir -p "$out"
out=$(cd "$out" && pwd)

"$kit/install.sh"

node "$kit/bundle.mjs" --original "$orig" --entry "$driver/driver.mjs" --out "$out" "$@" >&2

echo "driver:node $out/driver.mjs"
