// The viem flow: deploy KaiToken, transfer, read Transfer logs, catch the revert reason, and
// receive a newHeads event through viem's webSocket transport. Accounts come from the mnemonic.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import {
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  decodeEventLog,
  defineChain,
  encodeFunctionData,
  http,
  parseAbiItem,
  RpcRequestError,
  webSocket,
  zeroAddress,
} from "viem";
import { mnemonicToAccount } from "viem/accounts";

const require = createRequire(import.meta.url);
const { DEV_MNEMONIC, INSUFFICIENT_BALANCE, TOKEN, WAIT_MS, urls, kaiToken, withTimeout, runFlow, step, isAnvil } =
  require("../lib/common.js");

const FLOW = "viem";
const transferEvent = parseAbiItem("event Transfer(address indexed from, address indexed to, uint256 value)");

/** Runs `call` expecting the insufficient-balance revert; checks viem's decoded reason and code 3. */
async function expectRevert(call, what) {
  let value;
  try {
    value = await withTimeout(call(), WAIT_MS, what);
  } catch (err) {
    assert.ok(err instanceof BaseError, `${what}: not a viem error: ${err}`);
    const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError);
    assert.ok(reverted, `${what}: no ContractFunctionRevertedError in: ${err.message}`);
    assert.equal(reverted.reason, INSUFFICIENT_BALANCE, `${what}: revert reason`);
    assert.equal(reverted.data && reverted.data.errorName, "Error", `${what}: decoded error name`);
    assert.deepEqual(reverted.data.args, [INSUFFICIENT_BALANCE], `${what}: Error(string) argument`);
    const rpc = err.walk((e) => e instanceof RpcRequestError);
    assert.ok(rpc, `${what}: viem kept no JSON-RPC error: ${err.message}`);
    assert.equal(rpc.code, 3, `${what}: JSON-RPC error code`);
    assert.match(String(rpc.data), /^0x08c379a0/, `${what}: JSON-RPC error data is not Error(string)`);
    return err;
  }
  throw new assert.AssertionError({ message: `${what}: expected a revert, got ${value}` });
}

