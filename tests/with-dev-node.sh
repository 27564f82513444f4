#!/usr/bin/env bash
# Runs a command against a freshly started `kaimeng dev` on a free loopback port, exporting
# RPC_URL and WS_URL, and stops the node afterwards whatever happens.
#   tests/with-dev-node.sh <command> [args...]
# KAIMENG_DEV_ARGS adds `kaimeng dev` arguments; KAIMENG_DEV_SHARD=s points RPC_URL/WS_URL at
# shard s (node 0 serves shard s on port + s), e.g. KAIMENG_DEV_ARGS="--shards 2" KAIMENG_DEV_SHARD=1.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${KAIMENG_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/debug/kaimeng}"
[ -x "$BIN" ] || { echo "kaimeng binary not found at $BIN (build it first)" >&2; exit 1; }

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LOG=$(mktemp -t kaimeng-dev-XXXX.log)
"$BIN" dev --port "$PORT" ${KAIMENG_DEV_ARGS:-} >"$LOG" 2>&1 &
NODE=$!
cleanup() { kill "$NODE" 2>/dev/null || true; wait "$NODE" 2>/dev/null || true; }
trap cleanup EXIT

SHARD_PORT=$((PORT + ${KAIMENG_DEV_SHARD:-0}))
export RPC_URL="http://127.0.0.1:$SHARD_PORT" WS_URL="ws://127.0.0.1:$SHARD_PORT"
# Wait (bounded) until the node answers eth_chainId.
for _ in $(seq 1 300); do
  if curl -sf -H 'content-type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$RPC_URL" >/dev/null 2>&1; then
    break
  fi
  kill -0 "$NODE" 2>/dev/null || { echo "kaimeng dev exited:" >&2; cat "$LOG" >&2; exit 1; }
  sleep 0.1
done
curl -sf -H 'content-type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$RPC_URL" >/dev/null \
  || { echo "kaimeng dev did not answer within 30 s:" >&2; cat "$LOG" >&2; exit 1; }

status=0
"$@" || status=$?
if [ $status -ne 0 ]; then echo "--- kaimeng dev log ($LOG) ---" >&2; tail -50 "$LOG" >&2; fi
exit $status
