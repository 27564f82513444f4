#!/usr/bin/env bash
# The whole Kaimeng test suite, from a fresh machine: installs what is missing, builds once
# (tests and the binary share the dev profile), runs every Rust test, then drives real Ethereum
# clients (Foundry, Hardhat, ethers, viem, web3.py) against a freshly started `kaimeng dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

log() { printf '\n== %s\n' "$*"; }

# --- system packages: clang/libclang for RocksDB's bindings; Chromium and CJK fonts for the
# explorer's browser test ---------------------------------------------------------------------
need_apt=()
for pkg in clang libclang-dev chromium fonts-noto-cjk; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# --- the same target directory `cargo run -- dev` uses (./target unless CARGO_TARGET_DIR is
# set; .ci/run sets it to a cache outside the checkout), so the README's two commands build once
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
mkdir -p "$CARGO_TARGET_DIR"

log "building (dev profile: tests and binary together)"
cargo build --workspace --all-targets --locked

log "the README's 'cargo run -- dev' reuses this build (nothing left to compile)"
if cargo build --bin kaimeng --locked 2>&1 | tee /dev/stderr | grep -q '^ *Compiling'; then
  echo "run-all.sh: 'cargo run -- dev' would compile again after the test build" >&2
  exit 1
fi

log "Rust tests"
cargo test --workspace --locked

log "client tests against kaimeng dev (a fresh node per client)"
"$ROOT/tests/clients/setup.sh"
log "bridge contract: the pinned artifact matches its source, and its unit tests"
(cd "$ROOT/contracts" && node compile.js --check && "$ROOT/tests/clients/node_modules/.bin/forge" test)
for flow in foundry hardhat ethers viem web3py admission tracing; do
  CLIENTS_SKIP_SETUP=1 "$ROOT/tests/with-dev-node.sh" "$ROOT/tests/clients/run.sh" "$flow"
done

log "explorer: Chromium (playwright-core) over every page, with hostile token names, logs and revert reasons"
"$ROOT/tests/with-dev-node.sh" "$ROOT/tests/explorer/run.sh"
log "explorer: the in-browser committee check (Keccak-256, SM3, swap-or-not) against vectors from real nodes"
node "$ROOT/tests/explorer/committees.test.mjs"

log "rollup: the ethers v6 L2-key example (personal_sign) deposits to the bridge; its key matches kaimeng l2 key"
KAIMENG_BIN="$CARGO_TARGET_DIR/debug/kaimeng" CLIENTS_SKIP_SETUP=1 \
  "$ROOT/tests/with-dev-node.sh" "$ROOT/tests/clients/run.sh" rollup

log "client tests against shard 1 of a two-shard network (committees of 2 drawn from 4 validators)"
for flow in foundry hardhat ethers viem web3py; do
  KAIMENG_DEV_ARGS="--shards 2 --committee-size 2" KAIMENG_DEV_SHARD=1 CLIENTS_SKIP_SETUP=1 \
    "$ROOT/tests/with-dev-node.sh" "$ROOT/tests/clients/run.sh" "$flow"
done
log "cast send to the cross-shard contract: shard 1 to shard 0 of a two-shard network"
KAIMENG_DEV_ARGS="--shards 2 --committee-size 2" KAIMENG_DEV_SHARD=1 \
  "$ROOT/tests/with-dev-node.sh" "$ROOT/tests/clients/crossshard-cast.sh"

log "load generator: its tests against anvil, then a short measured run against kaimeng dev"
ANVIL_BIN="$ROOT/tests/clients/node_modules/.bin/anvil" REQUIRE_ANVIL=1 \
  cargo test -p kaimeng-benches --features loadgen --locked
cargo build -p kaimeng-benches --features loadgen --bin loadgen --locked
# Every bench and bench binary compiles (the runs themselves are benchmarks, not CI).
cargo build -p kaimeng-benches --all-features --bins --benches --locked
"$ROOT/tests/with-dev-node.sh" "$ROOT/tests/loadgen-smoke.sh" "$CARGO_TARGET_DIR/debug/loadgen"

log "soak, short pass: a 60 s flood (longer, bounded, until the never-readers must have overflowed) of 15M-gas transactions with never-reading and slow WebSocket subscribers"
cargo build -p kaimeng-benches --features loadgen --bin soak --locked
"$ROOT/benches/soak.sh" --duration 60 --cooldown 15 --check

log "all tests passed"
