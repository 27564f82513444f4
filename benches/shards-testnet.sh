#!/usr/bin/env bash
# Sharding gain on one machine (issue 11): the same 8 members as 8 `kaimeng node` processes on
# loopback, first with one shard that all 8 validate, then with 2 (or 4) shards, each finalized
# by a committee of 4 (or 2) members drawn per epoch by VRF. Each shard gets its own ERC-20
# load generator, all running at once; the result is the aggregate CTPS over the concurrent
# window and the node CPU spent per confirmed transfer.
#
#   benches/shards-testnet.sh                   # configs A and B
#   CONFIGS="A B C" benches/shards-testnet.sh   # also 4 shards
#   MAX_TXS=300 CONFIGS=B benches/shards-testnet.sh   # a quick check
#
# Configs (8 members each). With HOLD=committees (the default) a member of a multi-shard
# network executes only the shards whose committees seat it (`[shards] hold = "committees"`);
# with HOLD=all every member executes every shard and committees decide only who signs:
#   A  --shards 1                      (all 8 members validate shard 0)
#   B  --shards 2 --committee-size 4
#   C  --shards 4 --committee-size 2
# Committees are drawn per beacon epoch, and a member starts holding its next epoch's shards
# half an epoch ahead. The default EPOCH_LENGTH is long enough that no epoch ends during a run,
# so this measures the steady state between two changes of committee.
#
# Per config: generate the testnet (on free ports), start the 8 members, wait until every
# member serves every shard's RPC and each shard has final blocks, then run one `loadgen`
# ERC-20 max-throughput run per shard, all at once, shard s against member LOAD_MEMBER's
# port for shard s. The SENDERS are split evenly over the shards; each shard gets MAX_TXS
# transfers. Reported, one summary line per config (and JSON in $OUT_DIR/<config>.json):
#   - aggregate CTPS = sum over shards of confirmed transfers / the concurrent window, which
#     runs from the earliest first submit to the latest last confirmation of any shard (a
#     transfer counts when the head of its block is announced; Kaimeng announces only final
#     blocks, whose receipts are final);
#   - p50/p99 submit-to-final latency per shard (loadgen's own numbers);
#   - node CPU: utime+stime of the 8 node processes from /proc/<pid>/stat (clock ticks /
#     `getconf CLK_TCK`), sampled every 100 ms and interpolated at the window's ends, divided
#     by confirmed transfers, and again by the validators that execute each transfer (8, all
#     of them, in every config today).
#   - catch-up: a member outside a shard's committee follows that shard by certificates and
#     executes its blocks as they come, so it can still be behind when the load generators
#     finish. Every member's height on every shard is read then, and the script waits
#     (CATCHUP_TIMEOUT) until every member has reached the highest of them; the node CPU and
#     the CTPS are also given up to that moment, when all 8 have executed every transfer.
# The B/A (and C/A) ratio of aggregate CTPS closes the summary.
#
# Environment (defaults in brackets):
#   KAIMENG_BIN [$CARGO_TARGET_DIR/debug/kaimeng]  LOADGEN_BIN [$CARGO_TARGET_DIR/debug/loadgen]
#   OUT_DIR [temporary, removed]   CONFIGS [A B]
#   MAX_TXS [20000, per shard]  SENDERS [500, split over the shards]  CONCURRENCY [64, per shard]
#   BATCH [1]  LOAD_ARGS [extra loadgen flags]
#   LOAD_MEMBER [each: shard s is loaded through member s; a number: that member for all]
#   BLOCK_TIME_MS [1000]  EPOCH_LENGTH [100000]  HOLD [committees]
#   START_TIMEOUT [180, members up and each shard final]  SETUP_TIMEOUT [120, loadgen setup]
#   MEASURE_TIMEOUT [120, loadgen measured phase]  (each loadgen is killed after
#   SETUP_TIMEOUT + MEASURE_TIMEOUT + 60 s)
#   CATCHUP_TIMEOUT [120, after the load, for every member to reach every shard's height]
#   L2 [0]: with 1, config A's genesis gets a rollup shape of L2_SLOTS [57] slots at
#     L2_K [16] (the production shape) and, after the ERC-20 load on the same 8 members, the
#     shard-0 transactions behind L2 transfers are sent and the node CPU they cost is measured
#     (issue 12). They come from `l2_calls` (L2_CALLS_BIN [$CARGO_TARGET_DIR/debug/l2_calls],
#     files in L2_DIR [/tmp/kaimeng-l2-calls]; it proves one batch the first time, about 15
#     minutes at the production shape): L2_BATCHES [32] batches of L2_CHUNKS [64] chunks: per
#     batch the bridge's commit, a verification of the proven batch, and while steps remain
#     one step of the decision over all of them (as many steps as the sequencer splits it
#     into). L2_PACK [8] chunks per proof.
#     First a warm-up (every node builds its verifying key), then IDLE_SECS [20] of idle node
#     CPU, then the L2 transactions, one batch's at a time (the next once the last has its
#     receipts); their node CPU, less the idle rate, per L2 transfer and executing validator is
#     set beside the ERC-20 transfer's (also less the idle rate).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
kaimeng_bin="${KAIMENG_BIN:-$target/debug/kaimeng}"
loadgen_bin="${LOADGEN_BIN:-$target/debug/loadgen}"
configs="${CONFIGS:-A B}"
l2="${L2:-0}"
l2_calls_bin="${L2_CALLS_BIN:-$target/debug/l2_calls}"
l2_dir="${L2_DIR:-/tmp/kaimeng-l2-calls}"
l2_batches="${L2_BATCHES:-32}"
l2_pack="${L2_PACK:-8}"
l2_slots="${L2_SLOTS:-57}"
l2_k="${L2_K:-16}"
l2_chunks="${L2_CHUNKS:-64}"
idle_secs="${IDLE_SECS:-20}"
max_txs="${MAX_TXS:-20000}"
senders_total="${SENDERS:-500}"
concurrency="${CONCURRENCY:-64}"
batch="${BATCH:-1}"
load_member="${LOAD_MEMBER:-each}"
block_time_ms="${BLOCK_TIME_MS:-1000}"
epoch_length="${EPOCH_LENGTH:-100000}"
hold="${HOLD:-committees}"
start_timeout="${START_TIMEOUT:-180}"
setup_timeout="${SETUP_TIMEOUT:-120}"
measure_timeout="${MEASURE_TIMEOUT:-120}"
catchup_timeout="${CATCHUP_TIMEOUT:-120}"
run_timeout=$((setup_timeout + measure_timeout + 60))
validators=8
clk_tck="$(getconf CLK_TCK)"
work="$(mktemp -d "${TMPDIR:-/tmp}/shards-testnet.XXXXXX")"
out="${OUT_DIR:-$work/out}"
mkdir -p "$out"

