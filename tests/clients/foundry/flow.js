// The Foundry flow, driving the real `forge` and `cast` binaries: `forge build` (solc-js through
// solc-shim.js), `forge create` and `forge script --broadcast` deployments, `cast send` for a
// transfer, `cast call` for balances, `cast logs` for Transfer events, the revert reason as cast
// prints it, and a newHeads subscription triggered by `cast send` over the WebSocket URL.
"use strict";

const assert = require("node:assert/strict");
const { execFile } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");
const {
  DEV_MNEMONIC,
  INSUFFICIENT_BALANCE,
  TRANSFER_TOPIC,
  TOKEN,
  WAIT_MS,
  urls,
  runFlow,
  step,
  isAnvil,
} = require("../lib/common");
const { awaitNewHead } = require("../lib/newheads");

const FLOW = "foundry";
const PROJECT = __dirname;
const BIN = path.join(PROJECT, "..", "node_modules", ".bin");
const TRANSFER_EVENT = "Transfer(address indexed from,address indexed to,uint256 value)";
/** forge build compiles through solc-js; allow it more than one node wait. */
const BUILD_MS = Number(process.env.FORGE_BUILD_MS || 300_000);
/** forge create / script: a receipt wait (ETH_TIMEOUT) plus the artifact cache check. */
const DEPLOY_MS = 2 * WAIT_MS + 60_000;
/** Foundry's own receipt timeout, in seconds. */
const ETH_TIMEOUT = String(Math.ceil(WAIT_MS / 1000));

/** Runs a Foundry binary with a time limit; resolves { code, stdout, stderr }. */
function run(tool, args, timeoutMs = WAIT_MS) {
  return new Promise((resolve, reject) => {
    execFile(
      path.join(BIN, tool),
      args,
      { cwd: PROJECT, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: "1", ETH_TIMEOUT } },
      (err, stdout, stderr) => {
        if (err && err.killed) return reject(new Error(`${tool} ${args.join(" ")}: killed after ${timeoutMs} ms`));
        if (err && typeof err.code !== "number") return reject(err);
        resolve({ code: err ? err.code : 0, stdout, stderr });
      },
    );
  });
}

/** Runs a Foundry binary that must succeed; returns its stdout. */
async function ok(tool, args, timeoutMs) {
  const { code, stdout, stderr } = await run(tool, args, timeoutMs);
  if (code !== 0) throw new Error(`${tool} ${args.join(" ")} exited ${code}:\n${stderr}${stdout}`);
  return stdout;
}

/** The JSON value printed by `cast ... --json` (the last JSON document on stdout). */
function json(stdout) {
  const text = stdout.trim();
  try {
    return JSON.parse(text);
  } catch {
    const lines = text.split("\n").filter((l) => l.trim().startsWith("{") || l.trim().startsWith("["));
    return JSON.parse(lines[lines.length - 1]);
  }
}

/** `cast call` of a view function; returns its single decoded output as a string
 * (cast's JSON prints small integers as numbers and uint256 as strings). */
async function call(rpc, to, signature, ...args) {
  const [value] = json(await ok("cast", ["call", "--json", "--rpc-url", rpc, to, signature, ...args]));
  return String(value);
}

/**
 * Checks the revert as cast prints it: `error code 3: execution reverted: <reason>, data: "0x..."`,
 * and the reason decoded from that data with `cast calldata-decode "Error(string)"`.
 */
async function expectRevert(tool, args, what) {
  const { code, stdout, stderr } = await run(tool, args);
  assert.notEqual(code, 0, `${what}: expected a revert, got: ${stdout}`);
  const match = /error code (-?\d+): (.*?), data: "(0x[0-9a-fA-F]*)"/.exec(stderr);
  assert.ok(match, `${what}: cast printed no JSON-RPC error with data:\n${stderr}`);
  const [, rpcCode, message, data] = match;
  assert.equal(Number(rpcCode), 3, `${what}: JSON-RPC error code`);
  assert.equal(message, `execution reverted: ${INSUFFICIENT_BALANCE}`, `${what}: error message`);
  const [reason] = json(await ok("cast", ["calldata-decode", "--json", "Error(string)", data]));
  assert.equal(reason, INSUFFICIENT_BALANCE, `${what}: reason decoded from the revert data`);
}

function topicOf(address) {
  return "0x" + address.toLowerCase().replace(/^0x/, "").padStart(64, "0");
}

