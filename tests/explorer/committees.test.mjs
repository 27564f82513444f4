// Tests explorer/static/committees.js (the epoch page's committee check) under Node, without a
// browser, a node or a test framework:
//   node tests/explorer/committees.test.mjs
// The script is loaded as the classic script it is (vm, with only `module` defined, so it
// exports its functions and wires no DOM). Checked:
//   - Keccak-256 and SM3 known answers, and the sponge and SM3 against node:crypto's SHA3-256
//     and SM3 over many lengths (skipped where this Node lacks them);
//   - the shuffle is a permutation for counts 0..40, and permute_list agrees with permute_index;
//   - the pinned answers of l1/src/committees.rs's known_answers test (with SHA-256 as the hash);
//   - committees as `kaimeng_committees` returned them from `kaimeng dev` nodes (literals below);
//   - the page logic against a small fake DOM: match, mismatch, error, localised texts, button.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import vm from "node:vm";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const scriptPath = path.join(here, "..", "..", "explorer", "static", "committees.js");
const source = fs.readFileSync(scriptPath, "utf8");

const consoleCalls = [];
const recordingConsole = new Proxy({}, {
  get: (_, name) => (...args) => consoleCalls.push([name, ...args]),
});

/** Runs the script in a fresh context with `extra` globals; returns its module.exports. */
function load(extra = {}) {
  const module = { exports: {} };
  vm.runInNewContext(source, { module, console: recordingConsole, ...extra }, { filename: scriptPath });
  return module.exports;
}

const C = load();

