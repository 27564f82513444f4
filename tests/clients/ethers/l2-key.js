// A user's rollup (L2) key from a browser wallet, with ethers v6, and a deposit to the bridge.
//
// The wallet signs l2KeyMessage(chainId) with personal_sign (EIP-191). The L2 secret is
// Blake2b-512(personalization "Kaimeng-L2-KeyDv", r || low-s) read as a little-endian number
// and reduced into the Pallas scalar field; the L2 public key is that multiple of the Pallas
// generator, in pasta_curves' 32-byte encoding. This is what rollup/src/keys.rs does (ADR 0035),
// so `kaimeng l2 deposit` and a browser wallet holding the same Ethereum key get the same L2 key.
//
// In a page:
//   const signer = await new ethers.BrowserProvider(window.ethereum).getSigner();
//   const key = await deriveL2PublicKey(signer);              // the wallet asks to sign once
//   const { deposit } = await depositToRollup(signer, key, 1000n);   // 1000 gwei
//
// No Node-only APIs. @noble/curves and @noble/hashes are pinned in package.json at the versions
// ethers 6 itself depends on, so a bundle holds one copy of each.
// Tested by the `rollup` client flow (tests/clients/ethers/rollup.js).
"use strict";

const { Contract, concat, getBytes, hexlify, isCallException, toBeHex, toUtf8Bytes, zeroPadValue } = require("ethers");
const { weierstrassPoints } = require("@noble/curves/abstract/weierstrass");
const { Field } = require("@noble/curves/abstract/modular");
const { bytesToNumberBE, bytesToNumberLE, numberToBytesLE } = require("@noble/curves/abstract/utils");
const { blake2b } = require("@noble/hashes/blake2b");

/** The rollup bridge on shard 0. */
const BRIDGE_ADDRESS = "0x000000000000000000000000000000000000b21d";

/** Wei per L2 unit: amounts on L2 are in gwei. */
const GWEI = 1_000_000_000n;

/** What this module calls on the bridge, and the errors a deposit can revert with. */
const BRIDGE_ABI = [
  "function deposit(bytes32 l2PublicKey) payable returns (uint64 requestId, uint32 account)",
  "function accountOf(bytes32 l2PublicKey, address l1) view returns (bool assigned, uint32 account)",
  "event Deposit(uint64 indexed requestId, uint32 indexed account, address indexed l1, bytes32 l2PublicKey, uint64 amount, bytes32 queueHashAfter, uint64 expiry)",
  "error InExodus()",
  "error Reentrancy()",
  "error ZeroDeposit()",
  "error NotUnitMultiple(uint256 value)",
  "error DepositTooLarge(uint256 units)",
  "error EscrowFull(uint256 escrowUnits, uint256 units)",
  "error AccountSpaceFull()",
  "error BadL2Key(bytes32 l2PublicKey)",
];

/** The secp256k1 group order (for normalising s). */
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** Pallas: y^2 = x^3 + 5 over p, a group of prime order q, generator (-1, 2). */
const PALLAS_P = 0x40000000000000000000000000000000224698fc094cf91b992d30ed00000001n;
const PALLAS_Q = 0x40000000000000000000000000000000224698fc0994a8dd8c46eb2100000001n;
const Fp = Field(PALLAS_P);
const Pallas = weierstrassPoints({ a: 0n, b: 5n, Fp, n: PALLAS_Q, h: 1n, Gx: PALLAS_P - 1n, Gy: 2n });
const PallasPoint = Pallas.ProjectivePoint;

/** The Blake2b personalization of the key derivation (16 bytes). */
const PERSONALIZATION = toUtf8Bytes("Kaimeng-L2-KeyDv");

/** The text the wallet signs to derive the L2 key for `chainId` (shard 0's eth_chainId). */
function l2KeyMessage(chainId) {
  const id = BigInt(chainId);
  if (id < 0n || id >= 1n << 64n) {
    throw new RangeError(`chain id ${chainId} is not a u64`);
  }
  return (
    `Kaimeng L2 key\n\nSign to derive your Kaimeng rollup key for chain ${id}.\n` +
    "Anyone holding this signature controls your L2 account: sign it only in a " +
    "Kaimeng wallet you trust."
  );
}

/**
 * The L2 secret scalar from a 65-byte personal_sign signature `r || s || v` (hex or bytes).
 * The recovery byte is ignored (but must be 0, 1, 27 or 28) and s is taken in its low half, so
 * every valid encoding of the same signature gives the same key.
 */
function l2SecretFromSignature(signature) {
  const bytes = getBytes(signature);
  if (bytes.length !== 65) {
    throw new Error(`expected a 65-byte signature, got ${bytes.length} bytes`);
  }
  const r = bytesToNumberBE(bytes.subarray(0, 32));
  let s = bytesToNumberBE(bytes.subarray(32, 64));
  if (r === 0n || r >= SECP256K1_N || s === 0n || s >= SECP256K1_N) {
    throw new Error("not a valid secp256k1 ECDSA signature (r or s out of range)");
  }
  const v = bytes[64];
  if (![0, 1, 27, 28].includes(v)) {
    throw new Error(`invalid recovery byte ${v}`);
  }
  if (s > SECP256K1_N >> 1n) {
    s = SECP256K1_N - s;
  }
  const input = getBytes(concat([bytes.subarray(0, 32), zeroPadValue(toBeHex(s), 32)]));
  const digest = blake2b(input, { dkLen: 64, personalization: PERSONALIZATION });
  const x = bytesToNumberLE(digest) % PALLAS_Q;
  // Zero has probability 2^-254; the Rust code maps it to one.
  return x === 0n ? 1n : x;
}

