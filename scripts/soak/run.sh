#!/usr/bin/env bash
# Load and soak (issue #7; figures in docs/reliability.md).
#
# Builds peek-server and peek-loadgen (release), starts the server on
# 127.0.0.1 over a fresh temporary data directory, then runs
#   1. `peek-loadgen soak`: CLIENTS (32) clients for SECONDS (600) mixing
#      pushes, incremental pulls (since) and change-feed reads; errors,
#      p50/p99, server RSS at start, every minute and at the end;
#   2. `peek-loadgen scale`: one profile grown to SIZES (1000,10000,100000)
#      items; paged full pull and incremental-pull cost at each size.
# Either step can be skipped: SKIP_SOAK=1 or SKIP_SCALE=1. Results (JSON)
# go to OUT_DIR (default: a temporary dir, printed at the end).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

cargo build --release -p peek-loadgen -p server >&2
loadgen="$root/target/release/peek-loadgen"
server_bin="$root/target/release/peek-server"
out_dir="${OUT_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/peek-soak-out.XXXXXX")}"
mkdir -p "$out_dir"
data_dir="$(mktemp -d "${TMPDIR:-/tmp}/peek-soak.XXXXXX")"
server_pid=""
cleanup() {
    local rc=$?
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    [[ -n "${KEEP_DATA:-}" ]] || rm -rf "$data_dir"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

key="soak-key-$(date +%s)-0123456789abcdef"
"$server_bin" --data-dir "$data_dir" user create soak --key "$key" >/dev/null
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
RUST_LOG="${RUST_LOG:-warn}" "$server_bin" --data-dir "$data_dir" serve \
    --listen "127.0.0.1:$port" --no-startup-backup >"$out_dir/server.log" 2>&1 &
server_pid=$!
export PEEK_URL="http://127.0.0.1:$port" PEEK_API_KEY="$key"
"$loadgen" ping --wait 30

echo "== $(date -u +%FT%TZ) $(nproc) cores, $(uname -sr)"
if [[ -z "${SKIP_SOAK:-}" ]]; then
    echo "== soak: ${CLIENTS:-32} clients, ${SECONDS_TOTAL:-600} s"
    "$loadgen" soak --clients "${CLIENTS:-32}" --seconds "${SECONDS_TOTAL:-600}" --pid "$server_pid" \
        | tee "$out_dir/soak.txt"
fi
if [[ -z "${SKIP_SCALE:-}" ]]; then
    echo "== scale: ${SIZES:-1000,10000,100000} items in one profile"
    "$loadgen" scale --sizes "${SIZES:-1000,10000,100000}" | tee "$out_dir/scale.txt"
fi
errors="$(grep -c ' ERROR ' "$out_dir/server.log" || true)"
echo "== server log: $errors ERROR lines; results in $out_dir"
[[ "$errors" == 0 ]]
