#!/usr/bin/env bash
# A/B of `kaimeng dev` builds on the same ERC-20 load: for each round, each binary in turn gets a
# fresh node (own empty directory) and one load generator run; one result line per run. Taking
# the binaries in turn spreads the machine's noise over all of them.
#
#   benches/ab-dev.sh ROUNDS BIN_A BIN_B [...]
#
# Environment: LOADGEN_BIN (default $CARGO_TARGET_DIR/debug/loadgen), TXS [40000],
# SENDERS [500], LOAD_ARGS [extra loadgen flags], DEV_ARGS [default "--validators 1"].
set -euo pipefail

rounds="${1:?usage: ab-dev.sh ROUNDS BIN_A BIN_B [...]}"
shift
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
loadgen="${LOADGEN_BIN:-${CARGO_TARGET_DIR:-$repo/target}/debug/loadgen}"
[[ -x "$loadgen" ]] || { echo "ab-dev: no load generator at $loadgen" >&2; exit 1; }

port=$((20000 + RANDOM % 20000))
for round in $(seq 1 "$rounds"); do
    for bin in "$@"; do
        port=$((port + 1))
        dir="$(mktemp -d "${TMPDIR:-/tmp}/ab-dev.XXXXXX")"
        # shellcheck disable=SC2086
        (cd "$dir" && exec "$bin" dev --port "$port" ${DEV_ARGS:---validators 1}) >"$dir/log" 2>&1 &
        node=$!
        # `kaimeng dev` prints "Listening on" once its RPC serves.
        for _ in $(seq 1 300); do
            grep -q "Listening on" "$dir/log" 2>/dev/null && break
            kill -0 "$node" 2>/dev/null || break
            sleep 0.1
        done
        # shellcheck disable=SC2086
        result="$("$loadgen" --rpc "http://127.0.0.1:$port" --senders "${SENDERS:-500}" \
            --txs "${TXS:-40000}" ${LOAD_ARGS:-} 2>&1 | grep -E "CTPS|p50" | tr -s ' \n' ' ')"
        echo "round $round $(basename "$bin"): $result"
        kill "$node" 2>/dev/null || true
        wait "$node" 2>/dev/null || true
        rm -rf "$dir"
    done
done
