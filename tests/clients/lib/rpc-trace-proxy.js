// A recording JSON-RPC proxy for debugging a node: listens on 127.0.0.1 (HTTP and WebSocket on
// one port, like the node), forwards everything to UPSTREAM_HTTP / UPSTREAM_WS, and appends one
// JSON line per request/response pair (or subscription notification) to TRACE_FILE.
// Usage: UPSTREAM_HTTP=... UPSTREAM_WS=... TRACE_FILE=... node lib/rpc-trace-proxy.js
// Prints "listening <port>" on stdout once ready. Run by `run.sh --trace`.
// PROXY_UNSUPPORTED=m1,m2 answers those methods (HTTP, single requests) with -32601 itself, to
// check that the tools fall back when a node lacks an optional method (e.g. eth_fillTransaction).
"use strict";

const fs = require("fs");
const http = require("http");
const WebSocket = require("ws");

const upstreamHttp = process.env.UPSTREAM_HTTP;
const upstreamWs = process.env.UPSTREAM_WS;
const traceFile = process.env.TRACE_FILE;
if (!upstreamHttp || !upstreamWs || !traceFile) {
  console.error("rpc-trace-proxy: set UPSTREAM_HTTP, UPSTREAM_WS and TRACE_FILE");
  process.exit(2);
}
const trace = fs.createWriteStream(traceFile, { flags: "a" });
const UPSTREAM_TIMEOUT_MS = 120_000;
const unsupported = new Set((process.env.PROXY_UNSUPPORTED || "").split(",").filter(Boolean));

function record(entry) {
  trace.write(JSON.stringify({ t: new Date().toISOString(), ...entry }) + "\n");
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Pairs each request of a (possibly batched) body with its response, by id. */
function recordExchange(transport, request, response, status) {
  const responses = [].concat(response);
  for (const req of [].concat(request)) {
    const matched = responses.find((r) => r && req && typeof r === "object" && r.id === req.id);
    record({ transport, status, method: req && req.method, params: req && req.params, response: matched ?? response });
  }
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", async () => {
    const body = Buffer.concat(chunks).toString();
    const request = parse(body);
    if (request && unsupported.has(request.method)) {
      const error = { code: -32601, message: `the method ${request.method} does not exist/is not available` };
      const answer = { jsonrpc: "2.0", id: request.id, error };
      recordExchange("http", request, answer, 200);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(answer));
      return;
    }
    try {
      const upstream = await fetch(upstreamHttp, {
        method: req.method,
        headers: { "content-type": req.headers["content-type"] || "application/json" },
        body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
        signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS),
      });
      const text = await upstream.text();
      recordExchange("http", parse(body), parse(text), upstream.status);
      res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") || "application/json" });
      res.end(text);
    } catch (err) {
      record({ transport: "http", request: parse(body), proxyError: String(err) });
      res.writeHead(502, { "content-type": "text/plain" });
      res.end(`rpc-trace-proxy: upstream failed: ${err}`);
    }
  });
});

const wss = new WebSocket.WebSocketServer({ noServer: true });
server.on("upgrade", (req, socket, head) => {
  wss.handleUpgrade(req, socket, head, (client) => {
    const upstream = new WebSocket(upstreamWs);
    const pending = new Map();
    const queue = [];
    upstream.on("open", () => queue.splice(0).forEach((m) => upstream.send(m)));
    upstream.on("error", (err) => {
      record({ transport: "ws", proxyError: String(err) });
      client.close(1011, "upstream failed");
    });
    upstream.on("close", () => client.close());
    client.on("close", () => upstream.close());
    client.on("message", (data) => {
      const text = data.toString();
      for (const r of [].concat(parse(text))) if (r && r.id !== undefined) pending.set(r.id, r);
      if (upstream.readyState === WebSocket.OPEN) upstream.send(text);
      else queue.push(text);
    });
    upstream.on("message", (data) => {
      const text = data.toString();
      const message = parse(text);
      for (const m of [].concat(message)) {
        if (m && m.method === "eth_subscription") {
          record({ transport: "ws", notification: m.params });
        } else if (m && pending.has(m.id)) {
          const req = pending.get(m.id);
          pending.delete(m.id);
          record({ transport: "ws", method: req.method, params: req.params, response: m });
        } else {
          record({ transport: "ws", unmatched: m });
        }
      }
      client.send(text);
    });
  });
});

server.listen(0, "127.0.0.1", () => console.log(`listening ${server.address().port}`));
