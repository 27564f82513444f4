// The tracing flow: what an indexer such as Blockscout asks a node for to find internal
// transactions. viem deploys tests/contracts/CallTree.sol and sends `run(7)` with 5 wei (one
// transaction that CREATEs a leaf, CALLs it with value, DELEGATECALLs it and catches its
// revert), then reads the call tree through viem's `request` with debug_traceTransaction,
// debug_traceBlockByNumber, debug_traceBlockByHash and debug_traceCall (callTracer), and the
// prestateTracer in diff mode; `cast rpc debug_traceBlockByNumber` must give the same block trace.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  createPublicClient,
  createWalletClient,
  defineChain,
  encodeFunctionData,
  getContractAddress,
  http,
  numberToHex,
  toFunctionSelector,
} from "viem";
import { mnemonicToAccount } from "viem/accounts";

const require = createRequire(import.meta.url);
const { DEV_MNEMONIC, WAIT_MS, urls, withTimeout, runFlow, step } = require("../lib/common.js");

const FLOW = "tracing";
const here = path.dirname(fileURLToPath(import.meta.url));
const artifact = (name) =>
  JSON.parse(fs.readFileSync(path.join(here, "..", "..", "contracts", "out", `${name}.json`), "utf8"));
const CAST = path.join(here, "..", "node_modules", ".bin", "cast");

/** `cast rpc METHOD PARAMS...` (raw JSON params); resolves the parsed result. */
function castRpc(rpc, method, ...params) {
  return new Promise((resolve, reject) => {
    execFile(
      CAST,
      ["rpc", "--rpc-url", rpc, "--raw", method, JSON.stringify(params)],
      { timeout: WAIT_MS, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: "1" } },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`cast rpc ${method} failed: ${err.message}\n${stderr}${stdout}`));
        resolve(JSON.parse(stdout));
      },
    );
  });
}

const lower = (a) => a.toLowerCase();

/**
 * The call tree of `run(7)` with 5 wei sent by `from` to `tree`, creating `leaf`, as an indexer
 * reads it: every internal transaction's type, from, to, value, input and error.
 */
function checkRunTree(frame, { from, tree, leaf, what }) {
  const { abi: treeAbi } = artifact("CallTree");
  const { abi: leafAbi, bytecode: leafInit, deployedBytecode: leafCode } = artifact("CallLeaf");
  assert.equal(frame.type, "CALL", `${what}: top frame type`);
  assert.equal(lower(frame.from), lower(from), `${what}: top frame from`);
  assert.equal(lower(frame.to), lower(tree), `${what}: top frame to`);
  assert.equal(BigInt(frame.value), 5n, `${what}: top frame value`);
  assert.equal(frame.input, encodeFunctionData({ abi: treeAbi, functionName: "run", args: [7n] }), `${what}: input`);
  assert.equal(frame.error, undefined, `${what}: the transaction succeeded`);
  const calls = frame.calls || [];
  assert.equal(calls.length, 4, `${what}: internal calls: ${JSON.stringify(calls, null, 1)}`);
  const [create, call, delegate, reverted] = calls;

  assert.equal(create.type, "CREATE", `${what}: first internal call`);
  assert.equal(lower(create.from), lower(tree));
  assert.equal(lower(create.to), lower(leaf), `${what}: the created address`);
  assert.equal(create.input, leafInit, `${what}: CREATE input is the leaf's init code`);
  assert.equal(create.output, leafCode, `${what}: CREATE output is the leaf's code`);

  assert.equal(call.type, "CALL", `${what}: second internal call`);
  assert.equal(lower(call.from), lower(tree));
  assert.equal(lower(call.to), lower(leaf));
  assert.equal(BigInt(call.value), 5n, `${what}: the CALL carries the 5 wei`);
  assert.equal(call.input, encodeFunctionData({ abi: leafAbi, functionName: "set", args: [7n] }));

  assert.equal(delegate.type, "DELEGATECALL", `${what}: third internal call`);
  assert.equal(lower(delegate.from), lower(tree));
  assert.equal(lower(delegate.to), lower(leaf));
  assert.equal(delegate.input, encodeFunctionData({ abi: leafAbi, functionName: "set", args: [8n] }));

  assert.equal(reverted.type, "CALL", `${what}: fourth internal call`);
  assert.equal(reverted.input, toFunctionSelector("fail()"));
  assert.equal(reverted.error, "execution reverted", `${what}: the reverted call's error`);
  assert.equal(reverted.revertReason, "CallLeaf: refused", `${what}: the revert reason`);
}