say() { printf '[shards-testnet %s] %s\n' "$(date +%T)" "$*" >&2; }
result() { printf '%s\n' "$*" | tee -a "$out/summary.txt"; }

for bin in "$kaimeng_bin" "$loadgen_bin"; do
    [[ -x "$bin" ]] || { say "no executable at $bin (set KAIMENG_BIN / LOADGEN_BIN)"; exit 1; }
done
if [[ "$l2" == 1 ]]; then
    [[ -x "$l2_calls_bin" ]] || { say "no l2_calls at $l2_calls_bin (set L2_CALLS_BIN)"; exit 1; }
    say "L2: preparing the shard-0 transactions in $l2_dir"
    "$l2_calls_bin" --out "$l2_dir" --batches "$l2_batches" --chunks "$l2_chunks" --pack "$l2_pack" \
        --slots "$l2_slots" --k "$l2_k" >"$out/l2-plan.json"
fi
for c in $configs; do
    [[ "$c" == A || "$c" == B || "$c" == C ]] || { say "unknown config $c (A, B or C)"; exit 1; }
done

# Member i's process id, by index; all of them (and the load generators and the CPU sampler)
# are killed on exit.
declare -a member_pid=()
declare -a other_pids=()
cleanup() {
    local pid
    for pid in "${member_pid[@]}" "${other_pids[@]}"; do
        [[ -n "$pid" ]] || continue
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 1 25); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
            kill -9 "$pid" 2>/dev/null || true
        fi
    done
    if [[ -z "${OUT_DIR:-}" ]]; then rm -rf "$work"; else rm -rf "$work"/net-*/member-*/data; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The first of $1 consecutive loopback ports nobody listens on, below the kernel's ephemeral
# range (where outgoing connections of the load generator and the nodes take their ports).
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

rpc() { # url method params-json
    curl -sf -m 5 -H 'content-type: application/json' \
        -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":${3:-[]}}" "$1"
}

height() { # url -> decimal block number, or nothing
    rpc "$1" eth_blockNumber | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["result"],16))' 2>/dev/null
}

chain_id() { # url -> decimal chain id, or nothing
    rpc "$1" eth_chainId | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["result"],16))' 2>/dev/null
}

# Waits up to $2 seconds until URL $1 answers eth_chainId (a member's RPC refuses the state
# methods of a shard it does not hold, but always says which chain it is).
wait_rpc() {
    local url="$1" limit="$2" start=$SECONDS
    while ((SECONDS - start < limit)); do
        [[ -n "$(chain_id "$url" || true)" ]] && return 0
        sleep 0.2
    done
    say "$url did not answer within ${limit}s"
    return 1
}

