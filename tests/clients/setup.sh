#!/usr/bin/env bash
# Installs what the client flows need, all inside tests/clients/:
#   node_modules/  npm ci from the committed package-lock.json (--ignore-scripts: the Foundry
#                  packages ship their binaries; nothing is downloaded by install scripts)
#   .venv/         a Python venv with the pinned requirements.txt (web3.py, eth-account)
# Idempotent: each part records the hash of its lock file and is skipped while it matches.
# Needs node >= 20 with npm, and python3 >= 3.10 with venv (on Debian: python3-venv, which this
# script installs with apt-get when it runs as root and venv is missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

for tool in node npm python3 sha256sum; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done
node_major=$(node -p 'process.versions.node.split(".")[0]')
(( node_major >= 20 )) || die "node >= 20 is needed, found $(node --version)"

# --- npm packages ----------------------------------------------------------------------------
npm_stamp=node_modules/.kaimeng-setup-stamp
npm_hash=$( { sha256sum package.json package-lock.json; node --version; } | sha256sum | cut -d' ' -f1)
if [[ -f $npm_stamp && $(cat "$npm_stamp") == "$npm_hash" ]]; then
  say "npm packages up to date"
else
  say "installing npm packages (npm ci --ignore-scripts)"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  for bin in anvil forge cast; do
    node_modules/.bin/$bin --version >/dev/null 2>&1 || die "node_modules/.bin/$bin does not run"
  done
  node -e 'require("solc").version()' >/dev/null || die "solc-js does not load"
  echo "$npm_hash" >"$npm_stamp"
fi

# --- Python venv -----------------------------------------------------------------------------
py_stamp=.venv/.kaimeng-setup-stamp
py_hash=$( { sha256sum requirements.txt; python3 --version; } | sha256sum | cut -d' ' -f1)
if [[ -f $py_stamp && $(cat "$py_stamp") == "$py_hash" ]]; then
  say "Python venv up to date"
else
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
      py_minor=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
      say "python3 has no venv/ensurepip: apt-get install python3-venv"
      apt-get update -qq
      apt-get install -y -qq "python${py_minor}-venv" || apt-get install -y -qq python3-venv
    else
      die "python3 has no venv module: install python3-venv"
    fi
  fi
  say "creating .venv and installing requirements.txt"
  rm -rf .venv
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --require-virtualenv -r requirements.txt
  .venv/bin/python -c 'import web3, eth_account' || die ".venv cannot import web3 and eth_account"
  echo "$py_hash" >"$py_stamp"
fi

say "ready: $(node_modules/.bin/forge --version | head -1), $(grep '^web3==' requirements.txt)"
