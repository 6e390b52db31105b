#!/usr/bin/env bash
# Disk faults on a real file system (tmpfs, bind mounts): needs root.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p server --bin peek-server
exec python3 scripts/diskfault/diskfault.py --server target/release/peek-server "$@"