# Waits up to $2 seconds until URL $1 reports a height of at least $3.
wait_height() {
    local url="$1" limit="$2" want="$3" start=$SECONDS h
    while ((SECONDS - start < limit)); do
        h="$(height "$url" || true)"
        if [[ -n "$h" && "$h" -ge "$want" ]]; then return 0; fi
        sleep 0.2
    done
    say "$url did not reach height $want within ${limit}s"
    return 1
}

# Member i's JSON-RPC URL for shard s (the layout of `kaimeng testnet`).
url_of() { echo "http://127.0.0.1:$((rpc_base + $1 * shards + $2))"; }

# Generates config $1's testnet in $work/net-$1; sets net_dir, shards, committee, rpc_base,
# metrics_base.
generate() {
    local name="$1" p2p extra=()
    case "$name" in
    A) shards=1 committee=8 ;;
    B) shards=2 committee=4 ;;
    C) shards=4 committee=2 ;;
    esac
    net_dir="$work/net-$name"
    # One free range for p2p, every shard's RPC and metrics, so that they cannot overlap.
    p2p="$(free_ports $((validators * (2 + shards))))"
    rpc_base=$((p2p + validators))
    metrics_base=$((rpc_base + validators * shards))
    if ((shards > 1)); then extra=(--committee-size "$committee"); fi
    "$kaimeng_bin" testnet --generate-only --validators "$validators" --shards "$shards" \
        "${extra[@]}" --dir "$net_dir" --p2p-port "$p2p" --rpc-port "$rpc_base" \
        --metrics-port "$metrics_base" --kdf-iterations 1000 --block-time-ms "$block_time_ms" \
        --epoch-length "$epoch_length" >"$out/generate-$name.txt"
    if ((shards > 1)); then
        for ((i = 0; i < validators; i++)); do
            printf '\n[shards]\nhold = "%s"\n' "$hold" >>"$net_dir/member-$i/config.toml"
        done
    fi
    if [[ "$l2" == 1 && "$name" == A ]]; then
        python3 - "$net_dir/genesis.json" "$l2_slots" "$l2_k" <<'PY'
import json, sys
path = sys.argv[1]
genesis = json.load(open(path))
genesis["rollup"]["chunk_slots"], genesis["rollup"]["chunk_k"] = int(sys.argv[2]), int(sys.argv[3])
json.dump(genesis, open(path, "w"), indent=2)
PY
        # Every member would generate the same parameters: give them the cached ones.
        for ((i = 0; i < validators; i++)); do
            mkdir -p "$net_dir/member-$i/data/rollup-params"
            cp "/tmp/kaimeng-params/kaimeng-chunk-params-k$l2_k.bin" "$net_dir/member-$i/data/rollup-params/" 2>/dev/null || true
        done
    fi
}

