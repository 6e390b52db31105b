#!/usr/bin/env bash
# peek-server against the original Node server, in alternating pairs
# (see scripts/bench/README.md, "Against the original, alternating").
#
#   PEEK_ORIGINAL_SERVER=/path/to/checkout scripts/bench/versus.sh
#   scripts/bench/versus.sh /path/to/checkout
#
# The checkout is the original server's directory (package.json, index.js,
# users.js, node_modules/). One run swings by up to 2x on a small shared
# machine, so the script runs peek-server, then the original, PAIRS times
# (A, B, A, B, ...), each run on a fresh data directory, and
# `peek-loadgen compare` reduces the pairs: per row the median of the
# per-pair req/s ratios with their min-max spread, and each server's median
# req/s and p99. peek-server's runs go through run.sh, which also measures
# the machine's floors (peek-bench-floor) for the "of floor" column.
#
# Knobs (environment):
#   PAIRS=5            pairs to run (5 or more for figures worth quoting)
#   NPM_CI=1           run `npm ci` in the checkout if node_modules is missing
#                      (nothing is ever downloaded otherwise)
#   PEEK_ORIGINAL_COMMIT  the original's commit for the report (else the
#                      checkout's .peek-commit file, or its git HEAD)
#   MATRIX_ARGS        the rows (`peek-loadgen all` arguments); default
#                      "--post-conns 1,32 --get-conns 1,8 --get-requests-20k 0
#                      --health-conns 1"
#   LOADGEN_ARGS       more `all` arguments, e.g. to shorten the matrix:
#                      "--post-count 500 --get-requests-5k 20 --since-requests 200"
#   OUT_DIR            where every run's results.json and summary.md, and
#                      versus.json/versus.md go (default: a temporary dir)
#   BIN_DIR            prebuilt peek-server/peek-loadgen/peek-bench-floor
#                      (else they are built in release mode)
#   PORT               first port tried for the servers (default 38080)
#   NODE               the node binary (default: node on PATH)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

die() {
    echo "versus.sh: $*" >&2
    exit 2
}

orig="${1:-${PEEK_ORIGINAL_SERVER:-}}"
[[ -n "$orig" ]] || die "name the original server's checkout: PEEK_ORIGINAL_SERVER=/path $0 (or pass it as the argument)"
[[ -d "$orig" ]] || die "$orig is not a directory"
orig="$(cd "$orig" && pwd)"
for f in package.json index.js users.js; do
    [[ -f "$orig/$f" ]] || die "$orig has no $f: is it the original server's directory (deploy/server's root, or backend/server/ on main)?"
done
grep -q '"better-sqlite3"' "$orig/package.json" && grep -q '"hono"' "$orig/package.json" ||
    die "$orig/package.json does not depend on hono and better-sqlite3: not the original Peek server?"
node_bin="${NODE:-node}"
command -v "$node_bin" >/dev/null || die "no node on PATH (set NODE=/path/to/node)"
if [[ ! -d "$orig/node_modules/better-sqlite3" || ! -d "$orig/node_modules/hono" ]]; then
    if [[ -n "${NPM_CI:-}" ]]; then
        echo "== npm ci in $orig (builds better-sqlite3 from source: minutes)" >&2
        (cd "$orig" && nice -n 10 npm ci --no-audit --no-fund) >&2
    else
        die "$orig has no node_modules: run \`npm ci\` there (or set NPM_CI=1 to let this script run it)"
    fi
fi
(cd "$orig" && "$node_bin" -e 'new (require("better-sqlite3"))(":memory:").close()') 2>/dev/null ||
    die "better-sqlite3 in $orig does not load with $("$node_bin" --version): run \`npm ci\` there again (it builds the native module)"

pairs="${PAIRS:-5}"
[[ "$pairs" =~ ^[1-9][0-9]*$ ]] || die "PAIRS must be a positive integer, got '$pairs'"
if ((pairs < 5)); then
    echo "versus.sh: warning: $pairs pairs; single runs swing by up to 2x here, use 5 or more for figures worth quoting" >&2
fi
matrix_args="${MATRIX_ARGS:---post-conns 1,32 --get-conns 1,8 --get-requests-20k 0 --health-conns 1}"
extra_args="${LOADGEN_ARGS:-}"

orig_commit="${PEEK_ORIGINAL_COMMIT:-}"
if [[ -z "$orig_commit" && -f "$orig/.peek-commit" ]]; then
    orig_commit="$(head -n 1 "$orig/.peek-commit")"
fi
if [[ -z "$orig_commit" ]] && top="$(git -C "$orig" rev-parse --show-toplevel 2>/dev/null)" &&
    [[ "$top" == "$orig" ]]; then
    orig_commit="$(git -C "$orig" rev-parse --short HEAD)"
fi
orig_commit="${orig_commit:-unknown}"
our_commit="$(git rev-parse --short HEAD)"
if [[ -n "$(git status --porcelain --untracked-files=no)" ]]; then
    our_commit="$our_commit (with uncommitted changes)"
fi

if [[ -n "${BIN_DIR:-}" ]]; then
    bin_dir="$BIN_DIR"