/** The 32-byte encoding of a Pallas point (pasta_curves): x little-endian, top bit = y odd. */
function encodeL2PublicKey(point) {
  if (point.equals(PallasPoint.ZERO)) {
    throw new Error("the identity is not an L2 key");
  }
  const { x, y } = point.toAffine();
  const out = numberToBytesLE(x, 32);
  if (y & 1n) {
    out[31] |= 0x80;
  }
  return hexlify(out);
}

/**
 * Parses a 32-byte L2 public key as the bridge does (pasta_curves' decoding, identity refused).
 * Returns the Pallas point, or null if the bytes are not a key.
 */
function decodeL2PublicKey(key) {
  const bytes = Uint8Array.from(getBytes(key));
  if (bytes.length !== 32) {
    return null;
  }
  const ySign = BigInt(bytes[31] >> 7);
  bytes[31] &= 0x7f;
  const x = bytesToNumberLE(bytes);
  if (x >= PALLAS_P || (x === 0n && ySign === 0n)) {
    return null; // not a canonical field element, or the identity
  }
  const rhs = Fp.add(Fp.mul(Fp.sqr(x), x), 5n);
  let y;
  try {
    y = Fp.sqrt(rhs);
  } catch {
    return null; // x^3 + 5 is not a square: no point has this x
  }
  if (!Fp.eql(Fp.sqr(y), rhs)) {
    return null;
  }
  if ((y & 1n) !== ySign) {
    y = Fp.neg(y);
  }
  const point = PallasPoint.fromAffine({ x, y });
  point.assertValidity();
  return point;
}

/** The L2 public key (0x-hex bytes32) from a personal_sign signature over l2KeyMessage. */
function l2PublicKeyFromSignature(signature) {
  return encodeL2PublicKey(PallasPoint.BASE.multiply(l2SecretFromSignature(signature)));
}

/**
 * Asks `signer` (an ethers v6 Signer, e.g. BrowserProvider.getSigner()) to personal_sign the
 * key message, and returns the L2 public key (0x-hex bytes32). Without `chainId`, the chain id
 * of the signer's provider is used; it must be shard 0's.
 */
async function deriveL2PublicKey(signer, chainId) {
  if (chainId === undefined || chainId === null) {
    chainId = (await signer.provider.getNetwork()).chainId;
  }
  const signature = await signer.signMessage(l2KeyMessage(chainId));
  return l2PublicKeyFromSignature(signature);
}

/**
 * Deposits `gwei` (L2 units) from `signer` to the L2 account of (`l2PublicKey`, signer's
 * address), creating it on first deposit. Waits for the receipt (at most `timeout` ms if
 * given) and returns it with the decoded Deposit event: { requestId, account, l1,
 * l2PublicKey, amount, queueHashAfter, expiry } (numbers as bigint). The bridge refuses a key
 * that is not a Pallas point when ethers estimates the gas: nothing is sent, and the
 * CALL_EXCEPTION thrown has revert.name "BadL2Key".
 */
async function depositToRollup(signer, l2PublicKey, gwei, { timeout } = {}) {
  const bridge = new Contract(BRIDGE_ADDRESS, BRIDGE_ABI, signer);
  let tx;
  try {
    tx = await bridge.deposit(l2PublicKey, { value: BigInt(gwei) * GWEI });
  } catch (err) {
    // ethers decodes only Error(string) and Panic when a send fails its gas estimate; name the
    // bridge's custom error (BadL2Key, ZeroDeposit, ...) as a static call would.
    if (isCallException(err) && err.data && !err.revert) {
      const data = bridge.interface.encodeFunctionData("deposit", [l2PublicKey]);
      throw bridge.interface.makeError(err.data, { to: BRIDGE_ADDRESS, from: await signer.getAddress(), data });
    }
    throw err;
  }
  const receipt = await tx.wait(1, timeout);
  const log = receipt.logs.find(
    (l) => l.address.toLowerCase() === BRIDGE_ADDRESS && l.topics[0] === bridge.interface.getEvent("Deposit").topicHash,
  );
  if (!log) {
    throw new Error(`deposit ${receipt.hash} emitted no Deposit event`);
  }
  const { args } = bridge.interface.parseLog(log);
  const deposit = {
    requestId: args.requestId,
    account: args.account,
    l1: args.l1,
    l2PublicKey: args.l2PublicKey,
    amount: args.amount,
    queueHashAfter: args.queueHashAfter,
    expiry: args.expiry,
  };
  return { receipt, deposit };
}

module.exports = {
  BRIDGE_ADDRESS,
  BRIDGE_ABI,
  GWEI,
  PALLAS_P,
  PALLAS_Q,
  PallasPoint,
  l2KeyMessage,
  l2SecretFromSignature,
  l2PublicKeyFromSignature,
  encodeL2PublicKey,
  decodeL2PublicKey,
  deriveL2PublicKey,
  depositToRollup,
};
