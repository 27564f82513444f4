#!/usr/bin/env bash
# Soak: the resident memory of a fresh `kaimeng dev` under a long transaction flood, with
# WebSocket subscribers that read very slowly or never.
#
#   benches/soak.sh                                   # 10 minutes at 300 tx/s
#   benches/soak.sh --duration 60 --cooldown 15 --check   # the short pass (CI)
#
# It starts `kaimeng dev --port P $DEV_ARGS` in an empty directory, runs the `soak` binary
# (benches/src/soak/: setup deploys a gas burner, funds 2,000 senders and installs 1,000 polling
# filters of each kind that are never polled; then transactions that each log once and burn
# nearly all of their 15M gas limit, at --rate for --duration seconds (longer, up to 240 s more,
# until each never-reader must have overflowed the node's bound), while NEVER never-reading
# and SLOW slow-reading WebSocket clients are subscribed to newHeads, logs and
# newPendingTransactions beside one prompt reader), keeps the node running --cooldown seconds more, and samples the node's VmRSS/VmHWM from /proc/<pid>/status,
# its pool (txpool_status) and head every --sample seconds into rss.csv. Then it prints the
# summary: RSS when ready, at the flood's start and end, peak, after the cool-down, the slope
# over the flood's last third, and RSS every 30 s.
#
# Flags: --duration S (600), --rate TX/S (300: about 10x the ~32/s that `kaimeng dev
#   --validators 1` confirms of these on a 2-core machine), --sample S (5), --cooldown S (60),
#   --never N (25), --slow N (25), --out DIR (kept; default a temporary directory, removed),
#   --check (exit 1 unless the node survived, the prompt reader kept its subscriptions, every
#   never-reading client had a subscription closed by the node, and the peak RSS is at most
#   MAX_RSS_MB when that is set). Arguments after `--` go to the soak binary (see `soak --help`).
# Environment: KAIMENG_BIN ($CARGO_TARGET_DIR/debug/kaimeng), SOAK_BIN ($CARGO_TARGET_DIR/debug/soak;
#   built with `cargo build -p kaimeng-benches --features loadgen --bin soak` if missing),
#   DEV_ARGS (default "--validators 1"), MAX_RSS_MB.
# Every process it starts is stopped on exit, error or signal; the whole run is bounded by
# duration + cooldown + 18 minutes (node start-up 180 s, the soak's setup 300 s, the flood's extension at
# most 240 s: see `--max-extension` in benches/src/soak/mod.rs; the subscribers' drain after the
# flood at most 300 s: see DRAIN_MAX in benches/src/soak/readers.rs).
set -euo pipefail

duration=600 rate=300 sample=5 cooldown=60 never=25 slow=25 out_dir="" check=0
extra=()
while (($#)); do
    case "$1" in
        --duration) duration="$2"; shift 2 ;;
        --rate) rate="$2"; shift 2 ;;
        --sample) sample="$2"; shift 2 ;;
        --cooldown) cooldown="$2"; shift 2 ;;
        --never) never="$2"; shift 2 ;;
        --slow) slow="$2"; shift 2 ;;
        --out) out_dir="$2"; shift 2 ;;
        --check) check=1; shift ;;
        --) shift; extra=("$@"); break ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "soak.sh: unknown flag $1 (see --help)" >&2; exit 2 ;;
    esac
done

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
kaimeng_bin="${KAIMENG_BIN:-$target/debug/kaimeng}"
soak_bin="${SOAK_BIN:-$target/debug/soak}"
work="$(mktemp -d "${TMPDIR:-/tmp}/soak.XXXXXX")"
out="${out_dir:-$work/out}"
mkdir -p "$out"

say() { printf '[soak] %s\n' "$*" >&2; }