# Sends the raw transactions in file $2 (one per line) to $1 in groups of the sizes listed in
# $5 (all at once without it), each group once the one before has all its receipts, and waits
# up to $4 seconds in all;
# every transaction must succeed. Writes JSON to $3: the time of the first submit and of the
# last receipt seen, the highest block, and the gas used.
send_raw() { # url file out timeout [groups: transactions sent together, comma-separated]
    python3 - "$@" <<'PY'
import json, sys, time, urllib.request
url, path, out, limit = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
groups = [int(g) for g in sys.argv[5].split(",")] if len(sys.argv) > 5 else []
def call(method, params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        answer = json.load(resp)
    if "error" in answer:
        sys.exit(f"{method}: {answer['error']}")
    return answer["result"]
raws = [l.strip() for l in open(path) if l.strip()]
if groups and sum(groups) != len(raws):
    sys.exit(f"{path}: groups of {sum(groups)} transactions for {len(raws)}")
groups = groups or [len(raws)]
first = time.time()
hashes, receipts = [], {}
start = 0
for group in groups:
    hashes += [call("eth_sendRawTransaction", [raw]) for raw in raws[start:start + group]]
    start += group
    while len(receipts) < len(hashes):
        if time.time() - first > limit:
            sys.exit(f"{path}: {len(receipts)} of {len(hashes)} receipts after {limit:.0f} s")
        for h in hashes:
            if h not in receipts:
                r = call("eth_getTransactionReceipt", [h])
                if r is not None:
                    receipts[h] = (time.time(), r)
        time.sleep(0.05)
sent = time.time()
failed = [h for h, (_, r) in receipts.items() if r["status"] != "0x1"]
if failed:
    sys.exit(f"{path}: {len(failed)} transactions failed, e.g. {failed[0]}")
last = max(t for t, _ in receipts.values())
json.dump({"first_submit": first, "all_sent": sent, "last_receipt": last,
           "transactions": len(hashes), "bytes": sum((len(r) - 2) // 2 for r in raws),
           "block": max(int(r["blockNumber"], 16) for _, r in receipts.values()),
           "gas_used": sum(int(r["gasUsed"], 16) for _, r in receipts.values())}, open(out, "w"))
PY
}

# Config $1's L2 phase (L2=1): warm-up, idle window, the L2 transactions, catch-up; then the
# summary of node CPU per L2 transfer beside config $1's ERC-20 transfer.
l2_phase() { # name url-per-member...
    local name="$1" url sampler_pid
    url="$(url_of 0 0)"
    say "$name: L2 warm-up (every member builds the k = $l2_k verifying key)"
    send_raw "$url" "$l2_dir/warmup.txt" "$out/$name-l2-warmup.json" 900
    catch_up "$name-l2-warmup" "${@:2}"
    # The precompiles answer nothing to a call they refuse (the transaction still succeeds):
    # check on the network that they accept these inputs and answer what l2_calls computed.
    python3 - "$url" "$l2_dir/checks.json" <<'PY'
import json, sys, urllib.request
url, checks = sys.argv[1], json.load(open(sys.argv[2]))
for check in checks:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_call",
                       "params": [{"to": check["to"], "data": check["data"], "gas": "0xf00000"},
                                  "latest"]}).encode()
    req = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    answer = json.load(urllib.request.urlopen(req, timeout=300))
    if answer.get("result") != check["answer"]:
        sys.exit(f"eth_call to {check['to']} answered {str(answer)[:200]}, not {check['answer']}")
print(f"the network's precompiles answer as expected ({len(checks)} calls)", file=sys.stderr)
PY
    sampler "$out/$name-l2-cpu.txt" "$(IFS=,; echo "${member_pid[*]}")" "" &
    sampler_pid=$!
    other_pids+=("$sampler_pid")
    local idle_start idle_end
    sleep 0.5
    idle_start="$(date +%s.%N)"
    say "$name: ${idle_secs} s of idle node CPU"
    sleep "$idle_secs"
    idle_end="$(date +%s.%N)"
    say "$name: sending the L2 transactions"
    # Bytes over loopback in the L2 phase: gossip between the members, and the RPC of this
    # script (the raw transactions as hex, the receipts it polls).
    local lo_before lo_after
    lo_before="$(awk '/^ *lo:/ {print $2}' /proc/net/dev)"
    # One batch's transactions at a time, as a sequencer sends them.
    send_raw "$url" "$l2_dir/measured.txt" "$out/$name-l2-sent.json" 600 \
        "$(python3 -c 'import json,sys; print(",".join(map(str, json.load(open(sys.argv[1]))["per_batch"])))' "$l2_dir/plan.json")"
    catch_up "$name-l2" "${@:2}"
    lo_after="$(awk '/^ *lo:/ {print $2}' /proc/net/dev)"
    sleep 0.3
    kill "$sampler_pid" 2>/dev/null || true
    wait "$sampler_pid" 2>/dev/null || true
    python3 - "$out" "$name" "$clk_tck" "$validators" "$idle_start" "$idle_end" "$l2_dir/plan.json" \
        "$((lo_after - lo_before))" <<'PY' | tee -a "$out/summary.txt"
import json, sys
out, name, tck, validators = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
idle_start, idle_end = float(sys.argv[5]), float(sys.argv[6])
plan = json.load(open(sys.argv[7]))
loopback = int(sys.argv[8])
sent = json.load(open(f"{out}/{name}-l2-sent.json"))
cu = json.load(open(f"{out}/{name}-l2-catchup.json"))
l1 = json.load(open(f"{out}/{name}.json"))
samples = [tuple(map(float, l.split())) for l in open(f"{out}/{name}-l2-cpu.txt") if l.strip()]
def at(t):
    for a, b in zip(samples, samples[1:]):
        if a[0] <= t <= b[0]:
            f = (t - a[0]) / (b[0] - a[0]) if b[0] > a[0] else 0.0
            return (a[1] + f * (b[1] - a[1])) / tck
    raise SystemExit(f"no CPU samples around {t:.3f}")
idle_rate = (at(idle_end) - at(idle_start)) / (idle_end - idle_start)
start = sent["first_submit"]
end = max(cu["caught_up"] or sent["last_receipt"], sent["last_receipt"])
raw = at(end) - at(start)
net = raw - idle_rate * (end - start)
transfers = plan["transfers"]
l2_us = 1e6 * net / transfers / validators
# The ERC-20 window less the same idle rate, for a like-for-like pair.
l1_net_s = l1["node_cpu_secs"] - idle_rate * l1["window_secs"]
l1_us = 1e6 * l1_net_s / l1["confirmed"] / l1["executing_validators"]
l1_raw_us = 1e3 * l1["cpu_ms_per_confirmed_per_executing_validator"]
print(f"{name} L2: {plan['batches']} batches of {plan['chunks_per_batch']} chunks x {plan['slots']} "
      f"transfers = {transfers} L2 transfers in {sent['transactions']} shard-0 transactions "
      f"({sent['bytes']} bytes, {sent['bytes'] / transfers:.1f} per transfer; {sent['gas_used']} gas, "
      f"{sent['gas_used'] / transfers:.0f} per transfer), from first submit to every member "
      f"at block {sent['block']}+ in {end - start:.1f} s; node CPU {raw:.1f} s, idle rate "
      f"{idle_rate:.2f} cores ({idle_rate * (end - start):.1f} s of it), so {net:.1f} s = "
      f"{l2_us:.1f} us per L2 transfer per validator; ERC-20 on the same members "
      f"{l1_us:.1f} us per transfer per executing validator less the idle rate ({l1_raw_us:.1f} "
      f"with it); L2 / L1 = {l2_us / l1_us:.2f} ({l2_us / l1_raw_us:.2f} against the whole); "
      f"{loopback / 1e6:.0f} MB over loopback in the L2 phase, {loopback / sent['bytes']:.0f} "
      f"times the transactions' bytes")
json.dump({"idle_rate_cores": idle_rate, "window_secs": end - start, "node_cpu_secs": raw,
           "node_cpu_secs_less_idle": net, "l2_transfers": transfers,
           "l2_us_per_transfer_per_validator": l2_us, "l1_us_less_idle": l1_us,
           "l1_us_whole": l1_raw_us, "ratio": l2_us / l1_us, "loopback_bytes": loopback,
           "sent": sent, "plan": plan},
          open(f"{out}/{name}-l2.json", "w"), indent=2)
PY
}

