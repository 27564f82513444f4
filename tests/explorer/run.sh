#!/usr/bin/env bash
# The block explorer in a real browser, against the node that tests/with-dev-node.sh started:
#   tests/with-dev-node.sh tests/explorer/run.sh
# First real data: the ethers client flow (KaiToken, transfers, a queued transaction) and
# seed.mjs (a token named <script>alert(1)</script>, transfers of it, a log carrying
# <img src=x onerror=alert(2)>, an ETH transfer, an on-chain revert with markup in its reason).
# Then browser.mjs drives Debian's Chromium through playwright-core over every explorer page.
# SCREENSHOTS=1 also writes docs/explorer/*.png. Needs: apt packages chromium and fonts-noto-cjk,
# tests/clients/node_modules (tests/clients/setup.sh; CLIENTS_SKIP_SETUP=1 is passed on here).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

: "${RPC_URL:?RPC_URL is not set: run through tests/with-dev-node.sh}"
: "${WS_URL:?WS_URL is not set: run through tests/with-dev-node.sh}"
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { echo "explorer: ${CHROMIUM:-/usr/bin/chromium} is missing (apt-get install chromium fonts-noto-cjk)" >&2; exit 2; }
[ -d "$root/tests/clients/node_modules/playwright-core" ] || { echo "explorer: tests/clients/node_modules has no playwright-core (run tests/clients/setup.sh)" >&2; exit 2; }

# The dev network can pause for ~30 s now and then: wait on it up to 90 s per step.
export CLIENT_WAIT_MS=${CLIENT_WAIT_MS:-90000}

echo "== explorer: data from the ethers client flow"
CLIENTS_SKIP_SETUP=1 FLOW_TIMEOUT="${FLOW_TIMEOUT:-300}" "$root/tests/clients/run.sh" ethers

echo "== explorer: hostile and failing data (seed.mjs)"
seed_out=${SEED_OUT:-}
if [ -z "$seed_out" ]; then
  seed_out=$(mktemp -t kaimeng-explorer-seed.XXXXXX.json)
  trap 'rm -f "$seed_out"' EXIT
fi
export SEED_OUT=$seed_out
timeout --kill-after=10 180 node "$here/seed.mjs"

echo "== explorer: Chromium over $RPC_URL/explorer/"
timeout --kill-after=10 660 node "$here/browser.mjs"
