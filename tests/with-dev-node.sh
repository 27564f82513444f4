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

# Node 0 serves shard i on PORT + i: find a base whose ports are all free.
SHARDS=$(printf '%s\n' ${KAIMENG_DEV_ARGS:-} | { grep -A1 -x -- '--shards' || true; } | sed -n 2p)
PORT=$(python3 - "${SHARDS:-1}" <<'PY'
import random, socket, sys
count = int(sys.argv[1])
for _ in range(200):
    base = random.randint(20000, 30000)
    sockets = []
    try:
        for port in range(base, base + count):
            s = socket.socket()
            s.bind(("127.0.0.1", port))
            sockets.append(s)
    except OSError:
        continue
    finally:
        for s in sockets:
            s.close()
    print(base)
    break
else:
    sys.exit("no free range of %d loopback ports" % count)
PY
)
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
