// Puts the data the explorer's browser test looks at onto a running node (RPC_URL), through
// ethers v6 from tests/clients/node_modules, and writes what it made to the JSON file SEED_OUT:
//   - KaiToken deployed with name and symbol `<script>alert(1)</script>`, and transfers of it
//     to two addresses;
//   - HtmlNote (tests/explorer/HtmlNote.sol, compiled here with solc-js) deployed, one `note`
//     call whose Note event carries `<img src=x onerror=alert(2)>`, and one `fail` call that
//     reverts with a reason string full of markup (sent with an explicit gas limit, so no
//     eth_estimateGas refuses it first);
//   - a plain ETH transfer.
// Every wait on the node is bounded by CLIENT_WAIT_MS (default 30000).
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const clients = path.join(here, "..", "clients");
const require = createRequire(path.join(clients, "package.json"));
const { ContractFactory, HDNodeWallet, JsonRpcProvider, parseEther } = require("ethers");
const solc = require("solc");
const { DEV_MNEMONIC, WAIT_MS, kaiToken, withTimeout } = require(path.join(clients, "lib", "common.js"));

const EVIL_TOKEN = "<script>alert(1)</script>";
const EVIL_NOTE = "<img src=x onerror=alert(2)>";
const EVIL_REASON = "HtmlNote: <b>refused</b> & <svg onload=alert(3)>";

function say(message) {
  console.log(`[seed] ${message}`);
}

function fail(message) {
  console.error(`[seed] FAILED: ${message}`);
  process.exit(1);
}

/** Compiles HtmlNote.sol with solc-js (the same settings as tests/contracts/compile.js). */
function compileHtmlNote() {
  const file = "HtmlNote.sol";
  const input = {
    language: "Solidity",
    sources: { [file]: { content: fs.readFileSync(path.join(here, file), "utf8") } },
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: "cancun",
      outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  if (errors.length) fail(`solc: ${errors.map((e) => e.formattedMessage).join("\n")}`);
  const contract = output.contracts[file].HtmlNote;
  return { abi: contract.abi, bytecode: "0x" + contract.evm.bytecode.object };
}

function devWallet(index, provider) {
  return HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`).connect(provider);
}

async function receiptOf(hash, what, wantStatus) {
  const receipt = await withTimeout(provider.waitForTransaction(hash, 1, WAIT_MS), WAIT_MS + 1000, what);
  if (!receipt) fail(`${what}: no receipt for ${hash} within ${WAIT_MS} ms`);
  if (receipt.status !== wantStatus) fail(`${what}: receipt status ${receipt.status}, expected ${wantStatus}`);
  return receipt;
}

const rpc = process.env.RPC_URL;
const out = process.env.SEED_OUT;
if (!rpc) fail("RPC_URL is not set (run under tests/with-dev-node.sh)");
if (!out) fail("SEED_OUT is not set (the JSON file to write)");

// cacheTimeout -1: see tests/clients/ethers/flow.js (a fast chain and ethers' request sharing
// would otherwise hand out a stale pending nonce).
const provider = new JsonRpcProvider(rpc, undefined, { pollingInterval: 250, cacheTimeout: -1 });
const owner = devWallet(0, provider);
const recipients = [devWallet(5, provider).address, devWallet(6, provider).address];
const network = await withTimeout(provider.getNetwork(), WAIT_MS, "eth_chainId");
say(`chain ${network.chainId}, owner ${owner.address}, recipients ${recipients.join(" ")}`);

// The ERC-20 with markup for a name and symbol.
const kai = kaiToken();
const supply = 1_000_000n * 10n ** 18n;
const token = await new ContractFactory(kai.abi, kai.bytecode, owner).deploy(EVIL_TOKEN, EVIL_TOKEN, supply);
const tokenDeploy = await receiptOf(token.deploymentTransaction().hash, "token deployment", 1);
const tokenAddress = await token.getAddress();
say(`token ${tokenAddress} deployed in block ${tokenDeploy.blockNumber}`);
const transfers = [];
for (const [i, to] of recipients.entries()) {
  const amount = BigInt(i + 1) * 1000n * 10n ** 18n;
  const tx = await token.transfer(to, amount);
  const receipt = await receiptOf(tx.hash, `token transfer to ${to}`, 1);
  transfers.push({ hash: tx.hash, to, amount: amount.toString(), blockNumber: receipt.blockNumber });
  say(`transferred ${amount} to ${to} in ${tx.hash}`);
}

// The contract that logs markup and reverts with it.
const htmlNote = compileHtmlNote();
const noteContract = await new ContractFactory(htmlNote.abi, htmlNote.bytecode, owner).deploy();
const noteDeploy = await receiptOf(noteContract.deploymentTransaction().hash, "HtmlNote deployment", 1);
const noteAddress = await noteContract.getAddress();
const noteTx = await noteContract.note(EVIL_NOTE);
const noteReceipt = await receiptOf(noteTx.hash, "note()", 1);
if (noteReceipt.logs.length !== 1) fail(`note(): ${noteReceipt.logs.length} logs, expected 1`);
say(`HtmlNote ${noteAddress} (block ${noteDeploy.blockNumber}) logged markup in ${noteTx.hash}`);

// A plain ETH transfer; its nonce makes the `address:nonce` search.
const ethNonce = await provider.getTransactionCount(owner.address, "pending");
const ethTx = await owner.sendTransaction({ to: recipients[0], value: parseEther("1.5"), nonce: ethNonce });
const ethReceipt = await receiptOf(ethTx.hash, "ETH transfer", 1);
const ethBlock = await provider.getBlock(ethReceipt.blockNumber);
say(`sent 1.5 ETH to ${recipients[0]} in ${ethTx.hash} (nonce ${ethNonce}, block ${ethReceipt.blockNumber})`);

// A transaction that reverts on chain, with a reason.
const revertTx = await noteContract.fail({ gasLimit: 200_000n });
const revertReceipt = await receiptOf(revertTx.hash, "fail()", 0);
say(`fail() reverted on chain in ${revertTx.hash} (block ${revertReceipt.blockNumber})`);

const seed = {
  chainId: network.chainId.toString(),
  owner: owner.address,
  recipients,
  token: {
    address: tokenAddress,
    name: EVIL_TOKEN,
    symbol: EVIL_TOKEN,
    deployTx: tokenDeploy.hash,
    deployBlock: tokenDeploy.blockNumber,
    transfers,
  },
  note: {
    address: noteAddress,
    deployTx: noteDeploy.hash,
    tx: noteTx.hash,
    blockNumber: noteReceipt.blockNumber,
    text: EVIL_NOTE,
    data: noteReceipt.logs[0].data,
    abi: htmlNote.abi,
  },
  eth: {
    hash: ethTx.hash,
    from: owner.address,
    to: recipients[0],
    nonce: ethNonce,
    blockNumber: ethReceipt.blockNumber,
    blockHash: ethBlock.hash,
  },
  revert: {
    hash: revertTx.hash,
    from: owner.address,
    reason: EVIL_REASON,
    blockNumber: revertReceipt.blockNumber,
  },
  latestBlock: await provider.getBlockNumber(),
};
fs.writeFileSync(out, JSON.stringify(seed, null, 2) + "\n");
say(`wrote ${out}`);
provider.destroy();
