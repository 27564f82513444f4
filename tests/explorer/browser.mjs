// The block explorer in a real browser: Debian's Chromium driven by playwright-core (from
// tests/clients/node_modules) over every page of the explorer that the node at RPC_URL serves
// at RPC_URL/explorer/, using the data tests/explorer/seed.mjs wrote to SEED_OUT.
//
// Every page: the expected HTTP status, the page kind (`<main id="page" data-page=KIND>`), the
// real data on it, no console error, no uncaught exception, no request leaving 127.0.0.1, and
// never a dialog (an alert() would be markup from the chain run as script). Then: search for
// each kind of thing, malformed searches, an out-of-range page, a live update on the home page
// without a reload, the language switch and Accept-Language, and every explorer link found on
// the way. One PASS line per check; the first failure exits 1 with what was expected and got.
//
// Environment: RPC_URL (set by tests/with-dev-node.sh), SEED_OUT (seed.mjs's JSON),
// SCREENSHOTS=1 to save full-page screenshots into docs/explorer/, CHROMIUM (default
// /usr/bin/chromium), EXPLORER_WAIT_MS (default 15000) bounds each wait, EXPLORER_KEEP_GOING=1
// reports every failing group of checks instead of stopping at the first (still exits 1).
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, "..", "..");
const clients = path.join(root, "tests", "clients");
const require = createRequire(path.join(clients, "package.json"));
const { chromium, request: playwrightRequest } = require("playwright-core");
const { HDNodeWallet, JsonRpcProvider } = require("ethers");
const { DEV_MNEMONIC } = require(path.join(clients, "lib", "common.js"));

const WAIT_MS = Number(process.env.EXPLORER_WAIT_MS || 15_000);
const LIVE_MS = 10_000;
// How long the chain may take to include a transaction (the dev network can pause for ~30 s).
const CHAIN_MS = 60_000;
const RPC_URL = process.env.RPC_URL;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SHOTS = process.env.SCREENSHOTS === "1" ? path.join(root, "docs", "explorer") : null;
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let passed = 0;
let failed = 0;
let browser;
// EXPLORER_KEEP_GOING=1 (for working on the explorer): report every failing check and go on;
// by default the first failure ends the run.
const KEEP_GOING = process.env.EXPLORER_KEEP_GOING === "1";

function pass(message) {
  passed += 1;
  console.log(`PASS ${message}`);
}

class CheckFailed extends Error {}

function fail(message) {
  throw new CheckFailed(message);
}

function check(condition, message) {
  if (!condition) fail(message);
}

/** Runs one group of checks; in keep-going mode a failed group is counted and the run goes on. */
async function section(fn) {
  try {
    await fn();
  } catch (err) {
    if (!KEEP_GOING || !(err instanceof CheckFailed)) throw err;
    failed += 1;
    console.log(`FAIL ${err.message}`);
    // What the failed group saw must not fail the next one too.
    for (const state of watched) Object.assign(state, { errors: [], dialogs: [], foreign: [], expectedStatus: 200 });
  }
}

const lower = (s) => String(s).toLowerCase();
const digits = (s) => String(s).replace(/[^0-9]/g, "");
const short = (s, n = 300) => {
  const text = String(s).replace(/\s+/g, " ").trim();
  return text.length > n ? `${text.slice(0, n)}…` : text;
};

if (!RPC_URL) {
  console.error("browser.mjs: RPC_URL is not set (run under tests/with-dev-node.sh)");
  process.exit(2);
}
if (!process.env.SEED_OUT || !fs.existsSync(process.env.SEED_OUT)) {
  console.error("browser.mjs: SEED_OUT does not name the JSON that seed.mjs wrote");
  process.exit(2);
}
const seed = JSON.parse(fs.readFileSync(process.env.SEED_OUT, "utf8"));
const ORIGIN = new URL(RPC_URL).origin;
const BASE = `${ORIGIN}/explorer`;

async function rpc(method, params = []) {
  const response = await fetch(RPC_URL, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    signal: AbortSignal.timeout(WAIT_MS),
  });
  const body = await response.json();
  if (body.error) fail(`RPC ${method}: ${JSON.stringify(body.error)}`);
  return body.result;
}

// ---------------------------------------------------------------------------------------------
// One page under watch: console errors, uncaught exceptions, dialogs, requests off this origin.

const watched = [];

function watch(page, label) {
  const state = { label, errors: [], dialogs: [], foreign: [], expectedStatus: 200 };
  watched.push(state);
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    const text = message.text();
    // Chromium reports a document answered with 4xx as a console error; an error page that is
    // meant to be 4xx is not a fault. Anything else logged as an error is.
    const expected4xx =
      state.expectedStatus >= 400 &&
      /status of 4\d\d\b/.test(text) &&
      (message.location().url || "") === page.url();
    if (!expected4xx) state.errors.push(`console error: ${text} (at ${message.location().url || "?"})`);
  });
  page.on("pageerror", (error) => state.errors.push(`uncaught exception: ${error.message}`));
  page.on("dialog", (dialog) => {
    state.dialogs.push(`${dialog.type()}("${dialog.message()}")`);
    dialog.dismiss().catch(() => {});
  });
  page.on("request", (req) => {
    const url = req.url();
    if (url.startsWith("data:") || url.startsWith("blob:") || url.startsWith("about:")) return;
    if (new URL(url).origin !== ORIGIN) state.foreign.push(url);
  });
  return state;
}