async function main() {
  const { rpc, ws } = urls();
  const keys = [];
  const addresses = [];
  for (const index of [0, 1, 2]) {
    keys.push((await ok("cast", ["wallet", "private-key", DEV_MNEMONIC, String(index)])).trim());
    addresses.push(
      (await ok("cast", ["wallet", "address", "--mnemonic", DEV_MNEMONIC, "--mnemonic-index", String(index)])).trim(),
    );
  }
  const [owner, alice, bob] = addresses;
  const chainId = (await ok("cast", ["chain-id", "--rpc-url", rpc])).trim();
  step(FLOW, `connected to chain ${chainId}; accounts ${owner} ${alice} ${bob}`);

  // Compile with forge (solc-js behind solc-shim.js) before any deployment.
  await ok("forge", ["build"], BUILD_MS);

  // Deployment 1: forge create.
  const created = json(
    await ok(
      "forge",
      ["create", "--json", "--broadcast", "--rpc-url", rpc, "--private-key", keys[0], "KaiToken",
        "--constructor-args", TOKEN.name, TOKEN.symbol, TOKEN.supply.toString()],
      DEPLOY_MS,
    ),
  );
  assert.equal(created.deployer, owner, "forge create deployer");
  const token = created.deployedTo;
  assert.match(token, /^0x[0-9a-fA-F]{40}$/, "forge create address");
  const createReceipt = json(await ok("cast", ["receipt", "--json", "--rpc-url", rpc, created.transactionHash]));
  assert.equal(createReceipt.status, "0x1", "forge create receipt status");
  assert.equal(createReceipt.contractAddress.toLowerCase(), token.toLowerCase(), "receipt contractAddress");
  assert.equal(await call(rpc, token, "name()(string)"), TOKEN.name);
  assert.equal(await call(rpc, token, "symbol()(string)"), TOKEN.symbol);
  assert.equal(await call(rpc, token, "decimals()(uint8)"), "18");
  assert.equal(await call(rpc, token, "totalSupply()(uint256)"), TOKEN.supply.toString());
  step(FLOW, `forge create deployed KaiToken at ${token} in block ${BigInt(createReceipt.blockNumber)}`);

  // Deployment 2: forge script --broadcast.
  const scriptOut = await ok(
    "forge",
    ["script", "script/DeployKaiToken.s.sol:DeployKaiToken", "--rpc-url", rpc, "--private-key", keys[0],
      "--broadcast", "--slow", "--json"],
    DEPLOY_MS,
  );
  const broadcastFile = path.join(PROJECT, "broadcast", "DeployKaiToken.s.sol", chainId, "run-latest.json");
  const broadcast = JSON.parse(fs.readFileSync(broadcastFile, "utf8"));
  assert.equal(broadcast.transactions.length, 1, `one broadcast transaction in ${broadcastFile}`);
  assert.equal(broadcast.receipts.length, 1, "one broadcast receipt");
  const scripted = broadcast.transactions[0].contractAddress;
  assert.equal(broadcast.transactions[0].contractName, "KaiToken");
  assert.equal(BigInt(broadcast.receipts[0].status), 1n, "forge script receipt status");
  assert.match(scriptOut, new RegExp(scripted.slice(2), "i"), "forge script output names the deployed address");
  assert.notEqual(scripted.toLowerCase(), token.toLowerCase(), "both deployments returned the same address");
  assert.equal(await call(rpc, scripted, "totalSupply()(uint256)"), TOKEN.supply.toString());
  assert.equal(await call(rpc, scripted, "balanceOf(address)(uint256)", owner), TOKEN.supply.toString());
  step(FLOW, `forge script --broadcast deployed KaiToken at ${scripted}`);

  // Transfer with cast send; exact balances with cast call.
  assert.equal(await call(rpc, token, "balanceOf(address)(uint256)", alice), "0", "alice before transfer");
  const sent = json(
    await ok("cast", ["send", "--json", "--rpc-url", rpc, "--private-key", keys[0], token,
      "transfer(address,uint256)", alice, TOKEN.transfer.toString()]),
  );
  assert.equal(sent.status, "0x1", "cast send receipt status");
  assert.equal(
    await call(rpc, token, "balanceOf(address)(uint256)", owner),
    (TOKEN.supply - TOKEN.transfer).toString(),
    "owner after transfer",
  );
  assert.equal(await call(rpc, token, "balanceOf(address)(uint256)", alice), TOKEN.transfer.toString(), "alice after transfer");
  step(FLOW, `cast send transferred ${TOKEN.transfer} to ${alice} in block ${BigInt(sent.blockNumber)}`);

  // Transfer events with cast logs (eth_getLogs by address and topic).
  const logs = json(
    await ok("cast", ["logs", "--json", "--rpc-url", rpc, "--address", token,
      "--from-block", BigInt(createReceipt.blockNumber).toString(), "--to-block", BigInt(sent.blockNumber).toString(),
      TRANSFER_EVENT]),
  );
  const zero = "0x" + "0".repeat(40);
  assert.deepEqual(
    logs.map((l) => [l.topics[0], l.topics[1], l.topics[2], BigInt(l.data)]),
    [
      [TRANSFER_TOPIC, topicOf(zero), topicOf(owner), TOKEN.supply],
      [TRANSFER_TOPIC, topicOf(owner), topicOf(alice), TOKEN.transfer],
    ],
    "Transfer logs",
  );
  assert.equal(logs[1].transactionHash, sent.transactionHash, "transfer log tx hash");
  const toAlice = json(
    await ok("cast", ["logs", "--json", "--rpc-url", rpc, "--address", token,
      "--from-block", BigInt(createReceipt.blockNumber).toString(), "--to-block", "latest", TRANSFER_EVENT, "", alice]),
  );
  assert.equal(toAlice.length, 1, "logs filtered by the indexed `to` topic");
  assert.equal(toAlice[0].transactionHash, sent.transactionHash);
  step(FLOW, `cast logs returned the mint and the transfer (${logs.length} logs)`);

  // Revert reason through cast call (eth_call), cast estimate and cast send (eth_estimateGas).
  const bobNonce = (await ok("cast", ["nonce", "--rpc-url", rpc, bob])).trim();
  const bobTransfer = [token, "transfer(address,uint256)", owner, "1"];
  await expectRevert("cast", ["call", "--rpc-url", rpc, "--from", bob, ...bobTransfer], "cast call revert");
  await expectRevert("cast", ["estimate", "--rpc-url", rpc, "--from", bob, ...bobTransfer], "cast estimate revert");
  await expectRevert("cast", ["send", "--rpc-url", rpc, "--private-key", keys[2], ...bobTransfer], "cast send revert");
  assert.equal((await ok("cast", ["nonce", "--rpc-url", rpc, bob])).trim(), bobNonce, "a reverting send was broadcast");
  assert.equal(await call(rpc, token, "balanceOf(address)(uint256)", bob), "0");
  step(FLOW, `revert reason surfaced as "${INSUFFICIENT_BALANCE}"`);

  // cast access-list (eth_createAccessList): the token's slots a transfer touches, and the gas.
  const accessList = json(
    await ok("cast", ["access-list", "--json", "--rpc-url", rpc, "--from", owner, token,
      "transfer(address,uint256)", alice, "1"]),
  );
  const entries = accessList.access_list || accessList.accessList;
  assert.ok(Array.isArray(entries), `cast access-list --json: ${JSON.stringify(accessList)}`);
  const tokenEntry = entries.find((e) => e.address.toLowerCase() === token.toLowerCase());
  assert.ok(tokenEntry, `no access list entry for the token: ${JSON.stringify(entries)}`);
  const keys_ = tokenEntry.storageKeys || tokenEntry.storage_keys;
  assert.ok(keys_.length >= 2, "both balances' slots are listed");
  assert.ok(BigInt(accessList.gas_used ?? accessList.gasUsed) > 21000n, "gas used with the access list");
  step(FLOW, `cast access-list listed ${keys_.length} token slots`);

  // cast rpc debug_getRawHeader / debug_getRawBlock: the header hashes to the block hash, and
  // the block's RLP starts with it.
  if (await isAnvil(rpc)) {
    step(FLOW, "skipped cast rpc debug_getRawHeader/debug_getRawBlock: anvil does not serve them");
  } else {
    const sentBlock = "0x" + BigInt(sent.blockNumber).toString(16);
    const rawHeader = JSON.parse(await ok("cast", ["rpc", "--rpc-url", rpc, "debug_getRawHeader", sentBlock]));
    const headerHash = (await ok("cast", ["keccak", rawHeader])).trim();
    const blockHash = (await ok("cast", ["block", "--rpc-url", rpc, BigInt(sent.blockNumber).toString(), "--field", "hash"])).trim();
    assert.equal(headerHash, blockHash, "keccak256(debug_getRawHeader) is the block hash");
    const rawBlock = JSON.parse(await ok("cast", ["rpc", "--rpc-url", rpc, "debug_getRawBlock", sentBlock]));
    const decoded = JSON.parse((await ok("cast", ["from-rlp", rawBlock])).trim());
    assert.equal(decoded.length, 4, "[header, transactions, ommers, withdrawals]");
    const headerRlp = (await ok("cast", ["to-rlp", JSON.stringify(decoded[0])])).trim();
    assert.equal(headerRlp, rawHeader, "the raw block starts with the raw header");
    step(FLOW, `cast rpc debug_getRawHeader/debug_getRawBlock agree with block ${BigInt(sent.blockNumber)}`);
  }

  // newHeads over WebSocket (cast has no newHeads subscription), triggered by cast send over WS.
  const { before, head } = await awaitNewHead(
    ws,
    async () => {
      const trigger = json(
        await ok("cast", ["send", "--json", "--rpc-url", ws, "--private-key", keys[1], "--value", "1", bob]),
      );
      assert.equal(trigger.status, "0x1", "trigger tx status");
    },
    WAIT_MS,
  );
  assert.ok(BigInt(head.number) > before, `newHeads block ${head.number} is not above ${before}`);
  step(FLOW, `newHeads delivered block ${BigInt(head.number)} (was ${before})`);
}

runFlow(FLOW, main);
