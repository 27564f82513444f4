#!/usr/bin/env node
// Compiles every .sol file under contracts/ (recursively; source names relative to contracts/,
// e.g. rollup/Bridge.sol) with solc-js 0.8.30, optimizer on (200 runs), evmVersion cancun, into
// out/<Name>.json = { contractName, sourceName, abi, bytecode, deployedBytecode }.
// The forge unit tests under test/ are not part of it (forge builds them), nor are out/ and
// forge's .forge/.
//
//   node compile.js          write out/*.json
//   node compile.js --check  compile in memory; exit 1 if any artifact in out/ is missing,
//                            differs from what the sources compile to, or has no source
//
// out/Bridge.json is pinned: genesis places its deployedBytecode on shard 0, and the genesis
// writes the bridge's storage slots 0 (sequencer) and 1 (priorityExpiry); this script refuses
// a Bridge whose layout moved them. solc is looked up in tests/clients/node_modules (installed by
// tests/clients/setup.sh), else wherever node finds it; SOLC_JS overrides both.
"use strict";

const fs = require("fs");
const path = require("path");

const DIR = __dirname;
const OUT = path.join(DIR, "out");
const SKIP_DIRS = new Set(["out", "test", "node_modules"]);
const SOLC_VERSION = "0.8.30";

function loadSolc() {
  const candidates = [
    process.env.SOLC_JS,
    path.join(DIR, "..", "tests", "clients", "node_modules", "solc"),
    "solc",
  ].filter(Boolean);
  for (const candidate of candidates) {
    try {
      return require(candidate);
    } catch (error) {
      if (error.code !== "MODULE_NOT_FOUND") throw error;
    }
  }
  console.error(
    "compile.js: solc-js not found; run tests/clients/setup.sh (npm install in tests/clients) or set SOLC_JS",
  );
  process.exit(2);
}

// Every .sol file under `dir`, as paths relative to DIR with forward slashes, sorted.
function solidityFiles(dir) {
  const files = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith(".")) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (dir === DIR && SKIP_DIRS.has(entry.name)) continue;
      files.push(...solidityFiles(full));
    } else if (entry.isFile() && entry.name.endsWith(".sol")) {
      files.push(path.relative(DIR, full).split(path.sep).join("/"));
    }
  }
  return files.sort();
}

// The storage slots genesis writes: { variable: slot }.
const GENESIS_SLOTS = { "rollup/Bridge.sol:Bridge": { sequencer: "0", priorityExpiry: "1" } };

function checkGenesisSlots(output) {
  const problems = [];
  for (const [id, expected] of Object.entries(GENESIS_SLOTS)) {
    const [file, name] = id.split(":");
    const contract = output.contracts[file] && output.contracts[file][name];
    if (!contract) {
      problems.push(`${id} is missing`);
      continue;
    }
    const storage = contract.storageLayout.storage;
    for (const [label, slot] of Object.entries(expected)) {
      const variable = storage.find((v) => v.label === label);
      if (!variable || variable.slot !== slot || variable.offset !== 0) {
        problems.push(`${id}: genesis writes ${label} to slot ${slot}, but the layout has ${JSON.stringify(variable)}`);
      }
    }
  }
  return problems;
}

// { "Name.json": "<file contents>" } for every contract in the sources.
function compile() {
  const solc = loadSolc();
  const version = solc.version();
  if (!version.startsWith(`${SOLC_VERSION}+`)) {
    console.error(`compile.js: needs solc-js ${SOLC_VERSION}, found ${version}`);
    process.exit(2);
  }
  const sources = {};
  for (const file of solidityFiles(DIR)) {
    sources[file] = { content: fs.readFileSync(path.join(DIR, file), "utf8") };
  }
  const input = {
    language: "Solidity",
    sources,
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: "cancun",
      outputSelection: {
        "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "storageLayout"] },
      },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const diagnostics = output.errors || [];
  for (const d of diagnostics.filter((d) => d.severity === "warning")) console.error(d.formattedMessage);
  const errors = diagnostics.filter((d) => d.severity === "error");
  if (errors.length) {
    for (const e of errors) console.error(e.formattedMessage);
    process.exit(1);
  }
  const slotProblems = checkGenesisSlots(output);
  if (slotProblems.length) {
    for (const p of slotProblems) console.error(`compile.js: ${p}`);
    process.exit(1);
  }

  const artifacts = {};
  for (const file of Object.keys(output.contracts).sort()) {
    for (const name of Object.keys(output.contracts[file]).sort()) {
      const c = output.contracts[file][name];
      const artifactName = `${name}.json`;
      if (artifacts[artifactName]) {
        console.error(`compile.js: two contracts are named ${name}; out/${artifactName} would hold only one`);
        process.exit(1);
      }
      const artifact = {
        contractName: name,
        sourceName: file,
        abi: c.abi,
        bytecode: "0x" + c.evm.bytecode.object,
        deployedBytecode: "0x" + c.evm.deployedBytecode.object,
      };
      artifacts[artifactName] = JSON.stringify(artifact, null, 2) + "\n";
    }
  }
  return artifacts;
}

function check(artifacts) {
  const problems = [];
  for (const [name, text] of Object.entries(artifacts)) {
    const file = path.join(OUT, name);
    if (!fs.existsSync(file)) problems.push(`out/${name} is missing`);
    else if (fs.readFileSync(file, "utf8") !== text) problems.push(`out/${name} differs from what its source compiles to`);
  }
  const present = fs.existsSync(OUT) ? fs.readdirSync(OUT).filter((f) => f.endsWith(".json")) : [];
  for (const name of present) {
    if (!(name in artifacts)) problems.push(`out/${name} has no contract in the sources`);
  }
  if (problems.length) {
    for (const p of problems) console.error(`compile.js --check: ${p}`);
    console.error("compile.js --check: the pinned artifacts are stale; run `node contracts/compile.js` and commit out/");
    process.exit(1);
  }
  console.log(`compile.js --check: ${Object.keys(artifacts).length} artifacts in out/ match their sources`);
}

function write(artifacts) {
  fs.mkdirSync(OUT, { recursive: true });
  for (const [name, text] of Object.entries(artifacts)) {
    fs.writeFileSync(path.join(OUT, name), text);
    console.log(`wrote out/${name}`);
  }
}

const args = process.argv.slice(2);
const unknown = args.filter((a) => a !== "--check");
if (unknown.length) {
  console.error(`usage: node compile.js [--check]  (unknown: ${unknown.join(" ")})`);
  process.exit(2);
}
const artifacts = compile();
if (args.includes("--check")) check(artifacts);
else write(artifacts);