/** Fails if anything bad was seen on `page` since the last call; a short settle first. */
async function clean(page, state, where) {
  await page.waitForTimeout(250);
  check(state.dialogs.length === 0, `${where}: a dialog opened (markup from the chain ran as script): ${state.dialogs.join(", ")}`);
  check(state.errors.length === 0, `${where}: ${state.errors.join(" | ")}`);
  check(state.foreign.length === 0, `${where}: requests left ${ORIGIN}: ${state.foreign.join(" ")}`);
}

/** The things every explorer page has; returns { kind, lang, h1 }. */
async function frame(page, where) {
  const info = await page.evaluate(() => {
    const main = document.querySelector("main#page");
    return {
      kind: main ? main.getAttribute("data-page") : null,
      lang: document.documentElement.getAttribute("lang"),
      h1: document.querySelector("h1") ? document.querySelector("h1").textContent.trim() : null,
      langEn: !!document.querySelector("a#lang-en"),
      langZh: !!document.querySelector("a#lang-zh"),
      search: !!document.querySelector("form#search input[name=q]"),
      body: document.body ? document.body.innerText.slice(0, 400) : "",
    };
  });
  check(info.kind !== null, `${where}: no <main id="page" data-page=...> (page starts: "${short(info.body)}")`);
  check(info.lang, `${where}: <html> has no lang attribute`);
  check(info.h1, `${where}: no <h1>`);
  check(info.langEn && info.langZh, `${where}: no a#lang-en / a#lang-zh in the nav`);
  check(info.search, `${where}: no form#search with input[name=q]`);
  return info;
}

/**
 * Loads `url` (relative to /explorer) and checks status, page kind, language and the page's
 * frame. Returns { response, info }.
 */
async function visit(page, state, rel, { status = 200, kind, lang = "en", statuses } = {}) {
  const url = rel.startsWith("http") ? rel : `${BASE}${rel}`;
  state.expectedStatus = Math.max(status, ...(statuses || []));
  let response;
  try {
    response = await page.goto(url, { waitUntil: "load", timeout: WAIT_MS });
  } catch (err) {
    fail(`GET ${url}: ${err.message.split("\n")[0]}`);
  }
  check(response, `GET ${url}: no response`);
  const got = response.status();
  const okStatuses = statuses || [status];
  if (!okStatuses.includes(got)) {
    const text = await page.evaluate(() => (document.body ? document.body.innerText : "")).catch(() => "");
    fail(`GET ${url}: HTTP ${got}, expected ${okStatuses.join(" or ")} (page: "${short(text)}")`);
  }
  const info = await frame(page, `GET ${url}`);
  if (kind) {
    const kinds = Array.isArray(kind) ? kind : [kind];
    check(kinds.includes(info.kind), `GET ${url}: data-page="${info.kind}", expected ${kinds.join(" or ")}`);
  }
  if (lang) check(lower(info.lang).startsWith(lang), `GET ${url}: <html lang="${info.lang}">, expected ${lang}`);
  await clean(page, state, `GET ${url}`);
  return { response, info, url };
}

async function text(page, selector, where) {
  const element = await page.$(selector);
  check(element, `${where}: no ${selector}`);
  return (await element.textContent()).trim();
}

/** Whether the page shows `value` (a hash or address), as text or in an explorer link. */
async function shows(page, value) {
  const needle = lower(value);
  return page.evaluate((needle) => {
    if (document.body.textContent.toLowerCase().includes(needle)) return true;
    return [...document.querySelectorAll("a[href]")].some((a) => a.getAttribute("href").toLowerCase().includes(needle));
  }, needle);
}

/** Markup from the chain must never have become elements. */
async function noInjectedElements(page, where) {
  const found = await page.evaluate(() => {
    const bad = [];
    for (const s of document.querySelectorAll("script")) {
      if (s.textContent.includes("alert(")) bad.push(`<script>${s.textContent.slice(0, 40)}`);
    }
    for (const el of document.querySelectorAll("img[src='x'], svg[onload], [onerror], [onload], b")) {
      const outer = el.outerHTML;
      if (/alert\(|refused/.test(outer)) bad.push(outer.slice(0, 80));
    }
    return bad;
  });
  check(found.length === 0, `${where}: markup from the chain became elements: ${found.join(" | ")}`);
}

async function screenshot(page, name) {
  if (!SHOTS) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true, timeout: WAIT_MS });
  console.log(`     screenshot docs/explorer/${name}.png`);
}

