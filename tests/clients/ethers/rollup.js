// The rollup flow through ethers v6: derive a dev account's L2 key with signMessage (what a
// browser wallet's personal_sign gives), check it against `kaimeng l2 key` when KAIMENG_BIN is
// set, deposit 1000 gwei to the bridge with ethers/l2-key.js, and check the Deposit event and
// the bridge's balance. A key that is not a Pallas point must be refused, moving nothing.
// Uses dev account 5.
"use strict";

const assert = require("node:assert/strict");
const { execFileSync } = require("node:child_process");
const { Contract, HDNodeWallet, JsonRpcProvider, concat, getBytes, hexlify, toBeHex, zeroPadValue } = require("ethers");
const { DEV_MNEMONIC, WAIT_MS, urls, withTimeout, runFlow, step, isAnvil } = require("../lib/common");
const {
  BRIDGE_ADDRESS,
  BRIDGE_ABI,
  GWEI,
  l2KeyMessage,
  l2PublicKeyFromSignature,
  encodeL2PublicKey,
  decodeL2PublicKey,
  deriveL2PublicKey,
  depositToRollup,
} = require("./l2-key");

const FLOW = "rollup";
const DEPOSIT_GWEI = 1000n;
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

async function main() {
  const { rpc } = urls();
  // cacheTimeout -1: see flow.js (a cached pending nonce from before the deposit).
  const provider = new JsonRpcProvider(rpc, undefined, { pollingInterval: 250, cacheTimeout: -1 });
  const wallet = HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, "m/44'/60'/0'/0/5").connect(provider);
  const { chainId } = await withTimeout(provider.getNetwork(), WAIT_MS, "eth_chainId");
  step(FLOW, `chain ${chainId}, depositor ${wallet.address} (dev account 5)`);

  // The key, through ethers signMessage (EIP-191, as personal_sign in a browser wallet).
  const key = await deriveL2PublicKey(wallet, chainId);
  assert.match(key, /^0x[0-9a-f]{64}$/, "the L2 key is a bytes32");
  assert.equal(await deriveL2PublicKey(wallet), key, "the provider's chain id gives the same key");
  const point = decodeL2PublicKey(key);
  assert.ok(point, `${key} does not decode as a Pallas point`);
  point.assertValidity();
  assert.equal(encodeL2PublicKey(point), key, "the key re-encodes to the same bytes");
  step(FLOW, `derived L2 key ${key}, a valid Pallas point`);

  // Every encoding of the same signature gives the same key: v as 0/1, and the high-s twin.
  const signature = getBytes(await wallet.signMessage(l2KeyMessage(chainId)));
  const v01 = Uint8Array.from(signature);
  v01[64] -= 27;
  assert.equal(l2PublicKeyFromSignature(v01), key, "recovery byte 0/1");
  const highS = SECP256K1_N - BigInt(hexlify(signature.subarray(32, 64)));
  const twin = concat([signature.subarray(0, 32), zeroPadValue(toBeHex(highS), 32), Uint8Array.of(55 - signature[64])]);
  assert.equal(l2PublicKeyFromSignature(twin), key, "the high-s twin");
  assert.throws(() => l2PublicKeyFromSignature(concat([signature.subarray(0, 64), "0x05"])), /recovery byte 5/);
  assert.notEqual(await deriveL2PublicKey(wallet, chainId + 1n), key, "another chain id gives another key");
  step(FLOW, "the key ignores the recovery byte and the high-s twin, and depends on the chain id");

  // The Rust CLI derives the same key.
  const bin = process.env.KAIMENG_BIN;
  if (bin) {
    const args = ["l2", "key", "--private-key", wallet.privateKey, "--chain-id", String(chainId)];
    const printed = execFileSync(bin, args, { encoding: "utf8", timeout: WAIT_MS }).trim();
    assert.equal(printed.toLowerCase(), key, `${bin} l2 key printed ${printed}`);
    step(FLOW, "`kaimeng l2 key` prints the same key");
  } else {
    step(FLOW, "skipped the comparison with `kaimeng l2 key`: KAIMENG_BIN is not set");
  }

  if (await isAnvil(rpc)) {
    step(FLOW, "skipped the deposits: anvil has no Kaimeng bridge");
    provider.destroy();
    return;
  }
  assert.notEqual(await provider.getCode(BRIDGE_ADDRESS), "0x", "no bridge code at 0x…b21d");
  const bridge = new Contract(BRIDGE_ADDRESS, BRIDGE_ABI, provider);

  // Deposit 1000 gwei.
  const before = await provider.getBalance(BRIDGE_ADDRESS);
  const { receipt, deposit } = await withTimeout(
    depositToRollup(wallet, key, DEPOSIT_GWEI, { timeout: WAIT_MS }),
    WAIT_MS,
    "the deposit",
  );
  assert.equal(receipt.status, 1, "deposit receipt status");
  assert.equal(deposit.l2PublicKey, key, "Deposit.l2PublicKey");
  assert.equal(deposit.l1, wallet.address, "Deposit.l1");
  assert.equal(deposit.amount, DEPOSIT_GWEI, "Deposit.amount (units of 1 gwei)");
  assert.equal(await provider.getBalance(BRIDGE_ADDRESS), before + DEPOSIT_GWEI * GWEI, "the bridge's balance");
  const [assigned, account] = await bridge.accountOf(key, wallet.address);
  assert.ok(assigned, "accountOf: the (key, address) pair has no account");
  assert.equal(account, deposit.account, "accountOf gives the Deposit event's account");
  step(
    FLOW,
    `deposited ${DEPOSIT_GWEI} gwei in block ${receipt.blockNumber}: request ${deposit.requestId}, L2 account ${deposit.account}`,
  );

  // Keys that are not Pallas points: refused, nothing moves.
  const malformed = [
    ["0x" + "ff".repeat(32), "x not below p"],
    ["0x" + "00".repeat(32), "the identity"],
  ];
  for (const [bad, what] of malformed) {
    assert.equal(decodeL2PublicKey(bad), null, `${what} decodes`);
    const balance = await provider.getBalance(BRIDGE_ADDRESS);
    const nonce = await provider.getTransactionCount(wallet.address, "pending");
    let error;
    try {
      await withTimeout(depositToRollup(wallet, bad, DEPOSIT_GWEI, { timeout: WAIT_MS }), WAIT_MS, `a deposit to ${what}`);
    } catch (err) {
      error = err;
    }
    assert.ok(error, `a deposit to ${what} (${bad}) went through`);
    assert.equal(error.code, "CALL_EXCEPTION", `a deposit to ${what}: ${error.message}`);
    let how;
    if (error.receipt) {
      assert.equal(error.receipt.status, 0, `a deposit to ${what}: receipt status`);
      how = `reverted in block ${error.receipt.blockNumber}`;
    } else {
      assert.ok(error.revert, `a deposit to ${what}: ethers decoded no revert from ${error.data}`);
      assert.equal(error.revert.name, "BadL2Key", `a deposit to ${what}: revert`);
      assert.equal(error.revert.args[0], bad, `a deposit to ${what}: BadL2Key argument`);
      assert.equal(await provider.getTransactionCount(wallet.address, "pending"), nonce, `${what}: a transaction was sent`);
      how = "refused with BadL2Key when estimating gas";
    }
    assert.equal(await provider.getBalance(BRIDGE_ADDRESS), balance, `a deposit to ${what}: the bridge's balance changed`);
    const [badAssigned] = await bridge.accountOf(bad, wallet.address);
    assert.equal(badAssigned, false, `a deposit to ${what}: an account was bound`);
    step(FLOW, `a deposit to ${what} (${bad.slice(0, 10)}…) was ${how}; the bridge's balance did not change`);
  }
  provider.destroy();
}

runFlow(FLOW, main);
