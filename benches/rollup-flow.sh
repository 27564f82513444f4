#!/usr/bin/env bash
# The rollup's user flow on `kaimeng dev`, timed and costed: deposit-to-spendable latency (the
# deposit's shard-0 receipt, then the sequencer's soft ledger), soft-confirmation latency of
# `kaimeng l2 transfer`, withdraw-to-claimable latency (a batch closed, proven by the dev
# sequencer's one in-process prover at the dev shape, then committed, verified, decided and
# executed on shard 0; `kaimeng dev` decides every batch), and the shard-0 gas and calldata bytes
# per L2 operation of every batch's commit, verify, decision (ADR 0114) and execute.
#
#   benches/rollup-flow.sh            (KAIMENG_BIN, PORT and USERS may be set)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${KAIMENG_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/debug/kaimeng}"
PORT=${PORT:-19545}
SEQ=$((PORT + 100))
USERS=${USERS:-4}
LOG=$(mktemp -t kaimeng-rollup-flow-XXXX.log)
KAIMENG_LOG="warn,kaimeng::sequencer=info" "$BIN" dev --port "$PORT" --sequencer-port "$SEQ" >"$LOG" 2>&1 &
NODE=$!
trap 'kill $NODE 2>/dev/null; wait $NODE 2>/dev/null || true' EXIT
for _ in $(seq 150); do grep -q "^Listening on" "$LOG" && break; sleep 0.2; done
grep -q "^Listening on" "$LOG" || { cat "$LOG"; exit 1; }
RPC="http://127.0.0.1:$PORT"
SEQ_URL="http://127.0.0.1:$SEQ"
key() { grep -a "^($1) 0x" "$LOG" | tail -1 | awk '{print $2}'; }
call() { curl -s -H 'content-type: application/json' \
  -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":$3}" "$1" | jq -c .result; }
now_ms() { date +%s%3N; }

# The sequencer's fee account first (request 0).
until [ "$(call "$SEQ_URL" rollup_status '[]' | jq .nextRequest)" -ge 1 ]; do sleep 0.1; done

echo "deposit to spendable (shard-0 receipt + the sequencer's watcher), ms:"
for i in $(seq 1 "$USERS"); do
  t0=$(now_ms)
  "$BIN" l2 deposit --rpc "$RPC" --private-key "$(key "$i")" --gwei 100000 >/dev/null
  t1=$(now_ms)
  until [ "$(call "$SEQ_URL" rollup_getAccount "[$i]" | jq .soft.balance)" -gt 0 ]; do sleep 0.02; done
  t2=$(now_ms)
  echo "  user $i: receipt $((t1 - t0)), spendable $((t2 - t0))"
done

echo "transfers (kaimeng l2 transfer; soft confirmation as the CLI reports it):"
for round in 1 2; do
  for i in $(seq 1 "$USERS"); do
    to=$(( i % USERS + 1 ))
    "$BIN" l2 transfer --sequencer "$SEQ_URL" --private-key "$(key "$i")" --from "$i" --to "$to" \
      --amount 10 | sed 's/^/  /'
  done
done

echo "withdraw to claimable:"
t0=$(now_ms)
"$BIN" l2 withdraw --sequencer "$SEQ_URL" --private-key "$(key 1)" --from 1 --amount 500 --wait | sed 's/^/  /'
echo "  total $(( $(now_ms) - t0 )) ms"
until [ "$(call "$SEQ_URL" rollup_status '[]' | jq '.unbatched == 0 and .executed == .lastClosedBatch')" = true ]; do
  sleep 0.5
done

echo
echo "| batch | L2 ops | chunks | commit gas | verify gas | decide gas | execute gas | commit+verify+decide calldata bytes | gas per op | bytes per op |"
echo "|---|---|---|---|---|---|---|---|---|---|"
last=$(call "$SEQ_URL" rollup_status '[]' | jq .lastClosedBatch)
for b in $(seq 1 "$last"); do
  info=$(call "$SEQ_URL" rollup_getBatch "[$b]")
  ops=$(jq .operations <<<"$info"); chunks=$(jq .chunks <<<"$info")
  total_gas=0; bytes=0; cols=()
  for what in commit verify decide execute; do
    line=$(grep -a "batch submitted to shard 0" "$LOG" | grep -aE "batch=$b what=\"?$what\"? " | tail -1)
    gas=$(( $(sed -E 's/.*gas="?(0x[0-9a-f]+)"?.*/\1/' <<<"$line") ))
    tx=$(sed -E 's/.*tx="?(0x[0-9a-f]+)"?.*/\1/' <<<"$line")
    input=$(call "$RPC" eth_getTransactionByHash "[\"$tx\"]" | jq -r .input)
    [ "$what" = execute ] || bytes=$(( bytes + (${#input} - 2) / 2 ))
    total_gas=$(( total_gas + gas )); cols+=("$gas")
  done
  echo "| $b | $ops | $chunks | ${cols[0]} | ${cols[1]} | ${cols[2]} | ${cols[3]} | $bytes | $(( total_gas / ops )) | $(( bytes / ops )) |"
done