/** Polls `fn` in the page (surviving navigations) until it returns truthy, at most `ms`. */
async function waitInPage(page, fn, arg, ms, what) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await page.evaluate(fn, arg);
      if (last) return last;
    } catch (err) {
      last = err.message.split("\n")[0];
    }
    if (Date.now() > deadline) fail(`timed out after ${ms} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---------------------------------------------------------------------------------------------

async function pages(page, state) {
  const s0 = "/s/0";

  // JSON status.
  await section(async () => {
    const response = await page.request.get(`${BASE}/api/status`, { timeout: WAIT_MS });
    check(response.status() === 200, `GET ${BASE}/api/status: HTTP ${response.status()}, expected 200`);
    check(/json/.test(response.headers()["content-type"] || ""), `GET ${BASE}/api/status: content-type ${response.headers()["content-type"]}, expected JSON`);
    let body;
    try {
      body = await response.json();
    } catch (err) {
      fail(`GET ${BASE}/api/status: not JSON: ${short(await response.text())}`);
    }
    check(body && typeof body === "object", `GET ${BASE}/api/status: ${JSON.stringify(body)} is not an object`);
    pass(`api/status is JSON: ${short(JSON.stringify(body), 160)}`);
  });

  // Home.
  await section(async () => {
    const { url } = await visit(page, state, "/", { kind: "home" });
    const blocks = await page.$$eval("#latest-blocks tr[data-block]", (rows) => rows.map((r) => Number(r.dataset.block)));
    check(blocks.length > 0, `${url}: no rows tr[data-block] in #latest-blocks`);
    check(blocks.every(Number.isInteger), `${url}: data-block values ${blocks} are not all numbers`);
    const top = Math.max(...blocks);
    check(top >= seed.revert.blockNumber, `${url}: highest block shown is ${top}, the chain has ${seed.revert.blockNumber}`);
    pass(`home: ${blocks.length} latest blocks up to ${top}`);
    await screenshot(page, "home");
  });

  // Block by number and by hash.
  await section(async () => {
    const n = seed.eth.blockNumber;
    const { url } = await visit(page, state, `${s0}/block/${n}`, { kind: "block" });
    const shown = await text(page, "#block-number", url);
    check(digits(shown) === String(n), `${url}: #block-number is "${shown}", expected ${n}`);
    check(await shows(page, seed.eth.blockHash), `${url}: the block hash ${seed.eth.blockHash} is not on the page`);
    check(await shows(page, seed.eth.hash), `${url}: the block's transaction ${seed.eth.hash} is not on the page`);
    pass(`block ${n} by number: number, hash and its transaction shown`);
    await screenshot(page, "block");

    const byHash = await visit(page, state, `${s0}/block/${seed.eth.blockHash}`, { kind: "block" });
    const shownByHash = await text(page, "#block-number", byHash.url);
    check(digits(shownByHash) === String(n), `${byHash.url}: #block-number is "${shownByHash}", expected ${n}`);
    pass(`block ${n} by hash`);

    const genesis = await visit(page, state, `${s0}/block/0`, { kind: "block" });
    check(digits(await text(page, "#block-number", genesis.url)) === "0", `${genesis.url}: #block-number is not 0`);
    pass("genesis block 0");
  });

  // Transactions: the ETH transfer, a token transfer, the markup log, the revert, a deployment.
  await section(async () => {
    const { url } = await visit(page, state, `${s0}/tx/${seed.eth.hash}`, { kind: "tx" });
    check(lower(await text(page, "#tx-hash", url)).includes(lower(seed.eth.hash)), `${url}: #tx-hash does not show ${seed.eth.hash}`);
    check(lower(await text(page, "#tx-from", url)).includes(lower(seed.eth.from)), `${url}: #tx-from does not show ${seed.eth.from}`);
    const status = await text(page, "#tx-status", url);
    check(/success/i.test(status), `${url}: #tx-status is "${status}", expected a success word`);
    check(await shows(page, seed.eth.to), `${url}: the recipient ${seed.eth.to} is not on the page`);
    check(!(await page.$("#revert-reason")), `${url}: a successful transaction shows #revert-reason`);
    pass(`tx ${seed.eth.hash.slice(0, 10)}… (ETH transfer): hash, from, to, success`);
  });
  await section(async () => {
    const transfer = seed.token.transfers[0];
    const { url } = await visit(page, state, `${s0}/tx/${transfer.hash}`, { kind: "tx" });
    check(lower(await text(page, "#tx-hash", url)).includes(lower(transfer.hash)), `${url}: #tx-hash does not show ${transfer.hash}`);
    check(lower(await text(page, "#tx-from", url)).includes(lower(seed.owner)), `${url}: #tx-from does not show ${seed.owner}`);
    check(/success/i.test(await text(page, "#tx-status", url)), `${url}: #tx-status has no success word`);
    const logs = await page.$("#logs");
    check(logs, `${url}: no #logs`);
    check(lower(await logs.textContent()).includes(lower(seed.token.address)) || (await shows(page, seed.token.address)),
      `${url}: the Transfer log's address ${seed.token.address} is not shown`);
    await noInjectedElements(page, url);
    pass(`tx ${transfer.hash.slice(0, 10)}… (token transfer): hash, from, success, its Transfer log`);
    await screenshot(page, "transaction");
  });
  await section(async () => {
    const { url } = await visit(page, state, `${s0}/tx/${seed.note.tx}`, { kind: "tx" });
    const logs = await text(page, "#logs", url);
    const hexData = lower(seed.note.data.slice(2));
    const literal = logs.includes(seed.note.text);
    const compactLogs = lower(logs.replace(/[\s…]/g, ""));
    check(literal || compactLogs.includes(hexData.slice(0, 64)) || compactLogs.includes(lower(seed.note.address)),
      `${url}: #logs shows neither the note text nor its data nor its address: "${short(logs)}"`);
    await noInjectedElements(page, url);
    pass(`tx ${seed.note.tx.slice(0, 10)}… (log with markup): #logs ${literal ? "shows the markup as literal text" : "shows the log (as data)"}, no element made from it`);
  });
  await section(async () => {
    // The tx page's ABI form (#abi-form): the pasted ABI decodes the Note log, and the markup in
    // the decoded string stays text; ABIs carrying markup are refused or echoed as text.
    const { url } = await visit(page, state, `${s0}/tx/${seed.note.tx}`, { kind: "tx" });
    const abiText = JSON.stringify(seed.note.abi);
    const textarea = page.locator("#abi-form textarea[name=abi]");
    check(await textarea.count() === 1, `${url}: no #abi-form with textarea[name=abi]`);
    await textarea.fill(abiText, { timeout: WAIT_MS });
    let response;
    try {
      [response] = await Promise.all([
        page.waitForNavigation({ timeout: WAIT_MS, waitUntil: "load" }),
        page.locator("#abi-form [type=submit], #abi-form button").first().click({ timeout: WAIT_MS }),
      ]);
    } catch (err) {
      fail(`${url}: submitting #abi-form did not navigate: ${err.message.split("\n")[0]}`);
    }
    const where = `${url} with HtmlNote's ABI pasted`;
    check(response && response.status() === 200, `${where}: HTTP ${response && response.status()}, expected 200`);
    await frame(page, where);
    const logs = await text(page, "#logs", where);
    check(logs.includes(seed.note.text), `${where}: #logs does not show the decoded string ${JSON.stringify(seed.note.text)} literally: "${short(logs)}"`);
    check(/\bNote\b/.test(logs), `${where}: #logs does not name the event Note`);
    check((await textarea.inputValue()) === abiText, `${where}: the ABI textarea does not hold the pasted ABI unchanged`);
    await noInjectedElements(page, where);
    await clean(page, state, where);
    pass("tx page ABI form: the pasted ABI decodes Note(<img src=x onerror=alert(2)>) as literal text");

    const hostileParam = JSON.parse(abiText);
    hostileParam.find((item) => item.type === "event" && item.name === "Note").inputs[1].name = "<svg onload=alert(6)>";
    const hostileAbis = [
      ["an ABI whose parameter name is markup", JSON.stringify(hostileParam)],
      ["text that closes the textarea", "</textarea><script>alert(5)</script>"],
    ];
    for (const [what, abi] of hostileAbis) {
      const echo = await visit(page, state, `${s0}/tx/${seed.note.tx}?abi=${encodeURIComponent(abi)}`, { kind: ["tx", "error"], statuses: [200, 400] });
      state.expectedStatus = 200;
      if (echo.info.kind === "tx") {
        check((await textarea.inputValue()) === abi, `${echo.url}: the textarea does not hold the ABI as text`);
      }
      await noInjectedElements(page, echo.url);
      pass(`tx page with ${what}: HTTP ${echo.response.status()}, data-page="${echo.info.kind}", nothing ran`);
    }
  });
  await section(async () => {
    const { url } = await visit(page, state, `${s0}/tx/${seed.revert.hash}`, { kind: "tx" });
    const status = await text(page, "#tx-status", url);
    check(/fail|revert/i.test(status), `${url}: #tx-status is "${status}", expected a failed word`);
    const reason = await text(page, "#revert-reason", url);
    check(reason.includes(seed.revert.reason), `${url}: #revert-reason is "${reason}", expected it to contain ${JSON.stringify(seed.revert.reason)} literally`);
    await noInjectedElements(page, url);
    pass(`tx ${seed.revert.hash.slice(0, 10)}… (reverted): failed status, revert reason shown literally`);
  });
  await section(async () => {
    const { url } = await visit(page, state, `${s0}/tx/${seed.token.deployTx}`, { kind: "tx" });
    check(await shows(page, seed.token.address), `${url}: the created contract ${seed.token.address} is not on the page`);
    await noInjectedElements(page, url);
    pass(`tx ${seed.token.deployTx.slice(0, 10)}… (deployment): the created contract is shown`);
  });

  // Addresses.
  await section(async () => {
    const { url } = await visit(page, state, `${s0}/address/${seed.owner}`, { kind: "address" });
    check(lower(await text(page, "#address", url)).includes(lower(seed.owner)), `${url}: #address does not show ${seed.owner}`);
    const rows = await page.$$eval("#history tr[data-tx]", (r) => r.map((x) => x.dataset.tx.toLowerCase()));
    check(rows.length > 0, `${url}: no rows #history tr[data-tx]`);
    check(rows.includes(lower(seed.revert.hash)), `${url}: the newest transaction ${seed.revert.hash} is not in the first page of #history (${rows.length} rows)`);
    pass(`address ${seed.owner}: ${rows.length} history rows, newest first page has the seeded transactions`);
    await screenshot(page, "address");
  });
  await section(async () => {
    const r = seed.recipients[0];
    const { url } = await visit(page, state, `${s0}/address/${r}`, { kind: "address" });
    const rows = await page.$$eval("#history tr[data-tx]", (r) => r.map((x) => x.dataset.tx.toLowerCase()));
    check(rows.includes(lower(seed.eth.hash)), `${url}: the ETH transfer ${seed.eth.hash} to it is not in #history (rows: ${rows.join(" ")})`);
    pass(`address ${r} (recipient): the ETH transfer to it is in its history`);
  });
  await section(async () => {
    const { url } = await visit(page, state, `${s0}/address/${seed.token.address}`, { kind: ["address", "token"] });
    check(await shows(page, seed.token.address), `${url}: the address is not shown`);
    await noInjectedElements(page, url);
    pass(`address ${seed.token.address} (the token contract) renders`);
  });
  await section(async () => {
    const rel = `${s0}/address/${seed.owner}?page=999999`;
    const { response, info, url } = await visit(page, state, rel, { statuses: [200, 400, 404], status: 200, kind: ["address", "error"] });
    state.expectedStatus = 200;
    if (info.kind === "address") {
      const rows = await page.$$("#history tr[data-tx]");
      check(rows.length === 0, `${url}: page 999999 lists ${rows.length} transactions`);
    }
    pass(`address page 999999: HTTP ${response.status()}, data-page="${info.kind}" (a clear page, no 500)`);
  });

  // Tokens.
  await section(async () => {
    const { url } = await visit(page, state, `${s0}/tokens`, { kind: "tokens" });
    check(await shows(page, seed.token.address), `${url}: the token ${seed.token.address} is not listed`);
    const body = await page.evaluate(() => document.body.textContent);
    check(body.includes(seed.token.name), `${url}: the name ${seed.token.name} is not shown as literal text`);
    await noInjectedElements(page, url);
    pass(`tokens: lists ${seed.token.address} with its name as literal text`);
    await screenshot(page, "tokens");
  });
  await section(async () => {
    const { url } = await visit(page, state, `${s0}/token/${seed.token.address}`, { kind: "token" });
    const name = await text(page, "#token-name", url);
    const symbol = await text(page, "#token-symbol", url);
    check(name === seed.token.name, `${url}: #token-name textContent is ${JSON.stringify(name)}, expected ${JSON.stringify(seed.token.name)}`);
    check(symbol === seed.token.symbol, `${url}: #token-symbol textContent is ${JSON.stringify(symbol)}, expected ${JSON.stringify(seed.token.symbol)}`);
    const children = await page.$$eval("#token-name *, #token-symbol *", (els) => els.map((e) => e.tagName));
    check(!children.includes("SCRIPT"), `${url}: #token-name/#token-symbol contain a <script> element`);
    for (const holder of seed.token.transfers.map((t) => t.to)) {
      check(await shows(page, holder), `${url}: the holder/transfer recipient ${holder} is not on the page`);
    }
    await noInjectedElements(page, url);
    pass("token: #token-name and #token-symbol are the literal <script>alert(1)</script>, both recipients shown");
    await screenshot(page, "token");
  });

  // The consortium, epochs, shards, rollup.
  await section(async () => {
    const members = (await rpc("kaimeng_members")).members.map((m) => m.organisation);
    const { url } = await visit(page, state, "/consortium", { kind: "consortium" });
    const shown = await page.$$eval("#members tr[data-member]", (r) => r.map((x) => x.dataset.member));
    for (const m of members) check(shown.includes(m), `${url}: no #members tr[data-member="${m}"] (shown: ${shown.join(", ")})`);
    pass(`consortium: all ${members.length} members (${members.join(", ")})`);
    await screenshot(page, "consortium");
  });
  await section(async () => {
    const { url } = await visit(page, state, "/epochs", { kind: "epochs" });
    check(await page.$(`a[href$="/epoch/0"]`), `${url}: no link to epoch 0`);
    pass("epochs: links epoch 0");
    await screenshot(page, "epochs");
    const epoch = await visit(page, state, "/epoch/0", { kind: "epoch" });
    const n = await text(page, "#epoch-number", epoch.url);
    check(digits(n) === "0", `${epoch.url}: #epoch-number is "${n}", expected 0`);
    const validators = (await rpc("kaimeng_epoch")).validators.map((v) => v.organisation);
    for (const v of validators) check(await shows(page, v), `${epoch.url}: validator ${v} of epoch 0 is not shown`);
    pass(`epoch 0: number and its ${validators.length} validators`);
  });
  await section(async () => {
    await visit(page, state, "/shards", { kind: "shards" });
    const body = await page.evaluate(() => document.body.textContent);
    check(body.length > 0, "shards: empty page");
    check(await page.$(`a[href*="/s/0/"]`) || /\b0\b/.test(body), "shards: shard 0 is not shown");
    pass("shards");
    await screenshot(page, "shards");
    await visit(page, state, "/rollup", { kind: "rollup" });
    pass("rollup");
    await screenshot(page, "rollup");
  });

  // Things that do not exist: a clear 4xx page, never a 500.
  const missing = [
    [`${s0}/tx/0x${"ab".repeat(32)}`, "unknown transaction"],
    [`${s0}/block/99999999`, "block past the head"],
    [`${s0}/block/0x${"cd".repeat(32)}`, "unknown block hash"],
    [`${s0}/block/banana`, "malformed block id"],
    [`${s0}/tx/0x12`, "malformed transaction hash"],
    [`${s0}/address/0x12`, "malformed address"],
    [`${s0}/token/${seed.owner}`, "token page of an account that is no token"],
    ["/s/99/block/1", "shard that does not exist"],
    ["/epoch/999999", "epoch far in the future"],
    ["/no-such-page", "unknown path"],
  ];
  for (const [rel, what] of missing) {
    await section(async () => {
      const { response, info } = await visit(page, state, rel, { status: 404, statuses: [400, 404], kind: "error" });
      state.expectedStatus = 200;
      pass(`${what} (${rel}): HTTP ${response.status()}, data-page="${info.kind}"`);
    });
  }
}

