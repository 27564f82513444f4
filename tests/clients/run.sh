#!/usr/bin/env bash
# Runs real Ethereum clients against a node and prints one PASS/FAIL line per flow.
#
#   RPC_URL=http://127.0.0.1:8545 WS_URL=ws://127.0.0.1:8545 tests/clients/run.sh [flow...]
#   tests/clients/run.sh --anvil [flow...]    # starts anvil from node_modules on a free port
#   tests/clients/run.sh --trace [flow...]    # records every JSON-RPC exchange through a proxy
#                                             # and prints the error responses at the end
#
# Flows: foundry hardhat ethers viem web3py admission tracing rollup (all by default; admission
# checks, through ethers, that every admission rule refuses at once with the wording clients know;
# tracing reads internal calls with debug_trace* through viem and cast rpc; rollup derives an L2
# key through ethers signMessage and deposits it to the bridge). Each deploys KaiToken, transfers
# and checks balances exactly, reads Transfer logs, checks the revert reason of a failing
# transfer, and waits (bounded) for a newHeads event over WebSocket. Exits non-zero if any flow
# failed. Runs setup.sh first (a no-op when everything is installed; CLIENTS_SKIP_SETUP=1 skips it).
# Environment: FLOW_TIMEOUT (s, default 600) bounds each flow; CLIENT_WAIT_MS (default 30000)
# bounds each wait on the node inside a flow; KAIMENG_BIN, when set, is the binary whose
# `kaimeng l2 key` the rollup flow compares its key with.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"

ALL_FLOWS=(foundry hardhat ethers viem web3py admission tracing rollup)
use_anvil=0
use_trace=0
flows=()
for arg in "$@"; do
  case "$arg" in
    --anvil) use_anvil=1 ;;
    --trace) use_trace=1 ;;
    -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    foundry|hardhat|ethers|viem|web3py|admission|tracing|rollup) flows+=("$arg") ;;
    *) echo "run.sh: unknown flow or option '$arg' (flows: ${ALL_FLOWS[*]})" >&2; exit 2 ;;
  esac
done
(( ${#flows[@]} )) || flows=("${ALL_FLOWS[@]}")

if [[ ${CLIENTS_SKIP_SETUP:-0} != 1 ]]; then
  ./setup.sh || { echo "run.sh: setup.sh failed" >&2; exit 2; }
fi

anvil_pid=
proxy_pid=
cleanup() {
  local pid
  for pid in $proxy_pid $anvil_pid; do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  return 0
}
trap cleanup EXIT

if (( use_anvil )); then
  port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  anvil_log=$(mktemp -t kaimeng-clients-anvil.XXXXXX.log)
  node_modules/.bin/anvil --host 127.0.0.1 --port "$port" >"$anvil_log" 2>&1 &
  anvil_pid=$!
  export RPC_URL="http://127.0.0.1:$port" WS_URL="ws://127.0.0.1:$port"
  echo "run.sh: started anvil (pid $anvil_pid) on $RPC_URL, log $anvil_log"
fi

export RPC_URL=${RPC_URL:-http://127.0.0.1:8545}
export WS_URL=${WS_URL:-ws://127.0.0.1:8545}
export HARDHAT_DISABLE_TELEMETRY_PROMPT=true NO_COLOR=1

# Wait (bounded) until the node answers eth_chainId, so an unreachable node is one clear error.
if ! node -e '
  const deadline = Date.now() + Number(process.env.NODE_READY_MS || 20000);
  (async () => {
    for (;;) {
      try {
        const r = await fetch(process.env.RPC_URL, {
          method: "POST", headers: { "content-type": "application/json" },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
          signal: AbortSignal.timeout(2000),
        });
        const body = await r.json();
        if (body.result) { console.log(`run.sh: node at ${process.env.RPC_URL} has chain id ${BigInt(body.result)}`); return; }
        throw new Error(JSON.stringify(body));
      } catch (err) {
        if (Date.now() > deadline) { console.error(`run.sh: no eth_chainId answer from ${process.env.RPC_URL}: ${err.message}`); process.exit(1); }
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  })();'; then
  exit 2
fi

trace_file=
if (( use_trace )); then
  mkdir -p .trace
  trace_file="$here/.trace/rpc-$(date +%Y%m%d-%H%M%S).jsonl"
  fifo=$(mktemp -u -t kaimeng-clients-proxy.XXXXXX)
  mkfifo "$fifo"
  UPSTREAM_HTTP=$RPC_URL UPSTREAM_WS=$WS_URL TRACE_FILE=$trace_file node lib/rpc-trace-proxy.js >"$fifo" &
  proxy_pid=$!
  exec 3<"$fifo"
  rm -f "$fifo"
  if ! read -r -t 20 -u 3 ready || [[ $ready != listening* ]]; then
    echo "run.sh: the trace proxy did not start" >&2
    exit 2
  fi
  echo "run.sh: tracing JSON-RPC to $trace_file via 127.0.0.1:${ready#listening }"
  export RPC_URL="http://127.0.0.1:${ready#listening }" WS_URL="ws://127.0.0.1:${ready#listening }"
fi

flow_command() {
  case "$1" in
    foundry) node foundry/flow.js ;;
    hardhat) (cd hardhat && npx --no hardhat run --network kaimeng scripts/deploy-and-check.js) ;;
    ethers) node ethers/flow.js ;;
    admission) node ethers/admission.js ;;
    rollup) node ethers/rollup.js ;;
    viem) node viem/flow.mjs ;;
    tracing) node viem/tracing.mjs ;;
    web3py) .venv/bin/python web3py/flow.py ;;
  esac
}
export -f flow_command

passed=()
failed=()
results=()
for flow in "${flows[@]}"; do
  echo "=== $flow (RPC_URL=$RPC_URL WS_URL=$WS_URL)"
  started=${EPOCHREALTIME/./}
  timeout --kill-after=10 "${FLOW_TIMEOUT:-600}" bash -c "flow_command $flow"
  status=$?
  elapsed=$(( ${EPOCHREALTIME/./} - started ))
  seconds=$(( elapsed / 1000000 )).$(( elapsed / 100000 % 10 ))
  if (( status == 0 )); then
    passed+=("$flow"); results+=("PASS $flow (${seconds} s)")
  elif (( status == 124 || status == 137 )); then
    failed+=("$flow"); results+=("FAIL $flow (timed out after ${FLOW_TIMEOUT:-600} s)")
  else
    failed+=("$flow"); results+=("FAIL $flow (exit $status)")
  fi
  echo "${results[-1]}"
done

echo "=== summary against $RPC_URL"
printf '%s\n' "${results[@]}"
if [[ -n $trace_file ]]; then
  echo "=== JSON-RPC error responses seen by the trace proxy"
  node lib/trace-errors.js "$trace_file"
fi
echo "clients: ${#passed[@]} passed, ${#failed[@]} failed"
(( ${#failed[@]} == 0 ))
