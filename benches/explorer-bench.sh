#!/usr/bin/env bash
# The explorer at scale: a fresh `kaimeng dev` (one sealer) takes TXS ERC-20 transfers from the
# load generator; then how long the index takes to catch up, the server time of every page
# kind with all of them indexed (benches/explorer-pages.py), and the same again while a second
# load runs.
#
#   benches/explorer-bench.sh [TXS (default 1000000)]
#
# Environment: KAIMENG_BIN, LOADGEN_BIN (default $CARGO_TARGET_DIR/debug/{kaimeng,loadgen}),
# SENDERS [500], REQUESTS [200], DEV_ARGS [--validators 1 --no-sequencer].
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
bin="${KAIMENG_BIN:-$target/debug/kaimeng}"
loadgen="${LOADGEN_BIN:-$target/debug/loadgen}"
txs="${1:-1000000}"
port=$((20000 + RANDOM % 20000))
dir="$(mktemp -d "${TMPDIR:-/tmp}/explorer-bench.XXXXXX")"
# shellcheck disable=SC2086
"$bin" dev --port "$port" ${DEV_ARGS:---validators 1 --no-sequencer} --data-dir "$dir/data" >"$dir/log" 2>&1 &
node=$!
cleanup() { kill "$node" 2>/dev/null || true; wait "$node" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
for _ in $(seq 1 300); do
  grep -q "Listening on" "$dir/log" 2>/dev/null && break
  kill -0 "$node" 2>/dev/null || { cat "$dir/log" >&2; exit 1; }
  sleep 0.1
done
rpc="http://127.0.0.1:$port"
echo "== $txs ERC-20 transfers (the index builds beside them at the lowest priority)"
"$loadgen" --rpc "$rpc" --senders "${SENDERS:-500}" --txs "$txs" 2>&1 | grep -E "CTPS|p50"

echo "== the index catching up"
start=$(date +%s.%N)
for _ in $(seq 1 1200); do
  lag=$(curl -sf "$rpc/explorer/api/status" | python3 -c 'import json,sys; c=json.load(sys.stdin)["chains"][0]; print(c["height"] - (c["indexed"] or 0))')
  [ "$lag" -le 0 ] && break
  sleep 0.5
done
printf 'caught up %.1f s after the load ended (lag left: %s blocks)\n' "$(echo "$(date +%s.%N) - $start" | bc)" "$lag"

echo "== pages, node idle"
python3 "$repo/benches/explorer-pages.py" --rpc "$rpc" --requests "${REQUESTS:-200}"

echo "== pages while a second load of 100,000 transfers runs"
"$loadgen" --rpc "$rpc" --senders "${SENDERS:-500}" --txs 100000 --seed 2 >"$dir/load2" 2>&1 &
load=$!
sleep 2
python3 "$repo/benches/explorer-pages.py" --rpc "$rpc" --requests 50
wait "$load" || true
grep -E "CTPS" "$dir/load2" || true