async function main() {
  const { rpc, ws } = urls();
  const probe = createPublicClient({ transport: http(rpc) });
  const chainId = await withTimeout(probe.getChainId(), WAIT_MS, "eth_chainId");
  const chain = defineChain({
    id: chainId,
    name: "node under test",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpc], webSocket: [ws] } },
  });
  const client = createPublicClient({ chain, transport: http(rpc), pollingInterval: 250 });
  const [owner, alice, bob] = [0, 1, 2].map((i) => mnemonicToAccount(DEV_MNEMONIC, { addressIndex: i }));
  const wallet = (account) => createWalletClient({ account, chain, transport: http(rpc) });
  const mined = async (hash, what) => {
    const receipt = await client.waitForTransactionReceipt({ hash, timeout: WAIT_MS });
    assert.equal(receipt.status, "success", `${what}: receipt status`);
    return receipt;
  };
  step(FLOW, `connected to chain ${chainId}; accounts ${owner.address} ${alice.address} ${bob.address}`);

  // Deploy.
  const { abi, bytecode } = kaiToken();
  const deployHash = await wallet(owner).deployContract({
    abi,
    bytecode,
    args: [TOKEN.name, TOKEN.symbol, TOKEN.supply],
  });
  const deployReceipt = await mined(deployHash, "deployment");
  const address = deployReceipt.contractAddress;
  assert.ok(address, "receipt has no contractAddress");
  const bytecodeOnChain = await client.getCode({ address });
  assert.ok(bytecodeOnChain && bytecodeOnChain !== "0x", "deployed code is empty");
  const read = (functionName, args = []) => client.readContract({ address, abi, functionName, args });
  assert.equal(await read("name"), TOKEN.name);
  assert.equal(await read("symbol"), TOKEN.symbol);
  assert.equal(await read("decimals"), 18);
  assert.equal(await read("totalSupply"), TOKEN.supply);
  assert.equal(await read("balanceOf", [owner.address]), TOKEN.supply);
  step(FLOW, `deployed KaiToken at ${address} in block ${deployReceipt.blockNumber}`);

  // Transfer and exact balances on both sides.
  assert.equal(await read("balanceOf", [alice.address]), 0n, "alice starts with no tokens");
  const transferHash = await wallet(owner).writeContract({
    address,
    abi,
    functionName: "transfer",
    args: [alice.address, TOKEN.transfer],
  });
  const transferReceipt = await mined(transferHash, "transfer");
  assert.equal(await read("balanceOf", [owner.address]), TOKEN.supply - TOKEN.transfer, "owner after transfer");
  assert.equal(await read("balanceOf", [alice.address]), TOKEN.transfer, "alice after transfer");
  step(FLOW, `transferred ${TOKEN.transfer} to ${alice.address} in block ${transferReceipt.blockNumber}`);

  // Transfer events through eth_getLogs (viem builds the topic filter from the event).
  const logs = await client.getLogs({
    address,
    event: transferEvent,
    fromBlock: deployReceipt.blockNumber,
    toBlock: transferReceipt.blockNumber,
  });
  assert.deepEqual(
    logs.map((l) => [l.eventName, l.args.from, l.args.to, l.args.value]),
    [
      ["Transfer", zeroAddress, owner.address, TOKEN.supply],
      ["Transfer", owner.address, alice.address, TOKEN.transfer],
    ],
    "Transfer events",
  );
  assert.equal(logs[1].transactionHash, transferHash, "transfer log tx hash");
  const toAlice = await client.getLogs({
    address,
    event: transferEvent,
    args: { to: alice.address },
    fromBlock: deployReceipt.blockNumber,
  });
  assert.equal(toAlice.length, 1, "logs filtered by the indexed `to` topic");
  assert.equal(toAlice[0].transactionHash, transferHash);
  step(FLOW, `eth_getLogs returned the mint and the transfer (${logs.length} logs)`);

  // Revert reason, from eth_call (simulate) and eth_estimateGas.
  const bobNonce = await client.getTransactionCount({ address: bob.address });
  const bobTransfer = { address, abi, functionName: "transfer", args: [owner.address, 1n], account: bob };
  await expectRevert(() => client.simulateContract(bobTransfer), "eth_call revert");
  await expectRevert(() => client.estimateContractGas(bobTransfer), "eth_estimateGas revert");
  await expectRevert(() => wallet(bob).writeContract(bobTransfer), "send revert (estimate first)");
  assert.equal(await client.getTransactionCount({ address: bob.address }), bobNonce, "a reverting send was broadcast");
  assert.equal(await read("balanceOf", [bob.address]), 0n);
  step(FLOW, `revert reason surfaced as "${INSUFFICIENT_BALANCE}"`);

  // eth_simulateV1 through viem's simulateCalls: a token transfer and a value transfer that
  // build on each other, with ETH transfers traced as logs, a failing call reported per call,
  // and nothing written to the chain.
  const aliceTokens = await read("balanceOf", [alice.address]);
  const simulated = await client.simulateCalls({
    account: owner,
    calls: [
      { to: address, abi, functionName: "transfer", args: [bob.address, 5n] },
      { to: address, abi, functionName: "balanceOf", args: [bob.address] },
      { to: bob.address, value: 7n },
    ],
    traceTransfers: true,
  });
  const [simTransfer, simBalance, simValue] = simulated.results;
  assert.equal(simTransfer.status, "success", "simulated transfer status");
  assert.equal(simTransfer.result, true, "simulated transfer returns true");
  const simEvent = decodeEventLog({ abi: [transferEvent], data: simTransfer.logs[0].data, topics: simTransfer.logs[0].topics });
  assert.deepEqual([simEvent.args.from, simEvent.args.to, simEvent.args.value], [owner.address, bob.address, 5n], "simulated Transfer log");
  assert.equal(simBalance.result, 5n, "the second call sees the first call's transfer");
  assert.equal(simValue.status, "success");
  assert.equal(simValue.logs.length, 1, "traceTransfers logs the value transfer");
  assert.equal(simValue.logs[0].address.toLowerCase(), "0x" + "e".repeat(40), "transfer log emitter");
  assert.equal(BigInt(simValue.logs[0].data), 7n, "traced transfer value");
  const failing = await client.simulateCalls({
    account: bob,
    calls: [{ to: address, abi, functionName: "transfer", args: [owner.address, 1n] }],
  });
  assert.equal(failing.results[0].status, "failure", "a reverting simulated call");
  assert.ok(failing.results[0].error instanceof BaseError, "viem decoded the simulated revert");
  assert.match(failing.results[0].error.message, new RegExp(INSUFFICIENT_BALANCE), "simulated revert reason");
  assert.equal(await read("balanceOf", [bob.address]), 0n, "a simulation wrote to the chain");
  assert.equal(await read("balanceOf", [alice.address]), aliceTokens);
  // traceAssetChanges: viem reads balances before and after inside further simulated blocks
  // (deployless calls, code overrides) and reports the owner's ETH and token changes.
  if (await isAnvil(rpc)) {
    step(FLOW, "skipped simulateCalls traceAssetChanges: anvil cannot run its deployless calls");
  } else {
    const withAssets = await client.simulateCalls({
      account: owner,
      calls: [
        { to: address, abi, functionName: "transfer", args: [bob.address, 5n] },
        { to: bob.address, value: 7n },
      ],
      traceAssetChanges: true,
    });
    const change = (symbol) => withAssets.assetChanges.find((c) => c.token.symbol === symbol);
    assert.ok(change(TOKEN.symbol), `no ${TOKEN.symbol} change in ${JSON.stringify(withAssets.assetChanges, (_, v) => typeof v === "bigint" ? v.toString() : v)}`);
    assert.equal(change(TOKEN.symbol).value.diff, -5n, "token change");
    assert.equal(change(TOKEN.symbol).token.address.toLowerCase(), address.toLowerCase());
    assert.equal(change("ETH").value.diff, -7n, "ETH change (simulated calls pay no gas)");
    step(FLOW, `simulateCalls traceAssetChanges: ${TOKEN.symbol} -5 and ETH -7 wei`);
  }
  step(FLOW, `simulateCalls (eth_simulateV1): transfer, balance read, traced value transfer and a revert`);

  // eth_createAccessList: the token's storage slots the transfer reads and writes.
  const accessList = await client.createAccessList({
    account: owner,
    to: address,
    data: encodeFunctionData({ abi, functionName: "transfer", args: [alice.address, 1n] }),
  });
  const tokenEntry = accessList.accessList.find((e) => e.address.toLowerCase() === address.toLowerCase());
  assert.ok(tokenEntry, `no access list entry for the token: ${JSON.stringify(accessList.accessList)}`);
  assert.ok(tokenEntry.storageKeys.length >= 2, "both balances' slots are listed");
  assert.ok(accessList.gasUsed > 21000n, `gasUsed ${accessList.gasUsed}`);
  step(FLOW, `createAccessList listed ${tokenEntry.storageKeys.length} token slots, gasUsed ${accessList.gasUsed}`);

  // newHeads over WebSocket: the transport's subscribe resolves once the node acknowledged it.
  const wsClient = createPublicClient({ chain, transport: webSocket(ws, { timeout: WAIT_MS }) });
  const before = await wsClient.getBlockNumber({ cacheTime: 0 });
  let onHead;
  let onSubError;
  const seen = new Promise((resolve, reject) => {
    onHead = (head) => {
      const number = BigInt(head.number);
      if (number > before) resolve(number);
    };
    onSubError = reject;
  });
  const subscription = await withTimeout(
    wsClient.transport.subscribe({
      params: ["newHeads"],
      onData: (data) => onHead(data.result),
      onError: (e) => onSubError(e),
    }),
    WAIT_MS,
    "the eth_subscribe acknowledgement",
  );
  try {
    assert.ok(subscription.subscriptionId, "eth_subscribe returned no subscription id");
    await mined(await wallet(alice).sendTransaction({ to: bob.address, value: 1n }), "trigger tx");
    const head = await withTimeout(seen, WAIT_MS, `a newHeads event above block ${before}`);
    assert.ok(head > before, `newHeads block ${head} is not above ${before}`);
    step(FLOW, `newHeads delivered block ${head} (was ${before})`);
  } finally {
    await subscription.unsubscribe();
    const socket = await wsClient.transport.getRpcClient();
    socket.close();
  }
}

runFlow(FLOW, main);
