// Admission rules through ethers v6: every transaction the executor would refuse is refused by
// eth_sendRawTransaction at once, with the message Ethereum clients know, and nothing of it is
// pooled; the sender's next valid transaction then goes through. Each raw transaction is
// signed by hand (Transaction + signingKey), so ethers' own checks cannot stop it before the
// node sees it.
"use strict";

const assert = require("node:assert/strict");
const {
  HDNodeWallet,
  JsonRpcProvider,
  Transaction,
  concat,
  encodeRlp,
  keccak256,
  parseEther,
  toBeHex,
} = require("ethers");
const { DEV_MNEMONIC, WAIT_MS, urls, withTimeout, runFlow, step } = require("../lib/common");

const FLOW = "admission";
const GWEI = 1_000_000_000n;

async function main() {
  const { rpc } = urls();
  const provider = new JsonRpcProvider(rpc, undefined, { staticNetwork: true, batchMaxCount: 1 });
  const { chainId } = await provider.getNetwork();
  const wallet = HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, "m/44'/60'/0'/0/4");
  const to = "0x00000000000000000000000000000000000000aa";

  // One mined transfer first, so that "nonce too low" has a used nonce to refer to.
  const first = await provider.broadcastTransaction(sign(await base()));
  const firstReceipt = await first.wait(1, WAIT_MS);
  assert.equal(firstReceipt.status, 1);
  const nonce = await provider.getTransactionCount(wallet.address, "pending");

  async function base() {
    return {
      type: 2,
      chainId,
      nonce: await provider.getTransactionCount(wallet.address, "pending"),
      gasLimit: 21_000n,
      maxFeePerGas: 20n * GWEI,
      maxPriorityFeePerGas: GWEI,
      to,
      value: 1n,
      data: "0x",
    };
  }

  function sign(fields) {
    if (fields.type === 2 && BigInt(fields.maxPriorityFeePerGas) > BigInt(fields.maxFeePerGas)) {
      return signRaw1559(fields);
    }
    const tx = Transaction.from(fields);
    tx.signature = wallet.signingKey.sign(tx.unsignedHash);
    return tx.serialized;
  }

  /** An EIP-1559 transaction encoded by hand: ethers refuses to serialize tip > fee cap. */
  function signRaw1559(f) {
    const q = (v) => (BigInt(v) === 0n ? "0x" : toBeHex(BigInt(v)));
    const body = [q(f.chainId), q(f.nonce), q(f.maxPriorityFeePerGas), q(f.maxFeePerGas), q(f.gasLimit), f.to, q(f.value), f.data, []];
    const sig = wallet.signingKey.sign(keccak256(concat(["0x02", encodeRlp(body)])));
    return concat(["0x02", encodeRlp([...body, q(sig.yParity), q(sig.r), q(sig.s)])]);
  }

  async function pooled() {
    const status = await provider.send("txpool_status", []);
    return BigInt(status.pending) + BigInt(status.queued);
  }

  /** Sends `fields` raw; ethers must reject with `wording` (and `code`, when ethers maps it). */
  async function refused(what, fields, wording, code) {
    const before = await pooled();
    let error;
    try {
      await withTimeout(provider.broadcastTransaction(sign(fields)), WAIT_MS, what);
    } catch (err) {
      error = err;
    }
    assert.ok(error, `${what}: the node accepted it`);
    const seen = `${error.message} ${JSON.stringify(error.info ?? {})}`;
    assert.ok(seen.includes(wording), `${what}: ethers saw "${error.message}", expected "${wording}"`);
    if (code) {
      assert.equal(error.code, code, `${what}: ethers error code`);
    }
    assert.equal(await pooled(), before, `${what}: the pool changed`);
    step(FLOW, `${what}: refused with "${wording}"${code ? ` (${code})` : ""}`);
  }

  const ok = { ...(await base()), nonce };
  await refused("gas below the intrinsic 21,000", { ...ok, gasLimit: 20_000n }, "intrinsic gas too low");
  await refused(
    "access list not covered by the gas",
    { ...ok, accessList: [{ address: to, storageKeys: ["0x" + "00".repeat(32)] }] },
    "intrinsic gas too low",
  );
  await refused(
    "init code above 49,152 bytes (EIP-3860)",
    { ...ok, to: null, gasLimit: 10_000_000n, data: "0x" + "00".repeat(49_153) },
    "max initcode size exceeded",
  );
  await refused(
    "calldata below the EIP-7623 floor",
    { ...ok, gasLimit: 100_000n, data: "0x" + "01".repeat(4_000) },
    "insufficient gas for floor data gas cost",
  );
  await refused(
    "max priority fee above max fee",
    { ...ok, maxFeePerGas: GWEI, maxPriorityFeePerGas: 2n * GWEI },
    "max priority fee per gas",
  );
  await refused("gas above the per-transaction cap (EIP-7825)", { ...ok, gasLimit: (1n << 24n) + 1n }, "per-transaction cap");
  await refused("fee cap below the minimum base fee", { ...ok, maxFeePerGas: 1n, maxPriorityFeePerGas: 1n }, "below the minimum base fee");
  await refused("value above the balance", { ...ok, value: parseEther("1000000000") }, "insufficient funds", "INSUFFICIENT_FUNDS");
  await refused("a nonce already used", { ...ok, nonce: nonce - 1 }, "nonce too low", "NONCE_EXPIRED");
  await refused("a nonce far ahead", { ...ok, nonce: nonce + 5_000 }, "nonce too high");
  await refused("another chain's id", { ...ok, chainId: 1n }, "invalid chain id");
  await refused(
    "a legacy transaction without EIP-155",
    { type: 0, chainId: 0n, nonce, gasLimit: 21_000n, gasPrice: 20n * GWEI, to, value: 1n },
    "EIP-155",
  );

  // A queued transaction, then the same one again and a same-fee replacement.
  const queued = sign({ ...ok, nonce: nonce + 3 });
  await provider.broadcastTransaction(queued);
  const beforeDuplicate = await pooled();
  await assert.rejects(provider.broadcastTransaction(queued), (err) => {
    assert.ok(`${err.message}`.includes("already known"), err.message);
    return true;
  });
  assert.equal(await pooled(), beforeDuplicate);
  await refused(
    "a replacement without a fee bump",
    { ...ok, nonce: nonce + 3, value: 2n },
    "replacement transaction underpriced",
    "REPLACEMENT_UNDERPRICED",
  );
  const status = await provider.send("txpool_transactionStatus", [Transaction.from(queued).hash]);
  assert.equal(status.status, "queued", JSON.stringify(status));

  // None of the refusals took the sender's next transaction with them.
  const next = await provider.broadcastTransaction(sign(ok));
  const receipt = await next.wait(1, WAIT_MS);
  assert.equal(receipt.status, 1);
  assert.equal(await provider.getTransactionCount(wallet.address, "latest"), nonce + 1);
  step(FLOW, `the sender's next transaction (nonce ${nonce}) was mined in block ${receipt.blockNumber}`);
  provider.destroy();
}

runFlow(FLOW, main);