# Member $1's held shards, one per line (every shard if it cannot say).
held_shards() {
    rpc "$(url_of "$1" 0)" kaimeng_heldShards |
        python3 -c 'import json,sys; print("\n".join(map(str, json.load(sys.stdin)["result"])))' 2>/dev/null ||
        seq 0 $((shards - 1))
}

start_member() {
    local i="$1"
    "$kaimeng_bin" node --config "$net_dir/member-$i/config.toml" \
        >>"$net_dir/member-$i/node.log" 2>&1 &
    member_pid[$i]=$!
}

stop_members() {
    local i pid
    for i in "${!member_pid[@]}"; do
        pid="${member_pid[$i]}"
        [[ -n "$pid" ]] || continue
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    member_pid=()
}

# Starts every member and waits (START_TIMEOUT in all) until every member serves the RPC of
# every shard it holds with the right chain id and a final block. Sets held[i] (member i's
# shards, space-separated).
declare -a held=()
start_network() {
    local i s deadline url id
    for ((i = 0; i < validators; i++)); do start_member "$i"; done
    deadline=$((SECONDS + start_timeout))
    for ((i = 0; i < validators; i++)); do
        wait_rpc "$(url_of "$i" 0)" $((deadline - SECONDS > 1 ? deadline - SECONDS : 1)) || return 1
        held[$i]="$(held_shards "$i" | tr '\n' ' ')"
        for s in ${held[$i]}; do
            url="$(url_of "$i" "$s")"
            wait_height "$url" $((deadline - SECONDS > 1 ? deadline - SECONDS : 1)) 1 || {
                tail -n 20 "$net_dir/member-$i/node.log" >&2
                return 1
            }
            id="$(chain_id "$url")"
            if [[ "$id" != $((31337 + s)) ]]; then
                say "$url reports chain id '$id', expected $((31337 + s)) (shard $s)"
                return 1
            fi
        done
    done
    rpc "$(url_of 0 0)" kaimeng_committees >"$out/committees-$1.json" 2>/dev/null || true
    for ((i = 0; i < validators; i++)); do say "member $i holds shard(s) ${held[$i]}"; done
    say "network $net_dir up: $validators members, $shards shard(s), committee size $committee; RPC from port $rpc_base"
}

