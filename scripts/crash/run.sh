#!/usr/bin/env bash
# Crash safety (docs/reliability.md):
#  1. crash.py: kill -9 the server under write load ROUNDS times (default
#     25), checking integrity and every acknowledged write after each restart;
#  2. device.py: kill -9 the peek-sync client mid-sync DEVICE_ROUNDS times
#     (default 30), checking the device file and its items, then convergence.
# Extra arguments go to crash.py (--writers, --seed, --max-run, ...).
# SKIP_DEVICE=1 runs only the server part.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p server --bin peek-server
python3 scripts/crash/crash.py --server target/release/peek-server --rounds "${ROUNDS:-25}" "$@"
if [[ -z "${SKIP_DEVICE:-}" ]]; then
    cargo build --release -p engine --bin peek-sync
    python3 scripts/crash/device.py --server target/release/peek-server \
        --client target/release/peek-sync --rounds "${DEVICE_ROUNDS:-30}"
fi