/** Submits the search form on the home page; returns where it landed. */
async function search(page, state, q, { kinds, path: pathRe, statuses = [200], redirect = true }) {
  await visit(page, state, "/", { kind: "home" });
  state.expectedStatus = statuses.find((s) => s >= 400) || 200;
  const input = page.locator("form#search input[name=q]");
  await input.fill(q, { timeout: WAIT_MS });
  let response;
  try {
    [response] = await Promise.all([page.waitForNavigation({ timeout: WAIT_MS, waitUntil: "load" }), input.press("Enter")]);
  } catch (err) {
    fail(`search ${JSON.stringify(q)}: submitting the form did not navigate: ${err.message.split("\n")[0]}`);
  }
  const where = `search ${JSON.stringify(q)} (landed on ${page.url()})`;
  check(response, `${where}: no response`);
  check(statuses.includes(response.status()), `${where}: HTTP ${response.status()}, expected ${statuses.join(" or ")}`);
  const first = response.request().redirectedFrom();
  if (redirect) {
    check(first, `${where}: no redirect from /explorer/search (expected 303 to the item's page)`);
    const firstResponse = await first.response();
    check(firstResponse && firstResponse.status() === 303, `${where}: the search answered ${firstResponse && firstResponse.status()}, expected 303`);
  }
  const info = await frame(page, where);
  check(kinds.includes(info.kind), `${where}: data-page="${info.kind}", expected ${kinds.join(" or ")}`);
  if (pathRe) check(pathRe.test(new URL(page.url()).pathname), `${where}: path does not match ${pathRe}`);
  await clean(page, state, where);
  state.expectedStatus = 200;
  return { response, info, where };
}

