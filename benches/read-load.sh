#!/usr/bin/env bash
# Finality latency under a heavy RPC read load (issue 10, item 6): 4 members as 4 `kaimeng node`
# processes on loopback (`kaimeng testnet --generate-only`, free ports), a moderate ERC-20
# transfer load through member 0 measured by the load generator (submit to final receipt),
# run twice on the same network:
#
#   quiet   the transfers alone;
#   reads   the same transfers while `readload` keeps member 0's RPC read pool saturated with
#           eth_call (a counting loop) and eth_getLogs (recent blocks, and a 10,000-block
#           bloom scan), retrying busy refusals after a short pause.
#
# Prints both latency lines, the read load's own numbers and the p99 ratio; exits 1 if the
# p99 under read load is above P99_LIMIT_MS.
#
#   cargo build --bin kaimeng && \
#     cargo build -p kaimeng-benches --features loadgen --bin loadgen --bin readload
#   benches/read-load.sh
#
# Environment (defaults in brackets):
#   KAIMENG_BIN, LOADGEN_BIN, READLOAD_BIN [$CARGO_TARGET_DIR/debug/...: the dev profile, opt-level 2]
#   RATE [200 tx/s]  DURATION [30 s of transfers per run]  SENDERS [200]  CONCURRENCY [64]
#   WORKERS [96 read clients; the pool holds read_threads + 64 by default]
#   READ_THREADS [the node's default: cores, at least 2; member 0's [rpc] read_threads]
#   MIX [both; call or logs sends only eth_call or only eth_getLogs]
#   CALL_ITERATIONS [200000, about 5.2 M gas per eth_call]  BUSY_BACKOFF_MS [100]
#   READ_WARMUP [3 s of read load before the measured transfers start]
#   P99_LIMIT_MS [1000]  OUT_DIR [temporary, removed]  RUN_TIMEOUT [600]
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
kaimeng_bin="${KAIMENG_BIN:-$target/debug/kaimeng}"
loadgen_bin="${LOADGEN_BIN:-$target/debug/loadgen}"
readload_bin="${READLOAD_BIN:-$target/debug/readload}"
rate="${RATE:-200}"
seconds="${DURATION:-30}"
senders="${SENDERS:-200}"
concurrency="${CONCURRENCY:-64}"
workers="${WORKERS:-96}"
call_iterations="${CALL_ITERATIONS:-200000}"
busy_backoff_ms="${BUSY_BACKOFF_MS:-100}"
read_warmup="${READ_WARMUP:-3}"
p99_limit_ms="${P99_LIMIT_MS:-1000}"
run_timeout="${RUN_TIMEOUT:-600}"
validators=4
work="$(mktemp -d "${TMPDIR:-/tmp}/read-load.XXXXXX")"
out="${OUT_DIR:-$work/out}"
mkdir -p "$out"

say() { printf '[read-load %s] %s\n' "$(date +%T)" "$*" >&2; }
result() { printf '%s\n' "$*" | tee -a "$out/summary.txt"; }

for bin in "$kaimeng_bin" "$loadgen_bin" "$readload_bin"; do
    [[ -x "$bin" ]] || { say "no executable at $bin (build it, or set KAIMENG_BIN / LOADGEN_BIN / READLOAD_BIN)"; exit 1; }
done

declare -a pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 1 25); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
            kill -9 "$pid" 2>/dev/null || true
        fi
    done
    if [[ -z "${OUT_DIR:-}" ]]; then rm -rf "$work"; else rm -rf "$work"/net/member-*/data; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The first of $1 consecutive loopback ports nobody listens on, below the ephemeral range.
free_ports() {
    local count="$1" base ok i low
    low="$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)"
    for _ in $(seq 1 200); do
        base=$((10000 + RANDOM % (low - 10000 - count)))
        ok=1
        for ((i = 0; i < count; i++)); do
            if (exec 3<>"/dev/tcp/127.0.0.1/$((base + i))") 2>/dev/null; then ok=0; break; fi
        done
        if ((ok)); then echo "$base"; return 0; fi
    done
    say "no free port range found"
    return 1
}

height() { # url -> decimal block number, or nothing
    curl -sf -m 5 -H 'content-type: application/json' \
        -d '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}' "$1" |
        python3 -c 'import json,sys; print(int(json.load(sys.stdin)["result"],16))' 2>/dev/null
}

wait_height() { # url seconds height
    local start=$SECONDS h
    while ((SECONDS - start < $2)); do
        h="$(height "$1" || true)"
        if [[ -n "$h" && "$h" -ge "$3" ]]; then return 0; fi
        sleep 0.2
    done
    say "$1 did not reach height $3 within $2 s"
    return 1
}

net_dir="$work/net"
p2p="$(free_ports $((3 * validators)))"
rpc_base=$((p2p + validators))
"$kaimeng_bin" testnet --validators "$validators" --dir "$net_dir" --p2p-port "$p2p" \
    --rpc-port "$rpc_base" --metrics-port $((p2p + 2 * validators)) --kdf-iterations 1000 \
    --generate-only >"$out/generate.txt"
