// Recomputes a beacon epoch's shard committees in the browser and compares them with what the
// node reports (ADR 0098; the reference is l1/src/committees.rs and draw_committees in
// l1/src/beacon/state.rs).
//
// The epoch page carries:
//   <section id="committee-check" data-seed="0x…" data-members="4" data-shards="1"
//            data-size="4" data-suite="secp256k1-keccak">
//     <script type="application/json" id="committees-data">[[0,1,2,3]]</script>
//     <button id="committee-check-run" type="button">…</button>
//     <output id="committee-check-result"></output>
//   </section>
// `committees-data` is the node's committees as indices into the draw's member list, one array
// per shard in seat order. The check runs on DOMContentLoaded and on each click of the button,
// and sets the output's `data-verdict` to "match", "mismatch" or "error" and its text from its
// `data-text-match` / `data-text-mismatch` / `data-text-error` attributes (English otherwise).
// Details of a mismatch or an error go to the output's `title` and `data-detail`.
//
// A classic script (no modules, no eval, no dependencies), so it runs under
// `script-src 'self'`. Under Node (no DOM) it exports its pure functions through
// `module.exports`.
(function () {
  "use strict";

  // ---------------------------------------------------------------------------------------------
  // Keccak-256 (FIPS 202's Keccak-f[1600] with the original Keccak padding: byte 0x01 ... 0x80,
  // as Ethereum uses; SHA3-256 differs only in the padding byte, 0x06). Each 64-bit lane is two
  // 32-bit halves: lane i is state[2i] (low) and state[2i + 1] (high).

  // Round constants, from the LFSR rc(t) of FIPS 202 §3.2.5 (x^8 + x^6 + x^5 + x^4 + 1), as
  // [low, high] halves in KECCAK_RC[2 * round], KECCAK_RC[2 * round + 1].
  const KECCAK_RC = (function () {
    const rcBits = [];
    let r = 1;
    for (let t = 0; t < 255; t++) {
      rcBits.push(r & 1);
      r <<= 1;
      if (r & 0x100) r ^= 0x171;
    }
    const constants = new Uint32Array(48);
    for (let round = 0; round < 24; round++) {
      for (let j = 0; j <= 6; j++) {
        if (!rcBits[(j + 7 * round) % 255]) continue;
        const position = (1 << j) - 1; // 0, 1, 3, 7, 15, 31, 63
        if (position < 32) constants[2 * round] |= 1 << position;
        else constants[2 * round + 1] |= 1 << (position - 32);
      }
    }
    return constants;
  })();

  // Rotation offsets of ρ (FIPS 202 §3.2.2), indexed by x + 5y.
  const KECCAK_ROT = (function () {
    const offsets = new Array(25).fill(0);
    let x = 1;
    let y = 0;
    for (let t = 0; t < 24; t++) {
      offsets[x + 5 * y] = (((t + 1) * (t + 2)) / 2) % 64;
      const nx = y;
      const ny = (2 * x + 3 * y) % 5;
      x = nx;
      y = ny;
    }
    return offsets;
  })();

  // π's destination of each lane: B[y, 2x + 3y] = A[x, y].
  const KECCAK_PI = (function () {
    const to = new Array(25);
    for (let x = 0; x < 5; x++) {
      for (let y = 0; y < 5; y++) to[x + 5 * y] = y + 5 * ((2 * x + 3 * y) % 5);
    }
    return to;
  })();

  /** Rotates the lane (lo, hi) left by n (0..63) into out[k], out[k + 1]. */
  function rotl64Into(out, k, lo, hi, n) {
    if (n >= 32) {
      const t = lo;
      lo = hi;
      hi = t;
      n -= 32;
    }
    if (n === 0) {
      out[k] = lo;
      out[k + 1] = hi;
    } else {
      out[k] = (lo << n) | (hi >>> (32 - n));
      out[k + 1] = (hi << n) | (lo >>> (32 - n));
    }
  }

  function keccakF1600(a) {
    const c = new Uint32Array(10);
    const d = new Uint32Array(2);
    const b = new Uint32Array(50);
    for (let round = 0; round < 24; round++) {
      // θ
      for (let x = 0; x < 5; x++) {
        for (let h = 0; h < 2; h++) {
          c[2 * x + h] = a[2 * x + h] ^ a[2 * (x + 5) + h] ^ a[2 * (x + 10) + h] ^ a[2 * (x + 15) + h] ^ a[2 * (x + 20) + h];
        }
      }
      for (let x = 0; x < 5; x++) {
        const left = 2 * ((x + 4) % 5);
        const right = 2 * ((x + 1) % 5);
        rotl64Into(d, 0, c[right], c[right + 1], 1);
        const dlo = d[0] ^ c[left];
        const dhi = d[1] ^ c[left + 1];
        for (let y = 0; y < 25; y += 5) {
          a[2 * (x + y)] ^= dlo;
          a[2 * (x + y) + 1] ^= dhi;
        }
      }
      // ρ and π
      for (let i = 0; i < 25; i++) {
        rotl64Into(b, 2 * KECCAK_PI[i], a[2 * i], a[2 * i + 1], KECCAK_ROT[i]);
      }
      // χ
      for (let y = 0; y < 25; y += 5) {
        for (let x = 0; x < 5; x++) {
          const i = 2 * (x + y);
          const i1 = 2 * (((x + 1) % 5) + y);
          const i2 = 2 * (((x + 2) % 5) + y);
          a[i] = b[i] ^ (~b[i1] & b[i2]);
          a[i + 1] = b[i + 1] ^ (~b[i1 + 1] & b[i2 + 1]);
        }
      }
      // ι
      a[0] ^= KECCAK_RC[2 * round];
      a[1] ^= KECCAK_RC[2 * round + 1];
    }
  }

  /** A Keccak sponge of capacity 512 (rate 136 bytes), 32-byte output, given padding byte. */
  function keccakSponge256(data, padByte) {
    const rate = 136;
    const bytes = toBytes(data);
    const blocks = Math.floor(bytes.length / rate) + 1;
    const padded = new Uint8Array(blocks * rate);
    padded.set(bytes);
    padded[bytes.length] ^= padByte;
    padded[padded.length - 1] ^= 0x80;
    const state = new Uint32Array(50);
    const le32 = (p) => padded[p] | (padded[p + 1] << 8) | (padded[p + 2] << 16) | (padded[p + 3] << 24);
    for (let offset = 0; offset < padded.length; offset += rate) {
      for (let half = 0; half < rate / 4; half++) state[half] ^= le32(offset + 4 * half);
      keccakF1600(state);
    }
    const out = new Uint8Array(32);
    for (let half = 0; half < 8; half++) {
      const v = state[half];
      out[4 * half] = v & 0xff;
      out[4 * half + 1] = (v >>> 8) & 0xff;
      out[4 * half + 2] = (v >>> 16) & 0xff;
      out[4 * half + 3] = v >>> 24;
    }
    return out;
  }

  /** Keccak-256 as Ethereum uses it (padding byte 0x01). */
  function keccak256(data) {
    return keccakSponge256(data, 0x01);
  }

  /** SHA3-256 (padding byte 0x06); only used to cross-check the sponge in tests. */
  function sha3_256(data) {
    return keccakSponge256(data, 0x06);
  }

  // ---------------------------------------------------------------------------------------------
  // SM3 (GB/T 32905-2016).

  const SM3_IV = [
    0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600,
    0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e,
  ];

  function rotl32(x, n) {
    n &= 31;
    if (n === 0) return x >>> 0;
    return ((x << n) | (x >>> (32 - n))) >>> 0;
  }

  function sm3P0(x) {
    return (x ^ rotl32(x, 9) ^ rotl32(x, 17)) >>> 0;
  }

  function sm3P1(x) {
    return (x ^ rotl32(x, 15) ^ rotl32(x, 23)) >>> 0;
  }

  function sm3(data) {
    const bytes = toBytes(data);
    // Padding: 0x80, zeros, then the bit length as a 64-bit big-endian integer.
    const blocks = Math.floor((bytes.length + 8) / 64) + 1;
    const padded = new Uint8Array(blocks * 64);
    padded.set(bytes);
    padded[bytes.length] = 0x80;
    const bitLength = BigInt(bytes.length) * 8n;
    for (let k = 0; k < 8; k++) {
      padded[padded.length - 1 - k] = Number((bitLength >> BigInt(8 * k)) & 0xffn);
    }
    const v = SM3_IV.slice();
    const w = new Array(68);
    const w1 = new Array(64);
    for (let offset = 0; offset < padded.length; offset += 64) {
      for (let j = 0; j < 16; j++) {
        const p = offset + 4 * j;
        w[j] = ((padded[p] << 24) | (padded[p + 1] << 16) | (padded[p + 2] << 8) | padded[p + 3]) >>> 0;
      }
      for (let j = 16; j < 68; j++) {
        w[j] = (sm3P1(w[j - 16] ^ w[j - 9] ^ rotl32(w[j - 3], 15)) ^ rotl32(w[j - 13], 7) ^ w[j - 6]) >>> 0;
      }
      for (let j = 0; j < 64; j++) w1[j] = (w[j] ^ w[j + 4]) >>> 0;
      let [a, b, c, d, e, f, g, h] = v;
      for (let j = 0; j < 64; j++) {
        const t = j < 16 ? 0x79cc4519 : 0x7a879d8a;
        const a12 = rotl32(a, 12);
        const ss1 = rotl32((a12 + e + rotl32(t, j % 32)) >>> 0, 7);
        const ss2 = (ss1 ^ a12) >>> 0;
        const ff = j < 16 ? a ^ b ^ c : (a & b) | (a & c) | (b & c);
        const gg = j < 16 ? e ^ f ^ g : (e & f) | (~e & g);
        const tt1 = ((ff >>> 0) + d + ss2 + w1[j]) >>> 0;
        const tt2 = ((gg >>> 0) + h + ss1 + w[j]) >>> 0;
        d = c;
        c = rotl32(b, 9);
        b = a;
        a = tt1;
        h = g;
        g = rotl32(f, 19);
        f = e;
        e = sm3P0(tt2);
      }
      const next = [a, b, c, d, e, f, g, h];
      for (let k = 0; k < 8; k++) v[k] = (v[k] ^ next[k]) >>> 0;
    }
    const out = new Uint8Array(32);
    for (let k = 0; k < 8; k++) {
      out[4 * k] = v[k] >>> 24;
      out[4 * k + 1] = (v[k] >>> 16) & 0xff;
      out[4 * k + 2] = (v[k] >>> 8) & 0xff;
      out[4 * k + 3] = v[k] & 0xff;
    }
    return out;
  }

  // ---------------------------------------------------------------------------------------------
  // Bytes and hex.

  function toBytes(data) {
    if (data instanceof Uint8Array) return data;
    if (typeof data === "string") {
      // UTF-8 without TextEncoder, so the same code runs anywhere.
      const out = [];
      for (const ch of data) {
        const cp = ch.codePointAt(0);
        if (cp < 0x80) out.push(cp);
        else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 63));
        else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
        else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
      }
      return Uint8Array.from(out);
    }
    if (Array.isArray(data) || ArrayBuffer.isView(data)) return Uint8Array.from(data);
    throw new TypeError("expected bytes or a string");
  }

  function toHex(bytes) {
    let s = "";
    for (let k = 0; k < bytes.length; k++) s += (bytes[k] < 16 ? "0" : "") + bytes[k].toString(16);
    return s;
  }

  /** A 32-byte seed from `0x` + 64 hex digits (the `0x` is optional). */
  function parseSeed(text) {
    const m = /^(?:0x)?([0-9a-fA-F]{64})$/.exec(String(text).trim());
    if (!m) throw new Error("the seed is not 32 bytes of hex");
    const out = new Uint8Array(32);
    for (let k = 0; k < 32; k++) out[k] = parseInt(m[1].substr(2 * k, 2), 16);
    return out;
  }

  /** The consensus hash of a crypto suite (l1/crypto/src/suite.rs, CryptoSuite::hash). */
  function suiteHash(suite) {
    switch (suite) {
      case "secp256k1-keccak":
        return keccak256;
      case "sm2-sm3":
        return sm3;
      default:
        throw new Error("unknown crypto suite " + JSON.stringify(String(suite)));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Swap-or-not shuffle and committee draw (l1/src/committees.rs).

  const SHUFFLE_ROUNDS = 90;

  /** u64_le(H(seed ‖ round)[0..8]) mod count. */
  function pivot(count, seed, round, hash) {
    const input = new Uint8Array(33);
    input.set(seed);
    input[32] = round;
    const digest = hash(input);
    let v = 0n;
    for (let k = 7; k >= 0; k--) v = (v << 8n) | BigInt(digest[k]);
    return Number(v % BigInt(count));
  }

  /** H(seed ‖ round ‖ u32_le(block)). */
  function source(seed, round, block, hash) {
    const input = new Uint8Array(37);
    input.set(seed);
    input[32] = round;
    input[33] = block & 0xff;
    input[34] = (block >>> 8) & 0xff;
    input[35] = (block >>> 16) & 0xff;
    input[36] = (block >>> 24) & 0xff;
    return hash(input);
  }

  function bit(src, position) {
    return ((src[Math.floor((position % 256) / 8)] >> (position % 8)) & 1) === 1;
  }

  function checkCount(count) {
    if (!Number.isInteger(count) || count < 0 || count > 0xffffffff) {
      throw new RangeError("count must be an integer in 0..2^32-1");
    }
  }

  /** Where `index` of `count` goes after `rounds` rounds (permute_index). */
  function permuteIndex(index, count, seed, rounds, hash) {
    checkCount(count);
    if (count <= 1 || index >= count) return index;
    const n = count;
    let i = index;
    for (let round = 0; round < rounds; round++) {
      const flip = (pivot(n, seed, round, hash) + n - i) % n;
      const position = Math.max(i, flip);
      const src = source(seed, round, Math.floor(position / 256), hash);
      if (bit(src, position)) i = flip;
    }
    return i;
  }

  /** The permuted list after `rounds` rounds (permute_list). */
  function permuteList(count, seed, rounds, hash) {
    checkCount(count);
    const list = [];
    for (let i = 0; i < count; i++) list.push(i);
    if (count <= 1) return list;
    const n = count;
    for (let round = 0; round < rounds; round++) {
      const p = pivot(n, seed, round, hash);
      let block = -1;
      let bits = null;
      for (let position = 0; position < n; position++) {
        const flip = (p + n - position) % n;
        if (flip >= position) continue;
        const positionBlock = Math.floor(position / 256);
        if (positionBlock !== block) {
          block = positionBlock;
          bits = source(seed, round, block, hash);
        }
        if (bit(bits, position)) {
          const t = list[flip];
          list[flip] = list[position];
          list[position] = t;
        }
      }
    }
    return list;
  }

  function shuffledIndex(index, count, seed, hash) {
    return permuteIndex(index, count, seed, SHUFFLE_ROUNDS, hash);
  }

  function shuffle(count, seed, hash) {
    return permuteList(count, seed, SHUFFLE_ROUNDS, hash);
  }

  /** committees::assign: `shards` committees of min(max(size, 1), members) member indices. */
  function assign(seed, members, shards, committeeSize, hash) {
    checkCount(members);
    checkCount(shards);
    checkCount(committeeSize);
    const out = [];
    if (shards === 0) return out;
    if (members === 0) {
      for (let s = 0; s < shards; s++) out.push([]);
      return out;
    }
    const n = members;
    const c = Math.min(Math.max(committeeSize, 1), n);
    const permuted = shuffle(members, seed, hash);
    for (let shard = 0; shard < shards; shard++) {
      // shard * c < 2^64: exact as a BigInt, then back below n.
      const start = Number((BigInt(shard) * BigInt(c)) % BigInt(n));
      const seats = [];
      for (let seat = 0; seat < c; seat++) seats.push(permuted[(start + seat) % n]);
      out.push(seats);
    }
    return out;
  }

  /**
   * beacon::draw_committees, with member indices for keys: a committee size of at least the
   * member count seats every member in member order on every shard, with no shuffle.
   */
  function drawCommittees(seed, members, shards, committeeSize, hash) {
    checkCount(members);
    checkCount(shards);
    checkCount(committeeSize);
    if (committeeSize >= members) {
      const everyone = [];
      for (let i = 0; i < members; i++) everyone.push(i);
      const out = [];
      for (let s = 0; s < shards; s++) out.push(everyone.slice());
      return out;
    }
    return assign(seed, members, shards, committeeSize, hash);
  }

  // ---------------------------------------------------------------------------------------------
  // Self-check and comparison.

  const VECTORS = [
    ["keccak256", keccak256, "", "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"],
    ["keccak256", keccak256, "abc", "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"],
    ["sm3", sm3, "abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"],
  ];

  /** Null if the hashes give their known answers, else a description of the first that does not. */
  function selfCheck() {
    for (const [name, fn, input, expected] of VECTORS) {
      const got = toHex(fn(input));
      if (got !== expected) {
        return "self-check failed: " + name + "(" + JSON.stringify(input) + ") = " + got + ", expected " + expected;
      }
    }
    return null;
  }

  /**
   * The node's rule for members who left at the start of the epoch (BeaconState::next_committees):
   * each committee keeps only the members still present, and a committee left empty becomes
   * every present member, in member order. `remaining` lists the present members' indices in
   * member order (indices past the draw's members are members who joined since the draw).
   */
  function withoutLeavers(committees, remaining) {
    const present = new Set(remaining);
    return committees.map(function (seats) {
      const kept = seats.filter(function (m) { return present.has(m); });
      return kept.length ? kept : remaining.slice();
    });
  }

  /** Null if `reported` equals `computed`, else where they first differ. */
  function compareCommittees(computed, reported) {
    if (!Array.isArray(reported)) return "the node's committees are not a list";
    if (reported.length !== computed.length) {
      return "the node reports " + reported.length + " committees, the draw gives " + computed.length;
    }
    for (let s = 0; s < computed.length; s++) {
      const a = computed[s];
      const b = reported[s];
      const same =
        Array.isArray(b) && b.length === a.length && a.every((m, k) => b[k] === m);
      if (!same) {
        return "shard " + s + ": the node reports " + JSON.stringify(b) + ", the draw gives " + JSON.stringify(a);
      }
    }
    return null;
  }

  /** A non-negative integer attribute. */
  function intAttr(el, name) {
    const raw = el.getAttribute(name);
    if (raw === null || !/^\s*\d+\s*$/.test(raw)) throw new Error(name + " is not a non-negative integer");
    const v = Number(raw);
    if (!Number.isSafeInteger(v) || v > 0xffffffff) throw new Error(name + " is out of range");
    return v;
  }

  // The largest member count the page will shuffle (the work grows linearly with it).
  const MAX_MEMBERS = 1 << 16;

  /**
   * The check on plain inputs: { seed, members, shards, size, suite, committees } where
   * `committees` is the node's (indices). Returns { verdict: "match" | "mismatch" | "error",
   * detail }.
   */
  function check(input) {
    try {
      const failed = selfCheck();
      if (failed) return { verdict: "error", detail: failed };
      const hash = suiteHash(input.suite);
      const seed = parseSeed(input.seed);
      if (input.members > MAX_MEMBERS) {
        return { verdict: "error", detail: "more than " + MAX_MEMBERS + " members" };
      }
      let computed = drawCommittees(seed, input.members, input.shards, input.size, hash);
      if (Array.isArray(input.remaining)) computed = withoutLeavers(computed, input.remaining);
      const diff = compareCommittees(computed, input.committees);
      return diff ? { verdict: "mismatch", detail: diff } : { verdict: "match", detail: "" };
    } catch (e) {
      return { verdict: "error", detail: e && e.message ? e.message : String(e) };
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The page.

  const ENGLISH = {
    match: "The committees match a recomputation from the seed.",
    mismatch: "The committees do not match a recomputation from the seed.",
    error: "The committees could not be recomputed.",
  };

  /** The present members from `#committees-remaining`, or undefined when the page has none. */
  function remainingOf(doc) {
    const el = doc.getElementById("committees-remaining");
    if (!el) return undefined;
    let list;
    try {
      list = JSON.parse(el.textContent);
    } catch (_) {
      throw new Error("the remaining members are not JSON");
    }
    if (!Array.isArray(list) || !list.every(function (i) { return Number.isSafeInteger(i) && i >= 0; })) {
      throw new Error("the remaining members are not a list of indices");
    }
    return list;
  }

  function runOnPage(doc) {
    const section = doc.getElementById("committee-check");
    if (!section) return;
    const output = doc.getElementById("committee-check-result");
    if (!output) return;
    let result;
    try {
      const data = doc.getElementById("committees-data");
      if (!data) throw new Error("the committees data is missing");
      let committees;
      try {
        committees = JSON.parse(data.textContent);
      } catch (_) {
        throw new Error("the committees data is not JSON");
      }
      result = check({
        seed: section.getAttribute("data-seed") || "",
        members: intAttr(section, "data-members"),
        shards: intAttr(section, "data-shards"),
        size: intAttr(section, "data-size"),
        suite: section.getAttribute("data-suite") || "",
        committees: committees,
        remaining: remainingOf(doc),
      });
    } catch (e) {
      result = { verdict: "error", detail: e && e.message ? e.message : String(e) };
    }
    const localised = output.getAttribute("data-text-" + result.verdict);
    let text = localised !== null && localised !== "" ? localised : ENGLISH[result.verdict];
    if ((localised === null || localised === "") && result.verdict === "error" && result.detail) {
      text = ENGLISH.error.replace(/\.$/, "") + ": " + result.detail + ".";
    }
    output.textContent = text;
    output.dataset.verdict = result.verdict;
    if (result.detail) {
      output.dataset.detail = result.detail;
      output.setAttribute("title", result.detail);
    } else {
      delete output.dataset.detail;
      output.removeAttribute("title");
    }
  }

  function safeRun(doc) {
    try {
      runOnPage(doc);
    } catch (_) {
      // runOnPage reports its own errors; this only guards against a broken DOM.
    }
  }

  function wire(doc) {
    const start = function () {
      if (!doc.getElementById("committee-check")) return;
      const button = doc.getElementById("committee-check-run");
      if (button) button.addEventListener("click", function () { safeRun(doc); });
      safeRun(doc);
    };
    if (doc.readyState === "loading") doc.addEventListener("DOMContentLoaded", start);
    else start();
  }

  const api = {
    keccak256,
    sha3_256,
    sm3,
    suiteHash,
    toHex,
    parseSeed,
    SHUFFLE_ROUNDS,
    permuteIndex,
    permuteList,
    shuffledIndex,
    shuffle,
    assign,
    drawCommittees,
    selfCheck,
    compareCommittees,
    check,
    runOnPage,
    wire,
  };

  if (typeof module !== "undefined" && module && module.exports) {
    module.exports = api;
  }
  if (typeof document !== "undefined" && document && typeof document.getElementById === "function") {
    wire(document);
  }
})();