started_pids=()
cleanup() {
    local pid
    for pid in "${started_pids[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 1 25); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
            kill -9 "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ -x "$kaimeng_bin" ]] || { say "no kaimeng binary at $kaimeng_bin (cargo build -p kaimeng --bin kaimeng)"; exit 1; }
if [[ ! -x "$soak_bin" ]]; then
    say "building the soak binary (cargo build -p kaimeng-benches --features loadgen --bin soak)"
    (cd "$repo" && timeout 3600 cargo build -q -p kaimeng-benches --features loadgen --bin soak)
    soak_bin="$target/debug/soak"
fi

port=""
for _ in $(seq 1 100); do
    candidate=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then port="$candidate"; break; fi
done
[[ -n "$port" ]] || { say "no free port"; exit 1; }
url="http://127.0.0.1:$port"

rpc() {
    curl -sf -m 2 -H 'content-type: application/json' \
        -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":[]}" "$url" 2>/dev/null || true
}

mkdir -p "$work/node"
# shellcheck disable=SC2086 # DEV_ARGS is a list of flags
(cd "$work/node" && exec "$kaimeng_bin" dev --port "$port" ${DEV_ARGS:---validators 1}) >"$out/node.log" 2>&1 &
node=$!
started_pids+=("$node")
for _ in $(seq 1 900); do
    [[ -n "$(rpc eth_chainId)" ]] && break
    kill -0 "$node" 2>/dev/null || { say "kaimeng dev exited at start-up (see $out/node.log)"; exit 1; }
    sleep 0.2
done
[[ -n "$(rpc eth_chainId)" ]] || { say "kaimeng dev did not serve RPC within 180 s"; exit 1; }
say "kaimeng dev (pid $node, ${DEV_ARGS:---validators 1}) on port $port; sampling every ${sample}s into $out/rss.csv"

# The sampler: one row per sample; the phase is what the main script last wrote to $work/phase.
echo ready >"$work/phase"
echo "t_s,phase,rss_mb,hwm_mb,pool_pending,pool_queued,head" >"$out/rss.csv"
t0="$EPOCHREALTIME"
(
    hex() { local v; v="$(grep -o "\"$1\":\"0x[0-9a-fA-F]*\"" | head -1 | cut -d'"' -f4)"; [[ -n "$v" ]] && printf '%d' "$v" || echo ""; }
    while kill -0 "$node" 2>/dev/null; do
        status="$(cat "/proc/$node/status" 2>/dev/null)" || break
        rss="$(awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' <<<"$status")"
        hwm="$(awk '/^VmHWM/ {printf "%.1f", $2 / 1024}' <<<"$status")"
        pool="$(rpc txpool_status)"
        pending="$(hex pending <<<"$pool")"
        queued="$(hex queued <<<"$pool")"
        head="$(rpc eth_blockNumber | hex result)"
        t="$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')"
        echo "$t,$(cat "$work/phase"),$rss,$hwm,$pending,$queued,$head" >>"$out/rss.csv"
        sleep "$sample"
    done
) &
started_pids+=("$!")

echo setup >"$work/phase"
say "soak: --duration $duration --rate $rate --never-readers $never --slow-readers $slow ${extra[*]}"
: >"$out/soak.log"
timeout $((duration + 900)) "$soak_bin" --rpc "$url" --duration "$duration" --rate "$rate" \
    --never-readers "$never" --slow-readers "$slow" "${extra[@]}" >"$out/soak.json" 2>"$out/soak.log" &
soak=$!
started_pids+=("$soak")
# The flood starts when setup has funded the senders.
while kill -0 "$soak" 2>/dev/null && ! grep -q "funded; flooding" "$out/soak.log"; do sleep 0.2; done
echo flood >"$work/phase"
soak_status=0
wait "$soak" || soak_status=$?
echo cooldown >"$work/phase"
grep "^soak:" "$out/soak.log" >&2 || true
if ((soak_status != 0)); then say "the soak binary failed (exit $soak_status)"; fi
say "flood over; the node keeps running ${cooldown}s for the cool-down"
sleep "$cooldown"
node_alive=1
kill -0 "$node" 2>/dev/null || node_alive=0
sleep 0.5

python3 - "$out/rss.csv" "$out/soak.json" "$node_alive" "$soak_status" "$check" "${MAX_RSS_MB:-}" "$never" <<'PY' | tee "$out/summary.txt"
import csv, json, sys

csv_path, json_path, alive, soak_status, check, max_rss, never = sys.argv[1:8]
rows = [r for r in csv.DictReader(open(csv_path)) if r["rss_mb"]]
for r in rows:
    r["t"] = float(r["t_s"])
    r["rss"] = float(r["rss_mb"])
flood = [r for r in rows if r["phase"] == "flood"]
cool = [r for r in rows if r["phase"] == "cooldown"]
ready = [r for r in rows if r["phase"] in ("ready", "setup")]
problems = []

def slope(points):
    # Least-squares MB per second.
    n = len(points)
    if n < 2:
        return float("nan")
    mt = sum(p["t"] for p in points) / n
    mr = sum(p["rss"] for p in points) / n
    var = sum((p["t"] - mt) ** 2 for p in points)
    return sum((p["t"] - mt) * (p["rss"] - mr) for p in points) / var if var else float("nan")

print("== soak summary ==")
if ready:
    print(f"RSS when ready: {ready[0]['rss']:.1f} MB (after setup: {ready[-1]['rss']:.1f} MB)")
if flood:
    t_start, t_end = flood[0]["t"], flood[-1]["t"]
    last_third = [r for r in flood if r["t"] >= t_start + 2 * (t_end - t_start) / 3]
    peak = max(rows, key=lambda r: r["rss"])
    s = slope(last_third)
    print(f"flood: {t_end - t_start:.0f} s; RSS start {flood[0]['rss']:.1f} MB, end {flood[-1]['rss']:.1f} MB, "
          f"peak {peak['rss']:.1f} MB at {peak['t'] - t_start:.0f} s ({peak['phase']}), "
          f"VmHWM {float(rows[-1]['hwm_mb']):.1f} MB")
    print(f"slope over the flood's last third: {s:+.3f} MB/s ({s * 60:+.1f} MB/min, {len(last_third)} samples)")
    if cool:
        print(f"after the {cool[-1]['t'] - t_end:.0f} s cool-down: {cool[-1]['rss']:.1f} MB "
              f"(pool {cool[-1]['pool_pending'] or '?'} pending / {cool[-1]['pool_queued'] or '?'} queued)")
    print()
    print("| t (s) | phase | RSS (MB) | pool pending | pool queued | head |")
    print("|---:|---|---:|---:|---:|---:|")
    next_t = 0.0
    for r in [r for r in rows if r["phase"] in ("flood", "cooldown")]:
        if r["t"] - t_start >= next_t or r is rows[-1]:
            print(f"| {r['t'] - t_start:.0f} | {r['phase']} | {r['rss']:.1f} | {r['pool_pending']} | {r['pool_queued']} | {r['head']} |")
            next_t = (int((r["t"] - t_start) // 30) + 1) * 30.0
    if max_rss and peak["rss"] > float(max_rss):
        problems.append(f"peak RSS {peak['rss']:.1f} MB > MAX_RSS_MB {max_rss}")
else:
    problems.append("no sample was taken during the flood")

try:
    report = json.loads(open(json_path).read().strip().splitlines()[-1])
except (OSError, ValueError, IndexError):
    report = None
    problems.append("the soak binary wrote no report")
if report:
    f, c, rd = report["flood"], report["chain"], report["readers"]
    print()
    print(f"idle polling filters installed (never polled): {report['idle_filters_installed']}")
    print(f"flood: offered {f['offered_tps']:.0f} tx/s, submitted {f['submitted']}, accepted {f['accepted']}, "
          f"refused: pool full {f['refused_pool_full']}, nonce {f['refused_nonce']}, other {f['refused_other']} {f['first_errors'] or ''}")
    print(f"chain: blocks {c['blocks']}, confirmed {c['confirmed_txs']} ({c['ctps']:.0f} tx/s), "
          f"longest gap between heads {c['longest_head_gap_ms']} ms, RPC errors {c['rpc_errors']}")
    for name in ("never", "slow", "prompt", "request_flooders"):
        g = rd[name]
        if name == "request_flooders":
            if g["clients"]:
                print(f"request flooders: {g['clients']} clients sending requests and never reading")
            continue
        print(f"{name:>6} readers: {g['clients']} clients ({g['failed_to_start']} failed), {g['subscriptions']} subscriptions seen, "
              f"{g['notifications']} notifications / {g['bytes_read'] / 1e6:.1f} MB read, "
              f"{g['subscriptions_closed_by_node']} subscriptions and {g['connections_closed_by_node']} connections closed by the node"
              + (f", {g['clients_cut_off']} clients cut off" if name != "prompt" else ""))
        d = g["drains"]
        if name != "prompt" and g["clients"]:
            print(f"{'':>14} drains after the flood: {d['all_closed']} ended with everything closed, {d['idle']} idle, "
                  f"{d['at_limit']} at the time limit; the longest took {d['longest_secs']:.1f} s "
                  f"and waited {d['longest_silence_secs']:.1f} s at most for the node")
    if rd["prompt"]["subscriptions_closed_by_node"] or rd["prompt"]["connections_closed_by_node"]:
        problems.append("the node cut off the prompt reader")
    b = report["bound"]
    if int(never):
        print(f"bound: a never-reader's connection holds at most {b['never_reader_capacity_bytes'] / 1e6:.1f} MB; "
              f"the prompt reader had been sent {b['prompt_bytes_at_stop'] / 1e6:.1f} MB when the flood stopped, "
              f"{b['extension_secs']:.0f} s past --duration")
        if not b["tested"]:
            problems.append("the flood did not send a never-reader more than its connection holds "
                            "(plus the node's grace) within --max-extension, so the bound was not tested")
    if int(never) and rd["never"]["clients_cut_off"] < int(never):
        problems.append("some never-reading client had no subscription closed by the node")
if alive != "1":
    problems.append("the node died")
if soak_status != "0":
    problems.append(f"the soak binary failed (exit {soak_status})")
for p in problems:
    print(f"PROBLEM: {p}")
if check == "1" and problems:
    sys.exit(1)
PY
