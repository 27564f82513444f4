// What every JavaScript flow shares: the node's URLs, the dev mnemonic, the KaiToken artifact,
// the expected revert reason and a bounded wait. Nothing here talks to a node by itself.
"use strict";

const fs = require("fs");
const path = require("path");

/** The mnemonic whose first accounts `kaimeng dev` (and anvil, Hardhat) prefund. */
const DEV_MNEMONIC = "test test test test test test test test test test test junk";

/** The reason string KaiToken reverts with when a sender has too few tokens. */
const INSUFFICIENT_BALANCE = "KaiToken: insufficient balance";

/** keccak256("Transfer(address,address,uint256)") */
const TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";

/** Token parameters every flow deploys with and checks. */
const TOKEN = {
  name: "Kai Token",
  symbol: "KAI",
  supply: 1_000_000n * 10n ** 18n,
  transfer: 1234n * 10n ** 15n,
};

/** Upper bound for any single wait on the node (receipt, subscription event). */
const WAIT_MS = Number(process.env.CLIENT_WAIT_MS || 30_000);

function requireEnv(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set (run through tests/clients/run.sh or export it)`);
  }
  return value;
}

function urls() {
  return { rpc: requireEnv("RPC_URL"), ws: requireEnv("WS_URL") };
}

/** The compiled KaiToken: { abi, bytecode } from tests/contracts/out/KaiToken.json. */
function kaiToken() {
  const file = path.join(__dirname, "..", "..", "contracts", "out", "KaiToken.json");
  const artifact = JSON.parse(fs.readFileSync(file, "utf8"));
  if (!Array.isArray(artifact.abi) || !/^0x[0-9a-fA-F]+$/.test(artifact.bytecode || "")) {
    throw new Error(`${file} has no abi or bytecode: run tests/contracts/compile.js`);
  }
  return artifact;
}

/** Resolves like `promise`, or rejects after `ms` with a message naming what was awaited. */
function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Whether the node at `rpc` is anvil (the reference for `run.sh --anvil`). The flows' checks
 * of methods anvil does not serve (debug_getRaw*, eth_getStorageValues, deployless calls in
 * eth_simulateV1) are skipped there, with a line saying so; against Kaimeng they always run.
 */
async function isAnvil(rpc) {
  const response = await fetch(rpc, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "web3_clientVersion", params: [] }),
    signal: AbortSignal.timeout(WAIT_MS),
  });
  const body = await response.json();
  return typeof body.result === "string" && body.result.toLowerCase().startsWith("anvil");
}

/** Runs a flow's main function, prints one summary line and sets the exit code. */
function runFlow(name, main) {
  const started = Date.now();
  main()
    .then(() => {
      console.log(`[${name}] all checks passed in ${Date.now() - started} ms`);
      process.exit(0);
    })
    .catch((err) => {
      console.error(`[${name}] FAILED: ${err && err.stack ? err.stack : err}`);
      process.exit(1);
    });
}

/** Prints a progress line for one check, prefixed by the flow's name. */
function step(name, message) {
  console.log(`[${name}] ${message}`);
}

module.exports = {
  isAnvil,
  DEV_MNEMONIC,
  INSUFFICIENT_BALANCE,
  TRANSFER_TOPIC,
  TOKEN,
  WAIT_MS,
  urls,
  kaiToken,
  withTimeout,
  runFlow,
  step,
};
