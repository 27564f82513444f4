// Prints the JSON-RPC errors (and proxy failures) recorded by rpc-trace-proxy.js in a trace
// file, one line each: transport, method, params, response. Usage: node lib/trace-errors.js FILE
"use strict";

const fs = require("fs");

const REVERT_DATA = "0x08c379a0"; // Error(string): the flows' deliberate reverts carry it
const file = process.argv[2];
const lines = fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter(Boolean) : [];
let count = 0;
for (const line of lines) {
  const entry = JSON.parse(line);
  const error = entry.response && entry.response.error;
  const failed = error || entry.proxyError || (entry.status && entry.status !== 200) || entry.unmatched;
  if (!failed) continue;
  count += 1;
  const short = (value, max) => {
    const text = JSON.stringify(value);
    return text && text.length > max ? `${text.slice(0, max)}...` : text;
  };
  if (entry.proxyError || entry.unmatched) {
    console.log(`  [${entry.transport}] ${entry.method || "?"} ${short(entry.proxyError || entry.unmatched, 400)}`);
    continue;
  }
  const deliberate = error && error.code === 3 && String(error.data || "").startsWith(REVERT_DATA);
  const shown = error ? { code: error.code, message: error.message, data: deliberate ? "Error(string)" : error.data } : entry.response;
  console.log(
    `  [${entry.transport}] ${entry.method}(${short(entry.params, 200)}) -> ${short(shown, 400)}` +
      (deliberate ? "  (deliberate revert check)" : ""),
  );
}
const methods = [...new Set(lines.map((l) => JSON.parse(l).method).filter(Boolean))].sort();
console.log(`  methods called: ${methods.join(" ")}`);
console.log(`  ${count} error responses among ${lines.length} recorded exchanges (${file})`);