# Reads /proc/<pid>/stat of the node processes (and of the load generators, for information)
# every 100 ms until killed; one line "unix-time node-ticks loadgen-ticks" each. A load
# generator that has exited keeps its last value.
sampler() { # file node-pids(comma) loadgen-pids(comma)
    exec python3 - "$@" <<'PY'
import sys, time
path, nodes, gens = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(",")
last, known = {}, set()
def ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # utime and stime are fields 14 and 15 of stat; fields[0] here is field 3.
        last[pid] = int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        pass
    return last.get(pid, 0)
with open(path, "w", buffering=1) as out:
    while True:
        t = time.time()
        # The load generators run under `timeout`: count its children too.
        kids = []
        for p in gens:
            try:
                kids += open(f"/proc/{p}/task/{p}/children").read().split()
            except OSError:
                pass
        known.update(kids)
        out.write(f"{t:.4f} {sum(ticks(p) for p in nodes)} "
                  f"{sum(ticks(p) for p in gens) + sum(ticks(p) for p in known)}\n")
        time.sleep(0.1)
PY
}

# Stamps each stderr line of a load generator with the unix time it was read.
stamp_lines() {
    exec python3 -u -c '
import sys, time
for line in sys.stdin:
    print(f"{time.time():.4f} {line}", end="", flush=True)'
}

# After the load: every member's height on every shard, then a wait (CATCHUP_TIMEOUT) until
# every member has reached, on every shard, the highest height any member had at the end of
# the load. Writes $out/$1-catchup.json.
catch_up() { # name url-per-member-and-shard...
    python3 - "$out/$1-catchup.json" "$shards" "$validators" "$catchup_timeout" "${@:2}" <<'PY'
import json, sys, time, urllib.request
path, shards, validators, limit = sys.argv[1], *map(int, sys.argv[2:5])
urls = sys.argv[5:]  # member-major: urls[i * shards + s]; "-" where the member does not hold it

def height(url):
    if url == "-":
        return "not held"
    req = urllib.request.Request(url, data=b'{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}',
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return int(json.load(resp)["result"], 16)
    except Exception:
        return None

def snapshot():
    return [[height(urls[i * shards + s]) for i in range(validators)] for s in range(shards)]

start = time.time()
at_end = snapshot()
target = [max((h for h in row if isinstance(h, int)), default=0) for row in at_end]
caught_up = None
while time.time() - start < limit:
    now = snapshot()
    if all(h == "not held" or (isinstance(h, int) and h >= target[s])
           for s, row in enumerate(now) for h in row):
        caught_up = time.time()
        break
    time.sleep(0.2)
json.dump({"load_end": start, "heights_at_load_end": at_end, "target": target,
           "caught_up": caught_up, "heights_after": snapshot() if caught_up is None else None},
          open(path, "w"))
PY
}

# Saves every member's metrics as $out/$1-metrics-member-<i>.txt.
scrape_metrics() { # label
    local i
    for ((i = 0; i < validators; i++)); do
        curl -sf -m 5 "http://127.0.0.1:$((metrics_base + i))/metrics" \
            >"$out/$1-metrics-member-$i.txt" || true
    done
}

# Runs config $1: one loadgen per shard at once, then the summary.
run_config() {
    local name="$1" s member senders status i sampler_pid
    local -a gen_pids=() node_pids=() urls=()
    generate "$name"
    start_network "$name"
    senders=$((senders_total / shards))
    ((senders > 0)) || { say "SENDERS $senders_total is fewer than $shards shards"; return 1; }
    for ((i = 0; i < validators; i++)); do node_pids+=("${member_pid[$i]}"); done
    for ((s = 0; s < shards; s++)); do
        if [[ "$load_member" == each ]]; then
            # The first member that holds shard s (only those take its transactions).
            member=""
            for ((i = 0; i < validators; i++)); do
                if [[ " ${held[$i]} " == *" $s "* && -z "$member" ]]; then member=$i; fi
            done
            [[ -n "$member" ]] || { say "no member holds shard $s"; return 1; }
        else member="$load_member"; fi
        urls[$s]="$(url_of "$member" "$s")"
        say "loadgen $name shard $s: ${urls[$s]}, $senders senders, $max_txs transfers"
        # shellcheck disable=SC2086 # LOAD_ARGS is a list of flags
        timeout "$run_timeout" "$loadgen_bin" --rpc "${urls[$s]}" --label "$name-shard-$s" --json \
            --senders "$senders" --txs "$max_txs" --rate 0 --concurrency "$concurrency" \
            --batch "$batch" --setup-timeout "$setup_timeout" --timeout "$measure_timeout" \
            ${LOAD_ARGS:-} >"$out/$name-shard-$s.json" 2> >(stamp_lines >"$out/$name-shard-$s.log") &
        gen_pids[$s]=$!
        other_pids+=("$!")
    done
    sampler "$out/$name-cpu.txt" "$(IFS=,; echo "${node_pids[*]}")" "$(IFS=,; echo "${gen_pids[*]}")" &
    sampler_pid=$!
    other_pids+=("$sampler_pid")
    local failed=0
    for ((s = 0; s < shards; s++)); do
        status=0
        wait "${gen_pids[$s]}" || status=$?
        if [[ $status -ne 0 && $status -ne 3 ]]; then
            say "loadgen $name shard $s failed (exit $status):"
            tail -n 5 "$out/$name-shard-$s.log" >&2
            failed=1
        fi
    done
    local -a all_urls=()
    for ((i = 0; i < validators; i++)); do
        for ((s = 0; s < shards; s++)); do
            # A member that does not hold a shard neither executes nor catches it up.
            if [[ " ${held[$i]} " == *" $s "* ]]; then all_urls+=("$(url_of "$i" "$s")"); else all_urls+=("-"); fi
        done
    done
    if ((failed == 0)); then
        say "$name: load done; waiting for every member to reach every shard's height"
        catch_up "$name" "${all_urls[@]}"
    fi
    local l2_pending=0
    if [[ "$l2" == 1 && "$name" == A && $failed == 0 ]]; then l2_pending=1; fi
    sleep 0.3 # one more CPU sample after the last confirmation (or the catch-up)
    kill "$sampler_pid" 2>/dev/null || true
    wait "$sampler_pid" 2>/dev/null || true
    scrape_metrics "$name"
    if ((l2_pending == 0)); then stop_members; fi
    ((failed == 0)) || return 1
    local held_json
    held_json="$(for ((i = 0; i < validators; i++)); do echo "${held[$i]}"; done |
        python3 -c 'import json,sys; print(json.dumps([[int(x) for x in l.split()] for l in sys.stdin]))')"
    HELD="$held_json" python3 - "$out" "$name" "$shards" "$committee" "$validators" "$clk_tck" "${urls[@]}" <<'PY' | tee -a "$out/summary.txt"
import json, sys
out, name, shards, committee, validators, tck = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:7])
urls = sys.argv[7:]
runs = []
for s in range(shards):
    r = json.loads(open(f"{out}/{name}-shard-{s}.json").read().strip().splitlines()[-1])
    # The measured phase starts right after loadgen prints "... submitting" (it then opens its
    # newHeads subscription and sends); the last confirmation is duration_secs after the first
    # submit.
    start = None
    for line in open(f"{out}/{name}-shard-{s}.log"):
        t, _, text = line.partition(" ")
        if text.startswith("measure: signed") and "submitting" in text:
            start = float(t)
    if start is None:
        sys.exit(f"{name} shard {s}: no 'submitting' line in its log")
    r["window"] = (start, start + r["duration_secs"])
    runs.append(r)
