// The ethers v6 flow: deploy KaiToken, transfer, read Transfer logs, catch the revert reason,
// and receive a newHeads event over WebSocket. Accounts 0-2 come from the dev mnemonic.
"use strict";

const assert = require("node:assert/strict");
const {
  Contract,
  ContractFactory,
  HDNodeWallet,
  Interface,
  JsonRpcProvider,
  zeroPadValue,
  ZeroAddress,
} = require("ethers");
const {
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
} = require("../lib/common");
const { awaitNewHead, openWebSocketProvider } = require("../lib/ethers-heads");

const FLOW = "ethers";

function devWallet(index, provider) {
  return HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`).connect(provider);
}

async function mined(tx, what) {
  const receipt = await tx.wait(1, WAIT_MS);
  assert.ok(receipt, `${what}: no receipt`);
  assert.equal(receipt.status, 1, `${what}: receipt status`);
  return receipt;
}

/**
 * Runs `call` expecting the KaiToken insufficient-balance revert and checks how ethers surfaces
 * it: CALL_EXCEPTION, the decoded reason, the decoded Error(string) revert, and (where ethers keeps
 * the raw JSON-RPC error, as it does for eth_estimateGas) error code 3.
 */
async function expectRevert(call, what, { rpcError }) {
  let value;
  try {
    value = await withTimeout(call(), WAIT_MS, what);
  } catch (err) {
    assert.equal(err.code, "CALL_EXCEPTION", `${what}: error code (${err.message})`);
    assert.equal(err.reason, INSUFFICIENT_BALANCE, `${what}: revert reason`);
    assert.ok(err.revert, `${what}: ethers decoded no revert from data ${err.data}`);
    assert.equal(err.revert.name, "Error", `${what}: revert kind`);
    assert.deepEqual([...err.revert.args], [INSUFFICIENT_BALANCE], `${what}: Error(string) argument`);
    if (rpcError) {
      const raw = err.info && err.info.error;
      assert.ok(raw, `${what}: ethers kept no JSON-RPC error object`);
      assert.equal(raw.code, 3, `${what}: JSON-RPC error code (${JSON.stringify(raw)})`);
      assert.equal(raw.data, err.data, `${what}: JSON-RPC error data`);
    }
    return err;
  }
  throw new assert.AssertionError({ message: `${what}: expected a revert, got ${value}` });
}

async function main() {
  const { rpc, ws } = urls();
  // ethers shares identical requests made within `cacheTimeout` (250 ms by default). A chain
  // that finalizes a deployment faster than that (kaimeng, anvil's automine) would hand the
  // next `getTransactionCount(owner, "pending")` the cached answer from before the deployment,
  // and ethers would sign the transfer with a used nonce. -1 turns the sharing off.
  const provider = new JsonRpcProvider(rpc, undefined, { pollingInterval: 250, cacheTimeout: -1 });
  const [owner, alice, bob] = [0, 1, 2].map((i) => devWallet(i, provider));
  const network = await withTimeout(provider.getNetwork(), WAIT_MS, "eth_chainId");
  step(FLOW, `connected to chain ${network.chainId}; accounts ${owner.address} ${alice.address} ${bob.address}`);

  // Deploy.
  const { abi, bytecode } = kaiToken();
  const factory = new ContractFactory(abi, bytecode, owner);
  const token = await factory.deploy(TOKEN.name, TOKEN.symbol, TOKEN.supply);
  const deployReceipt = await mined(token.deploymentTransaction(), "deployment");
  const address = await token.getAddress();
  assert.equal(deployReceipt.contractAddress, address, "receipt contractAddress");
  assert.notEqual(await provider.getCode(address), "0x", "deployed code is empty");
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

  // Transfer events through eth_getLogs, filtered by address and topic.
  const iface = new Interface(abi);
  const logs = await provider.getLogs({
    address,
    topics: [TRANSFER_TOPIC],
    fromBlock: deployReceipt.blockNumber,
    toBlock: transferReceipt.blockNumber,
  });
  const events = logs.map((log) => ({ log, parsed: iface.parseLog(log) }));
  assert.deepEqual(
    events.map(({ parsed }) => [parsed.name, parsed.args.from, parsed.args.to, parsed.args.value]),
    [
      ["Transfer", ZeroAddress, owner.address, TOKEN.supply],
      ["Transfer", owner.address, alice.address, TOKEN.transfer],
    ],
    "Transfer events",
  );
  assert.equal(events[1].log.transactionHash, transferReceipt.hash, "transfer log tx hash");
  const toAlice = await provider.getLogs({
    address,
    topics: [TRANSFER_TOPIC, null, zeroPadValue(alice.address, 32)],
    fromBlock: deployReceipt.blockNumber,
    toBlock: "latest",
  });
  assert.equal(toAlice.length, 1, "logs filtered by the indexed `to` topic");
  assert.equal(toAlice[0].transactionHash, transferReceipt.hash);
  step(FLOW, `eth_getLogs returned the mint and the transfer (${logs.length} logs)`);

  // Revert reason, from eth_call and from eth_estimateGas.
  const bobToken = new Contract(address, abi, bob);
  const bobNonce = await provider.getTransactionCount(bob.address);
  await expectRevert(() => bobToken.transfer.staticCall(owner.address, 1n), "eth_call revert", { rpcError: false });
  await expectRevert(() => bobToken.transfer.estimateGas(owner.address, 1n), "eth_estimateGas revert", { rpcError: true });
  await expectRevert(() => bobToken.transfer(owner.address, 1n), "send revert (estimate first)", { rpcError: true });
  assert.equal(await provider.getTransactionCount(bob.address), bobNonce, "a reverting send was broadcast");
  assert.equal(await token.balanceOf(bob.address), 0n);
  step(FLOW, `revert reason surfaced as "${INSUFFICIENT_BALANCE}"`);

  // newHeads over WebSocket, triggered by a transaction sent once the subscription is live.
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
  provider.destroy();
}

runFlow(FLOW, main);
