#!/usr/bin/env bash
# Runs the standard Peek benchmark matrix (see scripts/bench/README.md).
#
# Default: builds peek-server and peek-loadgen in release mode, starts the
# server on 127.0.0.1 with a fresh temporary data directory and one user,
# runs `peek-loadgen all`, samples the server's RSS before and after, stops
# the server and prints a Markdown summary.
#
# Another server instead (e.g. the original Node server):
#   BASE_URL=http://127.0.0.1:3000 API_KEY=... scripts/bench/run.sh
# (set SERVER_PID=<pid> too to get its RSS figures).
#
# Knobs (environment): PORT (first port to try, default 38080), KEEP_DATA=1
# (keep the temporary data dir), OUT_DIR (where results.json/table.md go,
# default: a temporary dir), LOADGEN_ARGS (extra args for `all`, e.g.
# "--post-count 1000 --since-requests 500" for a quick run).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

base_url="${BASE_URL:-}"
api_key="${API_KEY:-}"
server_pid="${SERVER_PID:-}"
started_server=""
started_floor=""
data_dir=""

cleanup() {
    local rc=$?
    if [[ -n "$started_floor" ]]; then
        kill "$started_floor" 2>/dev/null || true
    fi
    if [[ -n "$started_server" ]] && kill -0 "$started_server" 2>/dev/null; then
        kill "$started_server" 2>/dev/null || true
        # Give it a moment to finish in-flight requests, then insist.
        for _ in $(seq 1 50); do
            kill -0 "$started_server" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$started_server" 2>/dev/null || true
    fi
    if [[ -n "$data_dir" && -z "${KEEP_DATA:-}" ]]; then
        rm -rf "$data_dir"
    elif [[ -n "$data_dir" ]]; then
        echo "data dir kept: $data_dir" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# rss_kb <pid> <field>: a VmRSS/VmHWM line of /proc/<pid>/status, in kB.
rss_kb() {
    awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || true
}
mib() {
    if [[ -n "$1" ]]; then awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; else echo "n/a"; fi
}

if [[ -n "$base_url" && -z "$api_key" ]]; then
    echo "BASE_URL is set: API_KEY must be set too" >&2
    exit 2
fi
if [[ -n "${BIN_DIR:-}" ]]; then
    # Binaries built earlier (e.g. of another commit, to compare): no build.
    bin_dir="$BIN_DIR"
elif [[ -n "$base_url" ]]; then
    echo "== building peek-loadgen (release)" >&2
    cargo build --release -p peek-loadgen >&2
else
    echo "== building peek-server, peek-loadgen and peek-bench-floor (release)" >&2
    cargo build --release -p peek-loadgen -p server -p peek-bench-floor >&2
fi
bin_dir="${bin_dir:-${CARGO_TARGET_DIR:-$root/target}/release}"
loadgen="$bin_dir/peek-loadgen"
server_bin="$bin_dir/peek-server"
floor_bin="$bin_dir/peek-bench-floor"

if [[ -z "$base_url" ]]; then
    data_dir="$(mktemp -d "${TMPDIR:-/tmp}/peek-bench.XXXXXX")"
    api_key="bench-key-0123456789abcdef0123456789abcdef"
    "$server_bin" --data-dir "$data_dir" user create bench --key "$api_key" >/dev/null

    # First free port from $PORT up (something answering on it = taken).
    port="${PORT:-38080}"
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        port=$((port + 1))
    done
    base_url="http://127.0.0.1:$port"

    echo "== starting peek-server on $base_url (data: $data_dir)" >&2
    RUST_LOG=warn "$server_bin" --data-dir "$data_dir" serve \
        --listen "127.0.0.1:$port" --no-startup-backup \
        >"$data_dir/server.log" 2>&1 &
    started_server=$!
    server_pid=$started_server
    if ! "$loadgen" --url "$base_url" ping --wait 20 >&2; then
        echo "server did not come up; its log:" >&2
        cat "$data_dir/server.log" >&2 || true
        exit 1
    fi
fi

# The floors (scripts/bench/floor): a second, bench-only server on the
# same stack, with its database in the same data directory.
floor_args=()
if [[ -n "$data_dir" && -x "$floor_bin" ]]; then
    floor_port=$((port + 1))
    while (exec 3<>"/dev/tcp/127.0.0.1/$floor_port") 2>/dev/null; do
        floor_port=$((floor_port + 1))
    done
    echo "== starting peek-bench-floor on 127.0.0.1:$floor_port" >&2
    "$floor_bin" "127.0.0.1:$floor_port" "$data_dir/floor.sqlite" \
        >"$data_dir/floor.log" 2>&1 &
    started_floor=$!
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$floor_port") 2>/dev/null && break
        sleep 0.1
    done
    floor_args=(--floor-url "http://127.0.0.1:$floor_port")
fi

out_dir="${OUT_DIR:-}"
if [[ -z "$out_dir" ]]; then
    out_dir="$(mktemp -d "${TMPDIR:-/tmp}/peek-bench-out.XXXXXX")"
fi
mkdir -p "$out_dir"

rss_before=""
if [[ -n "$server_pid" ]]; then
    rss_before="$(rss_kb "$server_pid" VmRSS)"
fi

echo "== running the matrix against $base_url" >&2
status=0
# shellcheck disable=SC2086 # LOADGEN_ARGS is a list of words on purpose.
"$loadgen" --url "$base_url" --key "$api_key" all \
    --markdown-out "$out_dir/table.md" --json-out "$out_dir/results.json" \
    "${floor_args[@]}" ${LOADGEN_ARGS:-} >/dev/null || status=$?

rss_after=""
rss_peak=""
if [[ -n "$server_pid" ]]; then
    rss_after="$(rss_kb "$server_pid" VmRSS)"
    rss_peak="$(rss_kb "$server_pid" VmHWM)"
fi

if [[ -n "$started_server" ]] && ! kill -0 "$started_server" 2>/dev/null; then
    echo "!! peek-server exited during the run" >&2
    status=1
fi

echo
echo "## Peek benchmark: $base_url"
echo
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, $(uname -sr)"
echo
if [[ -f "$out_dir/table.md" ]]; then
    cat "$out_dir/table.md"
else
    echo "(no table: the matrix failed before finishing, see above)"
fi
echo
echo "| Server memory | Value |"
echo "|---|---:|"
echo "| RSS before the runs | $(mib "$rss_before") |"
echo "| RSS after the runs | $(mib "$rss_after") |"
echo "| Peak RSS (VmHWM) | $(mib "$rss_peak") |"
echo
echo "Results: $out_dir/results.json"

if [[ -n "$data_dir" && -s "$data_dir/server.log" ]]; then
    echo
    echo "Server log (warnings and errors, first 20 lines):"
    head -n 20 "$data_dir/server.log"
fi

exit "$status"