else
    echo "== building peek-server, peek-loadgen and peek-bench-floor (release)" >&2
    cargo build --release -p peek-loadgen -p server -p peek-bench-floor >&2
    bin_dir="${CARGO_TARGET_DIR:-$root/target}/release"
fi
loadgen="$bin_dir/peek-loadgen"
for b in peek-loadgen peek-server peek-bench-floor; do
    [[ -x "$bin_dir/$b" ]] || die "$bin_dir/$b is missing"
done

out_dir="${OUT_DIR:-}"
if [[ -z "$out_dir" ]]; then
    out_dir="$(mktemp -d "${TMPDIR:-/tmp}/peek-versus.XXXXXX")"
fi
mkdir -p "$out_dir"

node_pid=""
node_data=""
stop_node() {
    if [[ -n "$node_pid" ]] && kill -0 "$node_pid" 2>/dev/null; then
        kill "$node_pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$node_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$node_pid" 2>/dev/null || true
    fi
    if [[ -n "$node_pid" ]]; then
        wait "$node_pid" 2>/dev/null || true
    fi
    node_pid=""
    if [[ -n "$node_data" ]]; then
        rm -rf "$node_data"
    fi
    node_data=""
}
cleanup() {
    local rc=$?
    stop_node
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# First port from $1 up that nothing answers on.
free_port() {
    local p="$1"
    while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do
        p=$((p + 1))
    done
    echo "$p"
}

# run_ours <dir>: one run of run.sh (fresh peek-server and floor).
run_ours() {
    mkdir -p "$1"
    OUT_DIR="$1" BIN_DIR="$bin_dir" PORT="${PORT:-38080}" \
        LOADGEN_ARGS="$matrix_args $extra_args" \
        "$here/run.sh" >"$1/summary.md"
}

# run_original <dir>: the original on a fresh DATA_DIR, with one user whose
# key is API_KEY (the original's own start-up turns a legacy API_KEY into
# user "default"), bound to 127.0.0.1 by node-loopback.cjs; then run.sh
# pointed at it.
run_original() {
    mkdir -p "$1"
    node_data="$(mktemp -d "${TMPDIR:-/tmp}/peek-versus-node.XXXXXX")"
    local key port
    key="versus-key-$(date +%s%N)"
    port="$(free_port $((${PORT:-38080} + 1000)))"
    (cd "$orig" && exec env PORT="$port" DATA_DIR="$node_data" API_KEY="$key" \
        "$node_bin" --require "$here/node-loopback.cjs" index.js) >"$node_data/server.log" 2>&1 &
    node_pid=$!
    if ! "$loadgen" --url "http://127.0.0.1:$port" ping --wait 30 >&2; then
        echo "the original server did not come up; its log:" >&2
        cat "$node_data/server.log" >&2 || true
        return 1
    fi
    local status=0
    BASE_URL="http://127.0.0.1:$port" API_KEY="$key" SERVER_PID="$node_pid" \
        OUT_DIR="$1" BIN_DIR="$bin_dir" LOADGEN_ARGS="$matrix_args $extra_args" \
        "$here/run.sh" >"$1/summary.md" || status=$?
    if ! kill -0 "$node_pid" 2>/dev/null; then
        echo "!! the original server exited during the run; its log:" >&2
        tail -n 20 "$node_data/server.log" >&2 || true
        status=1
    fi
    # The original logs every pushed item (10 MB a run): keep the end only.
    tail -n 200 "$node_data/server.log" >"$1/server.log.tail" 2>/dev/null || true
    stop_node
    return "$status"
}

started=$SECONDS
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
a_files=()
b_files=()
for k in $(seq 1 "$pairs"); do
    for side in peek-server original; do
        dir="$out_dir/pair-$k-$side"
        echo "== pair $k of $pairs: $side ($((SECONDS - started)) s so far)" >&2
        status=0
        if [[ "$side" == peek-server ]]; then
            run_ours "$dir" || status=$?
            a_files+=("$dir/results.json")
        else
            run_original "$dir" || status=$?
            b_files+=("$dir/results.json")
        fi
        # run.sh exits 130 when interrupted (Ctrl-C reaches the whole group).
        ((status != 130)) || exit 130
        if ((status != 0)); then
            logs="$dir/summary.md"
            [[ "$side" == peek-server ]] || logs="$logs and $dir/server.log.tail"
            die "pair $k, $side: the run failed (see $logs)"
        fi
    done
done
elapsed=$((SECONDS - started))
echo "== $pairs pairs in ${elapsed} s; results under $out_dir" >&2

"$loadgen" compare --a-name peek-server --b-name original \
    --a "${a_files[@]}" --b "${b_files[@]}" \
    --info "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    --info "machine=$(nproc) CPUs, $(uname -sr), load average before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg)" \
    --info "peek-server=$our_commit" \
    --info "original=$orig_commit ($orig, $("$node_bin" --version))" \
    --info "loadgen args=$matrix_args $extra_args" \
    --info "wall time=${elapsed} s for $pairs pair(s)" \
    --json-out "$out_dir/versus.json" | tee "$out_dir/versus.md"