async function main() {
  const { rpc } = urls();
  const probe = createPublicClient({ transport: http(rpc) });
  const chainId = await withTimeout(probe.getChainId(), WAIT_MS, "eth_chainId");
  const chain = defineChain({
    id: chainId,
    name: "node under test",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpc] } },
  });
  const client = createPublicClient({ chain, transport: http(rpc), pollingInterval: 250 });
  const owner = mnemonicToAccount(DEV_MNEMONIC, { addressIndex: 0 });
  const wallet = createWalletClient({ account: owner, chain, transport: http(rpc) });
  const mined = async (hash, what) => {
    const receipt = await client.waitForTransactionReceipt({ hash, timeout: WAIT_MS });
    assert.equal(receipt.status, "success", `${what}: receipt status`);
    return receipt;
  };
  const trace = (method, ...params) => withTimeout(client.request({ method, params }), WAIT_MS, method);

  const { abi, bytecode } = artifact("CallTree");
  const tree = (await mined(await wallet.deployContract({ abi, bytecode }), "CallTree deployment")).contractAddress;
  step(FLOW, `CallTree at ${tree}`);
  const leaf = getContractAddress({ from: tree, nonce: 1n });
  const hash = await wallet.writeContract({ address: tree, abi, functionName: "run", args: [7n], value: 5n, gas: 1_000_000n });
  const receipt = await mined(hash, "run(7)");
  step(FLOW, `run(7) in block ${receipt.blockNumber}`);

  const callTracer = { tracer: "callTracer" };
  const frame = await trace("debug_traceTransaction", hash, callTracer);
  checkRunTree(frame, { from: owner.address, tree, leaf, what: "debug_traceTransaction" });
  assert.equal(BigInt(frame.gasUsed), receipt.gasUsed, "the trace's gas is the receipt's");
  step(FLOW, "debug_traceTransaction: CREATE, CALL with value, DELEGATECALL and the caught revert");

  const byNumber = await trace("debug_traceBlockByNumber", numberToHex(receipt.blockNumber), callTracer);
  const entry = byNumber.find((t) => lower(t.txHash) === lower(hash));
  assert.ok(entry, `debug_traceBlockByNumber lists the transaction: ${JSON.stringify(byNumber)}`);
  assert.deepEqual(entry.result, frame, "the block trace's entry is the transaction's trace");
  const byHash = await trace("debug_traceBlockByHash", receipt.blockHash, callTracer);
  assert.deepEqual(byHash, byNumber, "by hash and by number agree");
  const fromCast = await castRpc(rpc, "debug_traceBlockByNumber", numberToHex(receipt.blockNumber), callTracer);
  assert.deepEqual(fromCast, byNumber, "cast rpc gets the same block trace");
  step(FLOW, `debug_traceBlockByNumber/ByHash (viem and cast rpc): ${byNumber.length} transaction(s)`);

  const diff = await trace("debug_traceTransaction", hash, { tracer: "prestateTracer", tracerConfig: { diffMode: true } });
  const postLeaf = diff.post[lower(leaf)] || diff.post[leaf];
  assert.ok(postLeaf, `prestateTracer diffMode: the created leaf is in post: ${JSON.stringify(diff)}`);
  assert.equal(BigInt(postLeaf.balance), 5n, "the leaf holds the 5 wei");
  assert.equal(diff.pre[lower(leaf)], undefined, "the leaf did not exist before");
  step(FLOW, "prestateTracer diffMode: the created leaf with its 5 wei");

  // A call on the latest state: the tree's next leaf is at nonce 2.
  const simulated = await trace(
    "debug_traceCall",
    {
      from: owner.address,
      to: tree,
      value: numberToHex(5n),
      data: encodeFunctionData({ abi, functionName: "run", args: [7n] }),
    },
    "latest",
    callTracer,
  );
  checkRunTree(simulated, {
    from: owner.address,
    tree,
    leaf: getContractAddress({ from: tree, nonce: 2n }),
    what: "debug_traceCall",
  });
  step(FLOW, "debug_traceCall: the same call tree on the latest state");
}

runFlow(FLOW, main);