w0 = min(r["window"][0] for r in runs)
w1 = max(r["window"][1] for r in runs)
overlap = max(0.0, min(r["window"][1] for r in runs) - max(r["window"][0] for r in runs))
wall = w1 - w0
confirmed = sum(r["confirmed"] for r in runs)
sent = sum(r["sent"] for r in runs)

samples = [tuple(map(float, l.split())) for l in open(f"{out}/{name}-cpu.txt") if l.strip()]
def at(t, col):
    # Linear interpolation of the cumulative ticks between the samples around t.
    for a, b in zip(samples, samples[1:]):
        if a[0] <= t <= b[0]:
            f = (t - a[0]) / (b[0] - a[0]) if b[0] > a[0] else 0.0
            return a[col] + f * (b[col] - a[col])
    raise SystemExit(f"{name}: no CPU samples around {t:.3f} "
                     f"(samples {samples[0][0]:.3f}..{samples[-1][0]:.3f})")
node_s = (at(w1, 1) - at(w0, 1)) / tck
gen_s = (at(w1, 2) - at(w0, 2)) / tck
import os
held = json.loads(os.environ["HELD"])
# The members that execute each shard's transfers (those that hold it), averaged over shards.
executing = sum(sum(1 for h in held if s in h) for s in range(shards)) / shards
ms_per_tx = 1e3 * node_s / confirmed if confirmed else float("nan")
agg = confirmed / wall if wall > 0 else 0.0

cu = json.load(open(f"{out}/{name}-catchup.json"))
behind = []
for s, row in enumerate(cu["heights_at_load_end"]):
    late = [f"{i}@{h}" for i, h in enumerate(row)
            if h != "not held" and (h is None or h < cu["target"][s])]
    if late:
        behind.append(f"shard {s} (height {cu['target'][s]}): members {' '.join(late)}")