if [[ -n "${READ_THREADS:-}" ]]; then
    # Member 0's read pool size, written into its [rpc] table.
    python3 - "$net_dir/member-0/config.toml" "$READ_THREADS" <<'PY'
import sys
path, threads = sys.argv[1], sys.argv[2]
text = open(path).read()
assert "\n[rpc]\n" in text, "member 0 has no [rpc] table"
open(path, "w").write(text.replace("\n[rpc]\n", f"\n[rpc]\nread_threads = {threads}\n", 1))
PY
fi
for ((i = 0; i < validators; i++)); do
    "$kaimeng_bin" node --config "$net_dir/member-$i/config.toml" >>"$out/member-$i.log" 2>&1 &
    pids+=("$!")
done
for ((i = 0; i < validators; i++)); do
    wait_height "http://127.0.0.1:$((rpc_base + i))" 120 0 || { tail -n 20 "$out/member-$i.log" >&2; exit 1; }
done
wait_height "http://127.0.0.1:$rpc_base" 60 1
rpc="http://127.0.0.1:$rpc_base"
say "4 members up; member 0 RPC $rpc; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
result "date $(date -u +%FT%TZ), $(nproc) cores, load average at start $(cut -d' ' -f1-3 /proc/loadavg)"

# Runs the load generator against member 0 with seed $2; JSON to $out/$1.json.
transfers() {
    local name="$1" seed="$2" status=0
    timeout "$run_timeout" "$loadgen_bin" --rpc "$rpc" --label "$name" --json \
        --timeout "$((run_timeout - 30))" --senders "$senders" --txs "$((rate * seconds))" \
        --rate "$rate" --concurrency "$concurrency" --seed "$seed" \
        >"$out/$name.json" 2>"$out/$name.log" || status=$?
    if [[ $status -ne 0 && $status -ne 3 ]]; then
        say "loadgen $name failed (exit $status):"
        tail -n 5 "$out/$name.log" >&2
        return 1
    fi
    python3 - "$out/$name.json" "$name" <<'PY' | tee -a "$out/summary.txt"
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
l = r["latency_ms"]
print(f"{sys.argv[2]}: confirmed {r['confirmed']}/{r['sent']} (failed {r['failed']}, timed out "
      f"{r['timed_out']}), offered {r['offered_tps']:.0f} tx/s, CTPS {r['ctps']:.0f}, finality ms "
      f"p50 {l['p50']:.0f} p90 {l['p90']:.0f} p99 {l['p99']:.0f} max {l['max']:.0f}")
PY
}

say "quiet: $rate tx/s for $seconds s"
transfers quiet 2

say "reads: $workers read clients on member 0 (eth_call x $call_iterations iterations, eth_getLogs), mix ${MIX:-both}, read_threads ${READ_THREADS:-default}, busy backoff $busy_backoff_ms ms"
"$readload_bin" --rpc "$rpc" --workers "$workers" --call-iterations "$call_iterations" \
    --busy-backoff-ms "$busy_backoff_ms" --mix "${MIX:-both}" >"$out/readload.json" 2>"$out/readload.log" &
readload_pid=$!
pids+=("$readload_pid")
sleep "$read_warmup"
kill -0 "$readload_pid" 2>/dev/null || { say "readload ended early:"; cat "$out/readload.log" >&2; exit 1; }
transfers reads 3
kill -INT "$readload_pid"
wait "$readload_pid" || { say "readload failed:"; cat "$out/readload.log" >&2; exit 1; }
python3 - "$out/readload.json" <<'PY' | tee -a "$out/summary.txt"
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print(f"read load on member 0 during 'reads': {r['workers']} clients for {r['seconds']:.0f} s, answered "
      f"{r['answered_per_s']:.1f}/s (eth_call {r['eth_call']}, eth_getLogs recent {r['getlogs_recent']}, "
      f"scan {r['getlogs_scan']}), busy refusals {r['busy']} ({r['busy_per_s']:.0f}/s), other errors "
      f"{r['errors']}, read latency ms p50 {r['p50_ms']:.0f} p99 {r['p99_ms']:.0f}"
      + (f"; first error: {r['first_error']}" if r['first_error'] else ""))
PY
verdict=0
python3 - "$out/quiet.json" "$out/reads.json" "$p99_limit_ms" <<'PY' | tee -a "$out/summary.txt" || verdict=$?
import json, sys
def p99(path):
    return json.loads(open(path).read().strip().splitlines()[-1])["latency_ms"]["p99"]
quiet, reads, limit = p99(sys.argv[1]), p99(sys.argv[2]), float(sys.argv[3])
verdict = "within" if reads <= limit else "ABOVE"
print(f"finality p99: quiet {quiet:.0f} ms, under read load {reads:.0f} ms, ratio {reads / quiet:.2f}; "
      f"{verdict} the {limit:.0f} ms limit")
sys.exit(0 if reads <= limit else 1)
PY
result "  (load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
say "summary in $out/summary.txt"
exit "$verdict"