let passed = 0;
const failures = [];
function test(name, fn) {
  try {
    fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (error) {
    failures.push(name);
    console.log(`FAIL ${name}\n     ${String(error && error.stack ? error.stack : error).split("\n").join("\n     ")}`);
  }
}

const hex = (bytes) => Buffer.from(bytes).toString("hex");
const sha256 = (data) => new Uint8Array(crypto.createHash("sha256").update(data).digest());
/** The Rust tests' seed(k): sha256("kaimeng/committees/test-seed/" ‖ u32_le(k)). */
function testSeed(k) {
  const le = Buffer.alloc(4);
  le.writeUInt32LE(k);
  return sha256(Buffer.concat([Buffer.from("kaimeng/committees/test-seed/"), le]));
}
function isPermutation(list, count) {
  if (!Array.isArray(list) || list.length !== count) return false;
  const seen = new Set(list);
  return seen.size === count && list.every((i) => Number.isInteger(i) && i >= 0 && i < count);
}
const hashes = { "secp256k1-keccak": C.keccak256, "sm2-sm3": C.sm3, sha256 };
// The functions come from another vm context: compare through JSON, not deepStrictEqual.
const same = (a, b, message) => assert.equal(JSON.stringify(a), JSON.stringify(b), message);

// ----------------------------------------------------------------------------------------------
// Hashes

test("known answers: Keccak-256 and SM3", () => {
  assert.equal(hex(C.keccak256("")), "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  assert.equal(hex(C.keccak256("abc")), "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
  assert.equal(hex(C.sm3("abc")), "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
  // GB/T 32905 example 2: "abcd" sixteen times (two blocks once padded).
  assert.equal(hex(C.sm3("abcd".repeat(16))), "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732");
  // SHA3-256("") shows the sponge with the FIPS 202 padding.
  assert.equal(hex(C.sha3_256("")), "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a");
  assert.equal(C.selfCheck(), null);
});

test("Keccak sponge and SM3 agree with node:crypto (SHA3-256, SM3) on lengths 0..300", () => {
  const available = crypto.getHashes();
  const lengths = [];
  for (let n = 0; n <= 300; n++) lengths.push(n);
  let compared = 0;
  for (const n of lengths) {
    const data = crypto.createHash("sha512").update(`input ${n}`).digest();
    const bytes = new Uint8Array(n);
    for (let k = 0; k < n; k++) bytes[k] = data[k % data.length] ^ (k >> 6);
    if (available.includes("sha3-256")) {
      assert.equal(hex(C.sha3_256(bytes)), crypto.createHash("sha3-256").update(bytes).digest("hex"), `sha3-256 of ${n} bytes`);
      compared++;
    }
    if (available.includes("sm3")) {
      assert.equal(hex(C.sm3(bytes)), crypto.createHash("sm3").update(bytes).digest("hex"), `sm3 of ${n} bytes`);
      compared++;
    }
  }
  if (compared === 0) console.log("     (node:crypto has neither sha3-256 nor sm3: skipped)");
});

test("suiteHash picks Keccak-256 and SM3 and refuses other names", () => {
  assert.equal(C.suiteHash("secp256k1-keccak"), C.keccak256);
  assert.equal(C.suiteHash("sm2-sm3"), C.sm3);
  assert.throws(() => C.suiteHash("ed25519"));
});

// ----------------------------------------------------------------------------------------------
// Shuffle

test("the shuffle is a permutation for counts 0..40 (both suites, several seeds)", () => {
  for (const suite of ["secp256k1-keccak", "sm2-sm3"]) {
    for (let k = 0; k < 3; k++) {
      const seed = testSeed(100 + k);
      for (let count = 0; count <= 40; count++) {
        const list = C.shuffle(count, seed, hashes[suite]);
        assert.ok(isPermutation(list, count), `${suite}, seed ${k}, count ${count}: ${JSON.stringify(list)}`);
      }
    }
  }
});

test("shuffle and shuffledIndex agree: list[shuffledIndex(i)] == i", () => {
  for (const suite of ["secp256k1-keccak", "sm2-sm3"]) {
    for (const count of [1, 2, 3, 7, 13, 40]) {
      const seed = testSeed(count);
      const list = C.shuffle(count, seed, hashes[suite]);
      for (let i = 0; i < count; i++) {
        assert.equal(list[C.shuffledIndex(i, count, seed, hashes[suite])], i, `${suite}, count ${count}, index ${i}`);
      }
    }
  }
  // Across a block boundary (positions >= 256), with the faster hash.
  for (const count of [257, 300]) {
    const list = C.shuffle(count, testSeed(2), sha256);
    assert.ok(isPermutation(list, count));
    for (let i = 0; i < count; i += 7) assert.equal(list[C.shuffledIndex(i, count, testSeed(2), sha256)], i);
  }
});

test("list and index forms agree for any number of rounds (as the Rust test)", () => {
  for (const rounds of [0, 1, 2, 3, 17]) {
    for (const count of [2, 3, 7, 40, 300]) {
      const list = C.permuteList(count, testSeed(5), rounds, sha256);
      for (let i = 0; i < count; i++) {
        assert.equal(list[C.permuteIndex(i, count, testSeed(5), rounds, sha256)], i);
      }
    }
  }
});

test("pinned answers of l1/src/committees.rs (known_answers, SHA-256)", () => {
  const zero = new Uint8Array(32);
  same(C.shuffle(10, zero, sha256), [5, 3, 9, 8, 2, 6, 7, 1, 4, 0]);
  same(C.shuffle(300, testSeed(1), sha256).slice(0, 8), [298, 87, 165, 77, 286, 157, 230, 194]);
  same(C.assign(zero, 10, 3, 4, sha256), [[5, 3, 9, 8], [2, 6, 7, 1], [4, 0, 5, 3]]);
});

test("edge cases (as the Rust edge_cases test)", () => {
  const s = testSeed(0);
  same(C.shuffle(0, s, sha256), []);
  same(C.shuffle(1, s, sha256), [0]);
  assert.equal(C.shuffledIndex(0, 1, s, sha256), 0);
  assert.equal(C.shuffledIndex(5, 0, s, sha256), 5);
  assert.equal(C.shuffledIndex(5, 5, s, sha256), 5);
  assert.equal(C.shuffledIndex(0xffffffff, 3, s, sha256), 0xffffffff);
  assert.ok(C.shuffledIndex(0xfffffffe, 0xffffffff, s, sha256) < 0xffffffff);
  same(C.assign(s, 0, 0, 0, sha256), []);
  same(C.assign(s, 10, 0, 4, sha256), []);
  same(C.assign(s, 0, 3, 4, sha256), [[], [], []]);
  same(C.assign(s, 1, 3, 0, sha256), [[0], [0], [0]]);
  same(C.assign(s, 1, 2, 4, sha256), [[0], [0]]);
  assert.ok(C.assign(s, 5, 5, 0, sha256).every((c) => c.length === 1));
  for (const committee of C.assign(s, 6, 3, 0xffffffff, sha256)) {
    same([...committee].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5]);
  }
  // draw_committees: a size of at least the member count seats everyone in member order.
  same(C.drawCommittees(s, 4, 2, 4, sha256), [[0, 1, 2, 3], [0, 1, 2, 3]]);
  same(C.drawCommittees(s, 4, 2, 9, sha256), [[0, 1, 2, 3], [0, 1, 2, 3]]);
  same(C.drawCommittees(s, 0, 2, 0, sha256), [[], []]);
  same(C.drawCommittees(s, 10, 3, 4, sha256), C.assign(s, 10, 3, 4, sha256));
});

test("committees have distinct members in range (as the Rust test, fewer cases)", () => {
  for (let members = 1; members <= 12; members++) {
    for (let shards = 1; shards <= 4; shards++) {
      for (const size of [0, 1, 2, 5, 12]) {
        const committees = C.assign(testSeed(members), members, shards, size, C.keccak256);
        assert.equal(committees.length, shards);
        const c = Math.min(Math.max(size, 1), members);
        for (const committee of committees) {
          assert.equal(committee.length, c);
          assert.equal(new Set(committee).size, c);
          assert.ok(committee.every((m) => m >= 0 && m < members));
        }
      }
    }
  }
});

// ----------------------------------------------------------------------------------------------
// Vectors from `kaimeng dev` (JSON-RPC kaimeng_committees [epoch]). Member indices are positions
// in the result's `members` (the draw's member list, in member order); in every case
// `epochMembers` was the same list in the same order. `size` is `committeeSize`.

const NODE_VECTORS = [
  // kaimeng dev --port 24545 --no-sequencer --validators 4 --shards 3 --committee-size 2
  { label: "4 members, 3 shards, size 2: epochs 0 and 1 (genesis seed)", suite: "secp256k1-keccak", seed: "0xfa1e1f1d5b159d6bef67a6bff3847cfe46c2df6f8895eb06a11f468f5d315c7a", members: 4, shards: 3, size: 2, committees: [[0, 2], [1, 3], [0, 2]] },
  { label: "4 members, 3 shards, size 2: epoch 2 (drawn in 1)", suite: "secp256k1-keccak", seed: "0x18c4c9a5569c4bcdf971be698adc7a81ebf8854f46d8e5bd1170b4588b849149", members: 4, shards: 3, size: 2, committees: [[1, 0], [2, 3], [1, 0]] },
  { label: "4 members, 3 shards, size 2: epoch 3 (drawn in 2)", suite: "secp256k1-keccak", seed: "0x33a2b61f7418e40b85d016f6a28f9ddc75f486a365e9c392cb3d8a9c36e1d8e5", members: 4, shards: 3, size: 2, committees: [[1, 2], [3, 0], [1, 2]] },
  // kaimeng dev --port 24545 --no-sequencer --validators 7 --shards 2 --committee-size 3
  { label: "7 members, 2 shards, size 3: epochs 0 and 1 (genesis seed)", suite: "secp256k1-keccak", seed: "0xc0f2735cc57d7bbe11c570544a4f788cf7a4f6adc7ecb2bd271bfa1d07b1f0c3", members: 7, shards: 2, size: 3, committees: [[4, 6, 5], [2, 1, 0]] },
  { label: "7 members, 2 shards, size 3: epoch 2 (drawn in 1)", suite: "secp256k1-keccak", seed: "0xdf65438d9e36a810b81b135c351b17f3a6f50bc156be7b62f4486dc5ac1775af", members: 7, shards: 2, size: 3, committees: [[5, 6, 0], [1, 4, 3]] },
  { label: "7 members, 2 shards, size 3: epoch 3 (drawn in 2)", suite: "secp256k1-keccak", seed: "0x00d9cc08396e15e318da334c66b877721c52674704a5c6531816d01f79097b02", members: 7, shards: 2, size: 3, committees: [[1, 2, 0], [5, 3, 6]] },
  // kaimeng dev --port 24545 --no-sequencer --validators 5 --shards 3 --committee-size 2 --crypto-suite sm2-sm3
  { label: "SM2/SM3, 5 members, 3 shards, size 2: epochs 0 and 1 (genesis seed)", suite: "sm2-sm3", seed: "0xdae8be29f206a7aff7e96b61019981aa75eb409705aafb2e2e21b64c593d5137", members: 5, shards: 3, size: 2, committees: [[2, 3], [1, 0], [4, 2]] },
  { label: "SM2/SM3, 5 members, 3 shards, size 2: epoch 2 (drawn in 1)", suite: "sm2-sm3", seed: "0x8cd632883c9aff74db06796119fc650a351236c5bbe23a31bc70be466b4c21cf", members: 5, shards: 3, size: 2, committees: [[0, 2], [1, 4], [3, 0]] },
  { label: "SM2/SM3, 5 members, 3 shards, size 2: epoch 3 (drawn in 2)", suite: "sm2-sm3", seed: "0x66a5f779cea84d746d6d165e8e13d73d33799d82fd15da083f1fd2a2ab379642", members: 5, shards: 3, size: 2, committees: [[4, 0], [2, 3], [1, 4]] },
  // kaimeng dev --port 24545 --no-sequencer --validators 3 --shards 2 (no --committee-size: the
  // node reports committeeSize 3, every member in member order, no shuffle)
  { label: "3 members, 2 shards, default size: epochs 0 and 1 (genesis seed)", suite: "secp256k1-keccak", seed: "0x43de5c96ffd95d69601b0e7a6cc8ce204f4e25c44c5c641a41a34eb280371ad6", members: 3, shards: 2, size: 3, committees: [[0, 1, 2], [0, 1, 2]] },
  { label: "3 members, 2 shards, default size: epoch 2 (drawn in 1)", suite: "secp256k1-keccak", seed: "0x450f1af06f3a37dfd4ae61e376a32d4ffc72213f33b4e773553622b513e52942", members: 3, shards: 2, size: 3, committees: [[0, 1, 2], [0, 1, 2]] },
];

for (const v of NODE_VECTORS) {
  test(`node vector: ${v.label}`, () => {
    const hash = C.suiteHash(v.suite);
    same(C.drawCommittees(C.parseSeed(v.seed), v.members, v.shards, v.size, hash), v.committees);
    if (v.size < v.members) same(C.assign(C.parseSeed(v.seed), v.members, v.shards, v.size, hash), v.committees);
    same(C.check(v), { verdict: "match", detail: "" });
  });
}

test("the member-order rule matters: shuffling the size-3-of-3 draws would not give the node's order", () => {
  const shuffled = NODE_VECTORS.filter((v) => v.size >= v.members).map((v) =>
    C.assign(C.parseSeed(v.seed), v.members, v.shards, v.size, C.suiteHash(v.suite)));
  assert.ok(shuffled.some((c) => JSON.stringify(c) !== JSON.stringify([[0, 1, 2], [0, 1, 2]])), JSON.stringify(shuffled));
});

test("node vectors: a wrong suite, seed, seat order or shard is a mismatch", () => {
  const v = NODE_VECTORS[3];
  assert.equal(C.check({ ...v, suite: "sm2-sm3" }).verdict, "mismatch");
  assert.equal(C.check({ ...v, seed: NODE_VECTORS[4].seed }).verdict, "mismatch");
  assert.equal(C.check({ ...v, committees: [[6, 4, 5], [2, 1, 0]] }).verdict, "mismatch");
  assert.equal(C.check({ ...v, committees: [[4, 6, 5]] }).verdict, "mismatch");
  assert.equal(C.check({ ...v, committees: [[4, 6, 5], [2, 1, 0], [3]] }).verdict, "mismatch");
  assert.equal(C.check({ ...v, committees: [["4", 6, 5], [2, 1, 0]] }).verdict, "mismatch");
  assert.equal(C.check({ ...v, committees: { 0: [4, 6, 5] } }).verdict, "mismatch");
  assert.equal(C.check({ ...v, seed: "0x1234" }).verdict, "error");
  assert.equal(C.check({ ...v, suite: "rsa" }).verdict, "error");
});

// ----------------------------------------------------------------------------------------------
// The page, against a fake DOM with just what the script uses.

class FakeElement {
  constructor(id, attributes = {}, text = "") {
    this.id = id;
    this.attributes = new Map(Object.entries(attributes));
    this.textContent = text;
    this.dataset = {};
    this.listeners = {};
    for (const [name, value] of this.attributes) {
      if (name.startsWith("data-")) this.dataset[name.slice(5).replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = value;
    }
    Object.defineProperty(this, "innerHTML", {
      get() { throw new Error("innerHTML read"); },
      set() { throw new Error("innerHTML written"); },
    });
  }
  getAttribute(name) { return this.attributes.has(name) ? this.attributes.get(name) : null; }
  setAttribute(name, value) { this.attributes.set(name, String(value)); }
  removeAttribute(name) { this.attributes.delete(name); }
  addEventListener(type, fn) { (this.listeners[type] ||= []).push(fn); }
  fire(type) { for (const fn of this.listeners[type] || []) fn({ type }); }
}

function fakePage({ section = {}, data = "[[0,1,2,3]]", output = {}, withButton = true, readyState = "loading" } = {}) {
  const elements = {};
  const add = (el) => { elements[el.id] = el; return el; };
  if (section !== null) add(new FakeElement("committee-check", section));
  if (data !== null) add(new FakeElement("committees-data", { type: "application/json" }, data));
  if (withButton) add(new FakeElement("committee-check-run", { type: "button" }));
  if (output !== null) add(new FakeElement("committee-check-result", output));
  const doc = new FakeElement("#document");
  doc.readyState = readyState;
  doc.getElementById = (id) => elements[id] || null;
  return { doc, elements };
}

/** Loads the script with `doc` as the document, then fires DOMContentLoaded. */
function runPage(page) {
  load({ document: page.doc });
  page.doc.readyState = "interactive";
  page.doc.fire("DOMContentLoaded");
  return page.elements["committee-check-result"];
}

const V = NODE_VECTORS[6]; // SM2/SM3, 5 members, 3 shards, size 2
const sectionOf = (v) => ({
  "data-seed": v.seed, "data-members": String(v.members), "data-shards": String(v.shards),
  "data-size": String(v.size), "data-suite": v.suite,
});

test("page: a node vector is a match on DOMContentLoaded, in English by default", () => {
  const out = runPage(fakePage({ section: sectionOf(V), data: JSON.stringify(V.committees) }));
  assert.equal(out.dataset.verdict, "match");
  assert.match(out.textContent, /match/i);
  assert.equal(out.getAttribute("title"), null);
});

test("page: localised texts, mismatch detail, and the button re-runs", () => {
  const texts = { "data-text-match": "一致", "data-text-mismatch": "不一致", "data-text-error": "无法校验" };
  const page = fakePage({ section: sectionOf(V), data: "[[3,2],[1,0],[4,2]]", output: texts });
  const out = runPage(page);
  assert.equal(out.dataset.verdict, "mismatch");
  assert.equal(out.textContent, "不一致");
  assert.match(out.dataset.detail, /shard 0/);
  assert.match(out.getAttribute("title"), /shard 0/);
  // The page data changes (as if corrected) and the button runs the check again.
  page.elements["committees-data"].textContent = JSON.stringify(V.committees);
  page.elements["committee-check-run"].fire("click");
  assert.equal(out.dataset.verdict, "match");
  assert.equal(out.textContent, "一致");
  assert.equal(out.dataset.detail, undefined);
  assert.equal(out.getAttribute("title"), null);
});

test("page: the script also works when loaded after the document is parsed", () => {
  const page = fakePage({ section: sectionOf(V), data: JSON.stringify(V.committees), readyState: "complete" });
  load({ document: page.doc });
  assert.equal(page.elements["committee-check-result"].dataset.verdict, "match");
});

test("page: bad inputs give the verdict error, never an exception", () => {
  const texts = { "data-text-error": "无法校验" };
  const cases = [
    { section: sectionOf(V), data: "not json" },
    { section: sectionOf(V), data: null },
    { section: { ...sectionOf(V), "data-seed": "0xzz" }, data: "[]" },
    { section: { ...sectionOf(V), "data-members": "-1" }, data: "[]" },
    { section: { ...sectionOf(V), "data-members": "99999999999" }, data: "[]" },
    { section: { ...sectionOf(V), "data-shards": "" }, data: "[]" },
    { section: { ...sectionOf(V), "data-size": undefined }, data: "[]" },
    { section: { ...sectionOf(V), "data-suite": "sha256" }, data: "[]" },
    { section: { ...sectionOf(V), "data-members": "100000" }, data: "[]" },
  ];
  for (const c of cases) {
    for (const [k, val] of Object.entries(c.section)) if (val === undefined) delete c.section[k];
    const out = runPage(fakePage(c));
    assert.equal(out.dataset.verdict, "error", JSON.stringify(c));
    assert.ok(out.dataset.detail, JSON.stringify(c));
    // Without a localised text, the English text carries the detail.
    const english = runPage(fakePage({ ...c, output: {} }));
    assert.ok(english.textContent.includes(english.dataset.detail), english.textContent);
    const localised = runPage(fakePage({ ...c, output: texts }));
    assert.equal(localised.textContent, "无法校验");
  }
});

test("page: no section, or no output element, does nothing and throws nothing", () => {
  const none = fakePage({ section: null, output: null, withButton: false, data: null });
  runPage(none);
  const noOutput = fakePage({ section: sectionOf(V), output: null });
  runPage(noOutput);
  noOutput.elements["committee-check-run"].fire("click");
});

test("the script writes nothing to the console", () => {
  same(consoleCalls, []);
});


test("members who left: committees keep those present, and an emptied one becomes every present member", () => {
  const v = NODE_VECTORS[3]; // 7 members, committees [[4,6,5],[2,1,0]] (see its label)
  const drawn = C.drawCommittees(C.parseSeed(v.seed), v.members, v.shards, v.size, C.suiteHash(v.suite));
  // Member 6 left: shard 0 keeps its other two seats, in seat order.
  const without6 = [0, 1, 2, 3, 4, 5];
  const expected = drawn.map((seats) => seats.filter((m) => m !== 6));
  same(C.check({ ...v, committees: expected, remaining: without6 }), { verdict: "match", detail: "" });
  // The node reporting the committee as drawn, with the leaver still seated, is a mismatch.
  assert.equal(C.check({ ...v, committees: drawn, remaining: without6 }).verdict, "mismatch");
  // Every member of shard 1's committee left, and member 7 joined: shard 1 becomes every
  // present member, in member order.
  const present = [3, 4, 5, 6, 7];
  const refilled = [drawn[0].filter((m) => present.includes(m)), present];
  same(C.check({ ...v, committees: refilled, remaining: present }), { verdict: "match", detail: "" });
});

console.log(`\n${passed} passed, ${failures.length} failed`);
if (failures.length) process.exit(1);