if cu["caught_up"] is not None:
    t_all = max(cu["caught_up"], w1)
    all_s = (at(t_all, 1) - at(w0, 1)) / tck
    catchup = (f"every member had the blocks of every shard it holds {cu['caught_up'] - cu['load_end']:.1f} s "
               f"after the load ended; up to then CTPS {confirmed / (t_all - w0):.0f}, node CPU {all_s:.1f} s, "
               f"{1e3 * all_s / confirmed:.2f} ms per transfer, {1e3 * all_s / confirmed / executing:.3f} per "
               f"executing validator")
else:
    t_all, all_s = None, None
    catchup = f"members did NOT all catch up within the catch-up timeout (after: {cu['heights_after']})"
lag = ("behind at the end of the load: " + "; ".join(behind)) if behind else "no member behind at the end of the load"
per_shard = "; ".join(
    f"shard {s}: {r['confirmed']}/{r['sent']} confirmed, CTPS {r['ctps']:.0f}, p50 "
    f"{r['latency_ms']['p50']:.0f} ms, p99 {r['latency_ms']['p99']:.0f} ms"
    + (" TIMED OUT" if r["timed_out"] else "")
    for s, r in enumerate(runs))
print(f"{name} ({validators} members, {shards} shard(s), committee {committee}): aggregate CTPS "
      f"{agg:.0f} ({confirmed}/{sent} confirmed in a {wall:.1f} s window, shards overlapping "
      f"{overlap:.1f} s); {per_shard}; node CPU {node_s:.1f} s = {node_s / wall:.2f} cores "
      f"(loadgen {gen_s:.1f} s), {ms_per_tx:.2f} CPU ms per confirmed transfer, "
      f"{ms_per_tx / executing:.3f} per executing validator ({executing:g} of {validators} "
      f"execute each transfer); {lag}; {catchup}")
json.dump({
    "config": name, "validators": validators, "shards": shards, "committee_size": committee,
    "urls": urls, "aggregate_ctps": agg, "confirmed": confirmed, "sent": sent,
    "window_secs": wall, "overlap_secs": overlap, "node_cpu_secs": node_s,
    "loadgen_cpu_secs": gen_s, "cpu_ms_per_confirmed": ms_per_tx,
    "executing_validators": executing, "held_shards": held,
    "cpu_ms_per_confirmed_per_executing_validator": ms_per_tx / executing,
    "catchup": cu, "lag_at_load_end": behind,
    "secs_until_all_members_executed": (t_all - w0) if t_all else None,
    "node_cpu_secs_until_all_members_executed": all_s,
    "cpu_ms_per_confirmed_until_all_members_executed": 1e3 * all_s / confirmed if all_s else None,
    "shards_detail": [{k: r[k] for k in ("label", "senders", "txs", "sent", "confirmed",
                      "timed_out", "ctps", "duration_secs", "latency_ms", "blocks",
                      "mean_txs_per_block")} for r in runs],
}, open(f"{out}/{name}.json", "w"), indent=2)
PY
    if ((l2_pending)); then
        l2_phase "$name" "${all_urls[@]}"
        scrape_metrics "$name-l2"
        stop_members
    fi
}

say "kaimeng $kaimeng_bin, loadgen $loadgen_bin; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
result "date $(date -u +%FT%TZ), $(nproc) cores, configs $configs, MAX_TXS $max_txs per shard, SENDERS $senders_total split over the shards, CONCURRENCY $concurrency per shard, load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
for c in $configs; do
    run_config "$c"
    result "  (load average after $c: $(cut -d' ' -f1-3 /proc/loadavg))"
done
if [[ " $configs " == *" A "* ]]; then
    for c in B C; do
        [[ -s "$out/$c.json" && -s "$out/A.json" ]] || continue
        result "$(python3 - "$out/A.json" "$out/$c.json" "$c" <<'PY'
import json, sys
a, x = (json.load(open(p)) for p in sys.argv[1:3])
ratio = x["aggregate_ctps"] / a["aggregate_ctps"] if a["aggregate_ctps"] else float("nan")
cpu = x["cpu_ms_per_confirmed"] / a["cpu_ms_per_confirmed"]
print(f"{sys.argv[3]}/A aggregate CTPS: {x['aggregate_ctps']:.0f} / {a['aggregate_ctps']:.0f} = "
      f"{ratio:.2f}x"
      + (f" (issue 11 target: >= 1.7x: {'MET' if ratio >= 1.7 else 'NOT MET'})" if sys.argv[3] == "B" else "")
      + f"; "
      f"CPU per confirmed transfer {sys.argv[3]}/A = {cpu:.2f}x")
PY
)"
    done
fi
say "summary in $out/summary.txt"
