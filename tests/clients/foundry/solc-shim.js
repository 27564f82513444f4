#!/usr/bin/env node
// A `solc` executable for forge, backed by solc-js (npm `solc`), so Foundry compiles offline.
// It speaks the two parts of solc's CLI that forge uses: `--version` and `--standard-json`
// (input on stdin, output on stdout). Imports that forge did not inline are read from disk,
// relative to --base-path, each --include-path, or the working directory.
"use strict";

const fs = require("fs");
const path = require("path");
const solc = require("solc");

const args = process.argv.slice(2);

function optionValues(name) {
  const values = [];
  args.forEach((arg, i) => {
    if (arg === name && i + 1 < args.length) values.push(args[i + 1]);
    else if (arg.startsWith(`${name}=`)) values.push(arg.slice(name.length + 1));
  });
  return values;
}

function nativeStyleVersion() {
  // solc-js reports e.g. 0.8.30+commit.73712a01.Emscripten.clang; forge reads the semver.
  return solc.version();
}

if (args.includes("--version") || args.includes("-v")) {
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${nativeStyleVersion()}\n`);
  process.exit(0);
}

if (!args.includes("--standard-json")) {
  process.stderr.write(`solc-shim: only --version and --standard-json are supported, got: ${args.join(" ")}\n`);
  process.exit(2);
}

const roots = [...optionValues("--base-path"), ...optionValues("--include-path"), process.cwd()];

function findImports(importPath) {
  const candidates = path.isAbsolute(importPath) ? [importPath] : roots.map((r) => path.resolve(r, importPath));
  for (const file of candidates) {
    if (fs.existsSync(file)) return { contents: fs.readFileSync(file, "utf8") };
  }
  return { error: `solc-shim: ${importPath} not found under ${roots.join(", ")}` };
}

const input = fs.readFileSync(0, "utf8");
process.stdout.write(solc.compile(input, { import: findImports }));
