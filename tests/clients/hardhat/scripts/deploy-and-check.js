// The Hardhat 2 flow, run as `npx hardhat run --network kaimeng scripts/deploy-and-check.js`:
// deploy the KaiToken that Hardhat compiled, transfer, query Transfer events, catch the revert
// reason, and receive a newHeads event over WebSocket (WS_URL).
"use strict";

const assert = require("node:assert/strict");
const hre = require("hardhat");
const {
  INSUFFICIENT_BALANCE,
  TOKEN,
  WAIT_MS,
  urls,
  withTimeout,
  runFlow,
  step,
} = require("../../lib/common");
const { awaitNewHead, openWebSocketProvider } = require("../../lib/ethers-heads");

const FLOW = "hardhat";
const { ethers } = hre;

async function mined(tx, what) {
  const receipt = await withTimeout(tx.wait(), WAIT_MS, `${what} receipt`);
  assert.ok(receipt, `${what}: no receipt`);
  assert.equal(receipt.status, 1, `${what}: receipt status`);
  return receipt;
}

/**
 * Runs `call` expecting the insufficient-balance revert as Hardhat surfaces it over an HTTP
 * network: a ProviderError carrying the node's JSON-RPC error (code 3, message, revert data),
 * whose data the contract's interface decodes to Error(string).
 */
async function expectRevert(token, call, what) {
  let value;
  try {
    value = await withTimeout(call(), WAIT_MS, what);
  } catch (err) {
    assert.equal(err.name, "ProviderError", `${what}: error kind (${err.stack})`);
    assert.equal(err.code, 3, `${what}: JSON-RPC error code`);
    assert.equal(err.message, `execution reverted: ${INSUFFICIENT_BALANCE}`, `${what}: error message`);
    const decoded = token.interface.parseError(err.data);
    assert.ok(decoded, `${what}: revert data ${err.data} does not decode`);
    assert.equal(decoded.name, "Error", `${what}: revert kind`);
    assert.deepEqual([...decoded.args], [INSUFFICIENT_BALANCE], `${what}: Error(string) argument`);
    return err;
  }
  throw new assert.AssertionError({ message: `${what}: expected a revert, got ${value}` });
}

async function main() {
  const { ws } = urls();
  assert.equal(hre.network.name, "kaimeng", "run with --network kaimeng");
  const [owner, alice, bob] = await ethers.getSigners();
  assert.ok(bob, "the kaimeng network config must derive three accounts");
  const { chainId } = await withTimeout(ethers.provider.getNetwork(), WAIT_MS, "eth_chainId");
  step(FLOW, `connected to chain ${chainId}; accounts ${owner.address} ${alice.address} ${bob.address}`);

  // Deploy the artifact Hardhat compiled from tests/contracts/KaiToken.sol.
  const token = await ethers.deployContract("KaiToken", [TOKEN.name, TOKEN.symbol, TOKEN.supply]);
  const deployReceipt = await mined(token.deploymentTransaction(), "deployment");
  const address = await token.getAddress();
  assert.equal(deployReceipt.contractAddress, address, "receipt contractAddress");
  assert.equal(await token.name(), TOKEN.name);
  assert.equal(await token.symbol(), TOKEN.symbol);
  assert.equal(await token.decimals(), 18n);
  assert.equal(await token.totalSupply(), TOKEN.supply);
  assert.equal(await token.balanceOf(owner.address), TOKEN.supply);
  step(FLOW, `deployed KaiToken at ${address} in block ${deployReceipt.blockNumber}`);

  // Transfer and exact balances on both sides.
  assert.equal(await token.balanceOf(alice.address), 0n, "alice starts with no tokens");
  const transferReceipt = await mined(await token.transfer(alice.address, TOKEN.transfer), "transfer");
  assert.equal(await token.balanceOf(owner.address), TOKEN.supply - TOKEN.transfer, "owner after transfer");
  assert.equal(await token.balanceOf(alice.address), TOKEN.transfer, "alice after transfer");
  step(FLOW, `transferred ${TOKEN.transfer} to ${alice.address} in block ${transferReceipt.blockNumber}`);

  // Transfer events: queryFilter sends eth_getLogs with the address and the Transfer topic.
  const events = await token.queryFilter(
    token.filters.Transfer(),
    deployReceipt.blockNumber,
    transferReceipt.blockNumber,
  );
  assert.deepEqual(
    events.map((e) => [e.fragment.name, e.args.from, e.args.to, e.args.value]),
    [
      ["Transfer", ethers.ZeroAddress, owner.address, TOKEN.supply],
      ["Transfer", owner.address, alice.address, TOKEN.transfer],
    ],
    "Transfer events",
  );
  assert.equal(events[1].transactionHash, transferReceipt.hash, "transfer log tx hash");
  const toAlice = await token.queryFilter(token.filters.Transfer(null, alice.address), deployReceipt.blockNumber);
  assert.equal(toAlice.length, 1, "events filtered by the indexed `to` topic");
  assert.equal(toAlice[0].transactionHash, transferReceipt.hash);
  step(FLOW, `eth_getLogs returned the mint and the transfer (${events.length} logs)`);

  // Revert reason, from eth_call and from eth_estimateGas.
  const bobToken = token.connect(bob);
  const bobNonce = await ethers.provider.getTransactionCount(bob.address);
  await expectRevert(token, () => bobToken.transfer.staticCall(owner.address, 1n), "eth_call revert");
  await expectRevert(token, () => bobToken.transfer.estimateGas(owner.address, 1n), "eth_estimateGas revert");
  await expectRevert(token, () => bobToken.transfer(owner.address, 1n), "send revert (estimate first)");
  assert.equal(await ethers.provider.getTransactionCount(bob.address), bobNonce, "a reverting send was broadcast");
  assert.equal(await token.balanceOf(bob.address), 0n);
  step(FLOW, `revert reason surfaced as "${INSUFFICIENT_BALANCE}"`);

  // newHeads over WebSocket; Hardhat's own provider is HTTP, so the script opens ethers' one.
  const wsProvider = await openWebSocketProvider(ws, WAIT_MS);
  try {
    const { before, head } = await awaitNewHead(
      wsProvider,
      async () => mined(await alice.sendTransaction({ to: bob.address, value: 1n }), "trigger tx"),
      WAIT_MS,
    );
    assert.ok(head > before, `newHeads block ${head} is not above ${before}`);
    step(FLOW, `newHeads delivered block ${head} (was ${before})`);
  } finally {
    await wsProvider.destroy();
  }
}

runFlow(FLOW, main);
