#!/usr/bin/env bash
# Server crash safety: kill -9 under write load, ROUNDS times (default 25),
# checking integrity and every acknowledged write after each restart.
# Extra arguments go to crash.py (--writers, --seed, --max-run, ...).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p server --bin peek-server
exec python3 scripts/crash/crash.py --server target/release/peek-server --rounds "${ROUNDS:-25}" "$@"