async function searches(page, state) {
  const hex = (s) => lower(s);
  await section(async () => {
    const { where } = await search(page, state, String(seed.eth.blockNumber), { kinds: ["block"], path: /\/explorer\/s\/0\/block\// });
    check(digits(await text(page, "#block-number", where)) === String(seed.eth.blockNumber), `${where}: wrong block`);
    pass(`search block number ${seed.eth.blockNumber} -> block page`);
  });
  await section(async () => {
    const { where } = await search(page, state, seed.eth.blockHash, { kinds: ["block"], path: /\/explorer\/s\/0\/block\// });
    check(digits(await text(page, "#block-number", where)) === String(seed.eth.blockNumber), `${where}: wrong block`);
    pass("search block hash -> block page");
  });
  await section(async () => {
    const { where } = await search(page, state, seed.eth.hash, { kinds: ["tx"], path: /\/explorer\/s\/0\/tx\// });
    check(hex(await text(page, "#tx-hash", where)).includes(hex(seed.eth.hash)), `${where}: wrong transaction`);
    pass("search tx hash -> tx page");
  });
  await section(async () => {
    const { where } = await search(page, state, seed.owner, { kinds: ["address"], path: /\/explorer\/s\/0\/address\// });
    check(hex(await text(page, "#address", where)).includes(hex(seed.owner)), `${where}: wrong address`);
    pass("search address -> address page");
  });
  await section(async () => {
    const { where } = await search(page, state, lower(seed.recipients[1]), { kinds: ["address"], path: /\/explorer\/s\/0\/address\// });
    check(hex(await text(page, "#address", where)).includes(hex(seed.recipients[1])), `${where}: wrong address`);
    pass("search lower-case address -> address page");
  });
  await section(async () => {
    const { where, info } = await search(page, state, seed.token.address, { kinds: ["address", "token"], path: /\/explorer\/s\/0\/(address|token)\// });
    check(await shows(page, seed.token.address), `${where}: wrong page`);
    pass(`search token contract address -> ${info.kind} page`);
  });
  await section(async () => {
    const q = `${seed.eth.from}:${seed.eth.nonce}`;
    const { where } = await search(page, state, q, { kinds: ["tx"], path: /\/explorer\/s\/0\/tx\// });
    check(hex(await text(page, "#tx-hash", where)).includes(hex(seed.eth.hash)), `${where}: expected tx ${seed.eth.hash}`);
    pass(`search ${q.slice(0, 10)}…:${seed.eth.nonce} (address:nonce) -> tx page of that nonce`);
  });
  await section(async () => {
    const { where } = await search(page, state, "dev-member-0", { kinds: ["consortium"], path: /\/explorer\/consortium/ });
    check(await page.$('#members tr[data-member="dev-member-0"]'), `${where}: no row for dev-member-0`);
    pass("search dev-member-0 (organisation) -> consortium page");
  });
  await section(async () => {
    const { where } = await search(page, state, "epoch:0", { kinds: ["epoch"], path: /\/explorer\/epoch\/0$/ });
    check(digits(await text(page, "#epoch-number", where)) === "0", `${where}: wrong epoch`);
    pass("search epoch:0 -> epoch page");
  });
  for (const q of ["zzz", "0x12", `0x${"ab".repeat(32)}`, "<script>alert(7)</script>", "99999999"]) {
    await section(async () => {
      const { response, info, where } = await search(page, state, q, { kinds: ["error"], statuses: [400, 404], redirect: false });
      const body = await page.evaluate(() => document.body.textContent);
      check(info.kind === "error" || /not found/i.test(body), `${where}: neither data-page="error" nor "not found"`);
      await noInjectedElements(page, where);
      pass(`search ${JSON.stringify(q)}: HTTP ${response.status()}, data-page="${info.kind}"`);
    });
  }
}

async function liveUpdate(page, state) {
  const { url } = await visit(page, state, "/", { kind: "home" });
  const before = await page.$$eval("#latest-blocks tr[data-block]", (rows) => Math.max(...rows.map((r) => Number(r.dataset.block))));
  await page.evaluate(() => {
    window.__kaimengNoReload = true;
  });
  const provider = new JsonRpcProvider(RPC_URL, undefined, { pollingInterval: 250, cacheTimeout: -1 });
  try {
    const sender = HDNodeWallet.fromPhrase(DEV_MNEMONIC, undefined, "m/44'/60'/0'/0/3").connect(provider);
    const tx = await sender.sendTransaction({ to: seed.recipients[1], value: 7n });
    // The page is judged from the moment the block is final, not on how fast the chain is.
    const receipt = await provider.waitForTransaction(tx.hash, 1, CHAIN_MS).catch((err) => fail(`live update: the trigger transaction ${tx.hash}: ${err.message}`));
    check(receipt && receipt.status === 1, `live update: the trigger transaction ${tx.hash} failed or was not mined within ${CHAIN_MS} ms`);
    const started = Date.now();
    const target = Math.max(receipt.blockNumber, before + 1);
    await waitInPage(
      page,
      (target) => {
        const rows = [...document.querySelectorAll("#latest-blocks tr[data-block]")];
        const top = Math.max(...rows.map((r) => Number(r.dataset.block)));
        return top >= target ? top : false;
      },
      target,
      LIVE_MS,
      `block ${target} (the trigger transaction's, mined) in #latest-blocks on ${url} without a reload (the page showed ${before} before)`,
    );
    const after = await page.$$eval("#latest-blocks tr[data-block]", (rows) => Math.max(...rows.map((r) => Number(r.dataset.block))));
    const took = Date.now() - started;
    check(await page.evaluate(() => window.__kaimengNoReload === true), `${url}: the page reloaded instead of updating in place`);
    await clean(page, state, `${url} (live update)`);
    pass(`live update: home showed block ${after} (was ${before}) ${took} ms after the trigger transaction's block ${receipt.blockNumber} was final, no reload`);
  } finally {
    provider.destroy();
  }
}

async function languages(page, state) {
  const { url } = await visit(page, state, "/", { kind: "home" });
  const navText = async () => page.evaluate(() => {
    const nav = document.querySelector("nav");
    return nav ? nav.innerText.trim() : null;
  });
  const english = await navText();
  check(english, `${url}: no <nav>`);
  await page.click("#lang-zh", { timeout: WAIT_MS });
  await waitInPage(page, () => (document.documentElement.lang || "").toLowerCase().startsWith("zh") && document.readyState === "complete", null, WAIT_MS, "<html lang> to start with zh after clicking #lang-zh");
  await page.waitForLoadState("load", { timeout: WAIT_MS });
  const chinese = await navText();
  check(chinese && chinese !== english, `after #lang-zh: the nav text did not change ("${short(chinese)}")`);
  check(/[\u4e00-\u9fff]/.test(chinese), `after #lang-zh: the nav has no Chinese characters ("${short(chinese)}")`);
  const kind = await page.evaluate(() => document.querySelector("main#page")?.getAttribute("data-page"));
  check(kind === "home", `after #lang-zh: data-page="${kind}", expected home`);
  await clean(page, state, `${url} after #lang-zh`);
  pass(`#lang-zh: <html lang="${await page.evaluate(() => document.documentElement.lang)}">, nav "${short(chinese, 80)}"`);
  await screenshot(page, "home-zh");

  // The choice holds on the next page.
  const tokenPage = await visit(page, state, `/s/0/token/${seed.token.address}`, { kind: "token", lang: "zh" });
  check(await text(page, "#token-name", tokenPage.url) === seed.token.name, `${tokenPage.url} (zh): #token-name is not the literal name`);
  pass("the Chinese choice holds on the next page (token page in zh)");

  await page.click("#lang-en", { timeout: WAIT_MS });
  await waitInPage(page, () => (document.documentElement.lang || "").toLowerCase().startsWith("en") && document.readyState === "complete", null, WAIT_MS, "<html lang> to start with en after clicking #lang-en");
  await page.waitForLoadState("load", { timeout: WAIT_MS });
  await visit(page, state, "/", { kind: "home", lang: "en" });
  check((await navText()) === english, "after #lang-en: the nav is not the English one again");
  pass("#lang-en: back to English, and it holds on the next page");
}

async function acceptLanguage() {
  const context = await browser.newContext({ locale: "zh-CN", viewport: { width: 1280, height: 800 } });
  try {
    const page = await context.newPage();
    const state = watch(page, "zh-CN");
    const { info } = await visit(page, state, "/", { kind: "home", lang: "zh" });
    check(/[\u4e00-\u9fff]/.test(info.h1 + (await page.evaluate(() => document.querySelector("nav")?.innerText || ""))),
      "Accept-Language zh-CN: no Chinese in the h1 or nav");
    pass(`Accept-Language zh-CN: Chinese by default (<html lang="${info.lang}">, h1 "${info.h1}")`);
    await visit(page, state, "/consortium", { kind: "consortium", lang: "zh" });
    pass("Accept-Language zh-CN: the consortium page in Chinese too");
  } finally {
    await context.close();
  }
}

/** Every /explorer link seen on the main pages answers 200 (a fresh cookie-less client). */
async function links(page, state) {
  const api = await playwrightRequest.newContext({ timeout: WAIT_MS });
  try {
    const starts = ["/", "/s/0/block/" + seed.eth.blockNumber, "/s/0/tx/" + seed.token.transfers[0].hash,
      "/s/0/address/" + seed.owner, "/s/0/tokens", "/s/0/token/" + seed.token.address, "/consortium",
      "/epochs", "/epoch/0", "/shards", "/rollup"];
    const found = new Map();
    for (const rel of starts) {
      await visit(page, state, rel, {});
      const hrefs = await page.$$eval("a[href]", (as) => as.map((a) => a.href));
      for (const href of hrefs) {
        const u = new URL(href);
        if (u.origin !== ORIGIN || !u.pathname.startsWith("/explorer")) continue;
        if (/[?&]lang=/.test(u.search) || /\/lang\b/.test(u.pathname)) continue;
        u.hash = "";
        if (!found.has(u.href)) found.set(u.href, rel);
      }
    }
    const list = [...found.entries()].slice(0, 300);
    const bad = [];
    for (const [href, from] of list) {
      const response = await api.get(href, { maxRedirects: 5 });
      if (response.status() !== 200) bad.push(`${href} (linked from ${from}): HTTP ${response.status()}`);
    }
    check(bad.length === 0, `broken explorer links:\n  ${bad.join("\n  ")}`);
    pass(`${list.length} distinct explorer links on the main pages all answer 200`);
  } finally {
    await api.dispose();
  }
}

async function main() {
  check(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing (apt-get install chromium)`);
  // launch() gives Chromium a fresh temporary profile of its own and removes it on close.
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: WAIT_MS * 2 });
  const context = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(WAIT_MS);
  context.setDefaultNavigationTimeout(WAIT_MS);
  const page = await context.newPage();
  const state = watch(page, "en");
  console.log(`explorer at ${BASE}/ (Chromium ${browser.version()}, seed ${process.env.SEED_OUT})`);
  await pages(page, state);
  await searches(page, state);
  await section(() => liveUpdate(page, state));
  await section(() => languages(page, state));
  await section(() => acceptLanguage());
  await section(() => links(page, state));
  await context.close();
}

const timer = setTimeout(() => {
  console.error("FAIL browser.mjs: the whole run took over 10 minutes");
  process.exit(1);
}, 600_000);
timer.unref();

try {
  await main();
  console.log(`explorer: ${passed} passed, ${failed} failed`);
  await browser.close();
  process.exit(failed ? 1 : 0);
} catch (err) {
  const message = err instanceof CheckFailed ? err.message : err && err.stack ? err.stack : String(err);
  console.error(`FAIL ${message}`);
  console.log(`explorer: ${passed} passed, ${failed + 1} failed`);
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
}
