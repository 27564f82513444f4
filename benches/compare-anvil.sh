#!/usr/bin/env bash
# Runs the same ERC-20 load against anvil and against `kaimeng dev`, and prints both results and
# the ratio kaimeng/anvil. Arguments are passed to the load generator, e.g.
#
#   benches/compare-anvil.sh --senders 200 --txs 4000 --rate 0 --concurrency 32
#
# Environment:
#   KAIMENG_BIN    the node binary (default: $CARGO_TARGET_DIR/release/kaimeng); if it does not
#                  exist, the kaimeng half is skipped with a message.
#   ANVIL_BIN      an anvil binary (default: installed from npm into $ANVIL_HOME on first use).
#   ANVIL_HOME     where anvil is installed (default: ${XDG_CACHE_HOME:-$HOME/.cache}/kaimeng-anvil).
#   ANVIL_VERSION  npm version of @foundry-rs/anvil-linux-amd64 (default: 1.7.1).
#   ANVIL_ARGS     anvil mining flags (default: "--block-time 0.05", the fastest mode that works
#                  under this load; automine and mixed mining stall, see benches/README.md).
#   KAIMENG_VALIDATORS  `kaimeng dev --validators V` for each V listed (default: "1 4": the
#                  single local sealer and 4 in-process BFT validators), each its own column.
#   REPEATS        runs per node, each on a fresh node; the median-CTPS run is shown (default: 1).
#   LOADGEN_BIN    a built load generator (default: built here with cargo).
#   RUN_TIMEOUT    seconds allowed for each load generator run (default: 900).
#   OUT_DIR        keeps the JSON results and node logs (default: a temporary directory).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
anvil_home="${ANVIL_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/kaimeng-anvil}"
anvil_version="${ANVIL_VERSION:-1.7.1}"
anvil_args="${ANVIL_ARGS---block-time 0.05}"
repeats="${REPEATS:-1}"
run_timeout="${RUN_TIMEOUT:-900}"
kaimeng_bin="${KAIMENG_BIN:-$target/release/kaimeng}"
kaimeng_validators="${KAIMENG_VALIDATORS:-1 4}"
work="$(mktemp -d "${TMPDIR:-/tmp}/compare-anvil.XXXXXX")"
out="${OUT_DIR:-$work}"
mkdir -p "$out"
rm -f "$out"/anvil-*.json "$out"/kaimeng*.json

started_pids=()
cleanup() {
    local pid
    for pid in "${started_pids[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            # Give it two seconds to exit, then force it.
            for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
            kill -9 "$pid" 2>/dev/null || true
        fi
    done
    if [[ -z "${OUT_DIR:-}" ]]; then rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '[compare-anvil] %s\n' "$*" >&2; }

# A loopback TCP port nobody listens on.
free_port() {
    local port
    for _ in $(seq 1 100); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    say "no free port found"
    return 1
}

# Waits until the JSON-RPC URL $1 answers eth_chainId; fails after $2 seconds or if process $3 exits.
wait_rpc() {
    local url="$1" limit="$2" pid="$3" waited=0
    while ((waited < limit * 5)); do
        if curl -sf -m 2 -H 'content-type: application/json' \
            -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$url" >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || { say "node exited before its RPC came up"; return 1; }
        sleep 0.2
        waited=$((waited + 1))
    done
    say "$url did not answer within ${limit}s"
    return 1
}

# Stops a process we started and waits for it.
stop() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# The load generator binary.
loadgen_bin="${LOADGEN_BIN:-}"
if [[ -z "$loadgen_bin" ]]; then
    say "building the load generator (cargo build --release -p kaimeng-benches --features loadgen)"
    (cd "$repo" && timeout 3600 cargo build --release -q -p kaimeng-benches --features loadgen --bin loadgen)
    loadgen_bin="$target/release/loadgen"
fi
[[ -x "$loadgen_bin" ]] || { say "no load generator at $loadgen_bin"; exit 1; }

# anvil, installed from npm without running install scripts.
anvil_bin="${ANVIL_BIN:-$anvil_home/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil}"
if [[ ! -x "$anvil_bin" ]]; then
    if [[ -n "${ANVIL_BIN:-}" ]]; then say "ANVIL_BIN=$ANVIL_BIN is not executable"; exit 1; fi
    say "installing anvil $anvil_version from npm into $anvil_home"
    mkdir -p "$anvil_home"
    timeout 600 npm install --silent --ignore-scripts --no-audit --no-fund --prefix "$anvil_home" \
        "@foundry-rs/anvil-linux-amd64@$anvil_version" >&2
fi
[[ -x "$anvil_bin" ]] || { say "anvil not found at $anvil_bin after install"; exit 1; }

# Runs the load generator against $1 (label) at $2 (RPC URL), saving its JSON to $out/$1-$rep.json.
run_load() {
    local label="$1" url="$2" file="$out/$1-$rep.json" status=0
    say "run $rep/$repeats on $label at $url: ${*:3}"
    # In the background so that a signal reaches our traps at once rather than after the run.
    timeout "$run_timeout" "$loadgen_bin" --rpc "$url" --label "$label" --json "${@:3}" >"$file" &
    started_pids+=("$!")
    wait "$!" || status=$?
    # Exit status 3: the run finished but not every transaction confirmed; its JSON is still valid.
    if [[ $status -eq 0 || ($status -eq 3 && -s "$file") ]]; then return 0; fi
    say "load generator failed on $label (exit $status)"
    rm -f "$file"
    return 1
}

