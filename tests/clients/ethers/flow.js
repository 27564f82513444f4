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
  Transaction,
  decodeRlp,
  encodeRlp,
  keccak256,
  toBeHex,
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
  isAnvil,
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

  // debug_getRaw* through provider.send: the consensus encodings of what the node served.
  if (await isAnvil(rpc)) {
    step(FLOW, "skipped debug_getRaw*, eth_getStorageValues and txpool_contentFrom: anvil does not serve them");
  } else {
    const transferBlock = await provider.getBlock(transferReceipt.blockNumber);
    const blockTag = toBeHex(transferReceipt.blockNumber);
    const rawHeader = await provider.send("debug_getRawHeader", [blockTag]);
    assert.equal(keccak256(rawHeader), transferBlock.hash, "keccak256(debug_getRawHeader) is the block hash");
    const rawBlock = await provider.send("debug_getRawBlock", [blockTag]);
    const [header, txs, ommers] = decodeRlp(rawBlock);
    assert.equal(encodeRlp(header), rawHeader, "the raw block starts with the raw header");
    assert.deepEqual(ommers, [], "no ommers");
    assert.equal(txs.length, transferBlock.transactions.length, "transactions in the raw block");
    const rawTx = await provider.send("debug_getRawTransaction", [transferReceipt.hash]);
    const decoded = Transaction.from(rawTx);
    assert.equal(decoded.hash, transferReceipt.hash, "debug_getRawTransaction decodes to the transaction");
    assert.equal(decoded.from, owner.address, "the raw transaction's signer");
    // A typed (EIP-2718) transaction sits in the block's RLP as a byte string of the same bytes.
    assert.ok(txs.includes(rawTx), "the raw transaction is in the raw block");
    const rawReceipts = await provider.send("debug_getRawReceipts", [blockTag]);
    assert.equal(rawReceipts.length, transferBlock.transactions.length, "one raw receipt per transaction");
    const index = transferBlock.transactions.indexOf(transferReceipt.hash);
    const [status, cumulative, , receiptLogs] = decodeRlp("0x" + rawReceipts[index].slice(4));
    assert.equal(rawReceipts[index].slice(0, 4), "0x02", "an EIP-1559 receipt is typed");
    assert.equal(BigInt(status), 1n, "raw receipt status");
    assert.equal(BigInt(cumulative), transferReceipt.cumulativeGasUsed, "raw receipt cumulative gas");
    assert.equal(receiptLogs.length, transferReceipt.logs.length, "raw receipt logs");
    step(FLOW, `debug_getRawHeader/Block/Transaction/Receipts agree with block ${transferReceipt.blockNumber}`);

    // eth_getStorageValues agrees with eth_getStorageAt, slot by slot.
    const slots = [0, 1, 2, 3, 4].map((i) => zeroPadValue(toBeHex(i), 32));
    const values = await provider.send("eth_getStorageValues", [{ [address]: slots }, "latest"]);
    const [valuesOf] = Object.entries(values).filter(([a]) => a.toLowerCase() === address.toLowerCase()).map(([, v]) => v);
    assert.ok(valuesOf, `eth_getStorageValues answered for ${Object.keys(values)}`);
    for (const [i, slot] of slots.entries()) {
      assert.equal(valuesOf[i], await provider.getStorage(address, slot), `slot ${i}`);
    }
    await assert.rejects(
      provider.send("eth_getStorageAt", [address, "0x" + "0".repeat(65), "latest"]),
      (err) => err.error && err.error.code === -32602,
      "a 33-byte storage key is invalid params",
    );
    await assert.rejects(
      provider.send("eth_getLogs", [{ fromBlock: toBeHex(transferReceipt.blockNumber), toBlock: toBeHex(deployReceipt.blockNumber - 1) }]),
      (err) => err.error && err.error.code === -32602,
      "a reversed eth_getLogs range is invalid params",
    );
    step(FLOW, "eth_getStorageValues matched eth_getStorageAt; bad keys and reversed ranges are -32602");

    // txpool_contentFrom and txpool_inspect: a transaction with a nonce gap stays queued.
    const gapNonce = (await provider.getTransactionCount(bob.address)) + 3;
    const queuedHash = await provider.send("eth_sendRawTransaction", [
      await bob.signTransaction({ to: alice.address, value: 3n, nonce: gapNonce, gasLimit: 21000n,
        maxFeePerGas: 10n ** 11n, maxPriorityFeePerGas: 10n ** 9n, chainId: network.chainId, type: 2 }),
    ]);
    const from = await provider.send("txpool_contentFrom", [bob.address]);
    assert.deepEqual(Object.keys(from.pending), [], "bob has nothing executable");
    assert.equal(from.queued[String(gapNonce)].hash, queuedHash, "bob's gapped transaction is queued");
    const inspect = await provider.send("txpool_inspect", []);
    const bobLines = Object.entries(inspect.queued).filter(([a]) => a.toLowerCase() === bob.address.toLowerCase()).map(([, v]) => v);
    assert.equal(bobLines[0][String(gapNonce)], `${alice.address}: 3 wei + 21000 gas × 100000000000 wei`, "txpool_inspect line");
    step(FLOW, `txpool_contentFrom and txpool_inspect show bob's queued nonce ${gapNonce}`);
  }

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