# One fresh anvil per run, so that runs do not inherit each other's state.
run_anvil() {
    local port pid
    port="$(free_port)"
    # shellcheck disable=SC2086 # ANVIL_ARGS is a list of flags
    "$anvil_bin" --port "$port" --host 127.0.0.1 --quiet $anvil_args >>"$out/anvil.log" 2>&1 &
    pid=$!
    started_pids+=("$pid")
    if wait_rpc "http://127.0.0.1:$port" 30 "$pid"; then
        run_load anvil "http://127.0.0.1:$port" "$@" || true
    fi
    stop "$pid"
}

# One fresh `kaimeng dev --validators $1` (in an empty directory) per run; label kaimeng-<V>v.
run_kaimeng() {
    local validators="$1" port pid url printed label="kaimeng-$1v"
    local dir="$work/$label-$rep" log="$out/$label-$rep.log"
    shift
    port="$(free_port)"
    mkdir -p "$dir"
    (cd "$dir" && exec "$kaimeng_bin" dev --port "$port" --validators "$validators") >"$log" 2>&1 &
    pid=$!
    started_pids+=("$pid")
    url="http://127.0.0.1:$port"
    if wait_rpc "$url" 180 "$pid"; then
        # `kaimeng dev` prints its RPC URL; prefer that (it may carry a path), else the port we gave.
        printed="$(grep -oE 'https?://[0-9A-Za-z.:/_-]+' "$log" | grep -m1 ":$port" || true)"
        [[ -n "$printed" ]] && url="${printed%/}"
        run_load "$label" "$url" "$@" || true
    else
        say "kaimeng dev --validators $validators did not come up; last log lines:"
        tail -n 20 "$log" >&2 || true
    fi
    stop "$pid"
}

say "anvil $("$anvil_bin" --version | head -n1 | awk '{print $3}') with flags: --quiet $anvil_args"
have_kaimeng=1
if [[ ! -x "$kaimeng_bin" ]]; then
    have_kaimeng=0
    say "SKIPPING kaimeng: no binary at $kaimeng_bin (build it with 'cargo build --release' or set KAIMENG_BIN)"
fi
for rep in $(seq 1 "$repeats"); do
    run_anvil "$@"
    if [[ $have_kaimeng == 1 ]]; then
        for v in $kaimeng_validators; do run_kaimeng "$v" "$@"; done
    fi
done

# Side by side: the median-CTPS run of each node, and the ratio kaimeng/anvil.
python3 - "$out" "$repeats" $kaimeng_validators <<'PY'
import glob, json, sys

out, repeats, validators = sys.argv[1], int(sys.argv[2]), sys.argv[3:]

def runs(label):
    found = []
    for path in sorted(glob.glob(f"{out}/{label}-[0-9]*.json")):
        with open(path) as f:
            lines = f.read().strip().splitlines()
        if lines:
            found.append(json.loads(lines[-1]))
    return found

def median_run(rs):
    """The run with the median CTPS (the lower middle one for an even count)."""
    return sorted(rs, key=lambda r: r["ctps"])[(len(rs) - 1) // 2] if rs else None

labels = ["anvil"] + [f"kaimeng-{v}v" for v in validators]
all_runs = {label: runs(label) for label in labels}
best = {label: median_run(rs) for label, rs in all_runs.items()}
shape = next((r for r in best.values() if r), None)
if shape is None:
    print("no results")
    sys.exit(1)
rows = [
    ("confirmed", lambda r: f"{r['confirmed']}/{r['sent']}"),
    ("failed submissions", lambda r: str(r["failed"])),
    ("timed out", lambda r: str(r["timed_out"])),
    ("duration s", lambda r: f"{r['duration_secs']:.3f}"),
    ("offered tx/s", lambda r: f"{r['offered_tps']:.1f}"),
    ("CTPS", lambda r: f"{r['ctps']:.1f}"),
    ("latency p50 ms", lambda r: f"{r['latency_ms']['p50']:.1f}"),
    ("latency p90 ms", lambda r: f"{r['latency_ms']['p90']:.1f}"),
    ("latency p99 ms", lambda r: f"{r['latency_ms']['p99']:.1f}"),
    ("latency max ms", lambda r: f"{r['latency_ms']['max']:.1f}"),
    ("blocks", lambda r: str(r["blocks"])),
    ("our txs per block", lambda r: f"{r['mean_txs_per_block']:.2f}"),
]
print(f"\n{shape['senders']} senders, {shape['txs']} transfers, rate {shape['rate'] or 'max'}, "
      f"concurrency {shape['concurrency']}, batch {shape['batch']}; median-CTPS run of "
      + ", ".join(f"{len(all_runs[l])} ({l})" for l in labels) + f" of {repeats}")
print(f"{'':22}" + "".join(f"{l:>14}" for l in labels))
for name, cell in rows:
    print(f"{name:22}" + "".join(f"{cell(best[l]) if best[l] else 'n/a':>14}" for l in labels))
for label, rs in all_runs.items():
    if len(rs) > 1:
        print(f"{label} CTPS of every run: " + ", ".join(f"{r['ctps']:.0f}" for r in rs))
a = best["anvil"]
def ratio(x, y):
    return f"{x / y:.3f}" if y else "n/a"
for label in labels[1:]:
    k = best[label]
    if a and k:
        print(f"{label}/anvil: CTPS {ratio(k['ctps'], a['ctps'])}, "
              f"p50 latency {ratio(k['latency_ms']['p50'], a['latency_ms']['p50'])}, "
              f"p99 latency {ratio(k['latency_ms']['p99'], a['latency_ms']['p99'])}")
for label, r in best.items():
    for e in (r or {}).get("first_errors", []):
        print(f"{label} error: {e}")
PY
if [[ -n "${OUT_DIR:-}" ]]; then say "results and logs in $out"; fi
# Succeeds when anvil produced a result (the kaimeng half may be skipped).
compgen -G "$out/anvil-*.json" >/dev/null
