// A plain JSON-RPC-over-WebSocket newHeads check (npm `ws`), for tools that have no
// subscription API of their own (cast has none for newHeads). It subscribes, waits for the
// node's acknowledgement, runs a trigger that mines a block, and waits (bounded) for a head
// above the block number seen before; it also checks that the head matches eth_getBlockByNumber.
"use strict";

const WebSocket = require("ws");
const { withTimeout } = require("./common");

/** One WebSocket JSON-RPC connection: numbered requests and a queue of notifications. */
class SocketRpc {
  constructor(socket) {
    this.socket = socket;
    this.nextId = 1;
    this.pending = new Map();
    this.listeners = new Set();
    socket.on("message", (raw) => this.onMessage(raw));
    socket.on("close", () => {
      for (const { reject } of this.pending.values()) reject(new Error("WebSocket closed"));
      this.pending.clear();
    });
  }

  static async open(url, timeoutMs) {
    const socket = new WebSocket(url);
    await withTimeout(
      new Promise((resolve, reject) => {
        socket.once("open", resolve);
        socket.once("error", reject);
      }),
      timeoutMs,
      `a WebSocket connection to ${url}`,
    );
    return new SocketRpc(socket);
  }

  onMessage(raw) {
    let message;
    try {
      message = JSON.parse(raw.toString());
    } catch (err) {
      for (const listener of this.listeners) listener(new Error(`unparsable message: ${raw}`));
      return;
    }
    if (message.id !== undefined && this.pending.has(message.id)) {
      const { resolve, reject, method } = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.error) reject(new Error(`${method} failed: ${JSON.stringify(message.error)}`));
      else resolve(message.result);
    } else if (message.method === "eth_subscription") {
      for (const listener of this.listeners) listener(null, message.params);
    }
  }

  request(method, params, timeoutMs) {
    const id = this.nextId++;
    const answer = new Promise((resolve, reject) => this.pending.set(id, { resolve, reject, method }));
    this.socket.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
    return withTimeout(answer, timeoutMs, `the answer to ${method}`);
  }

  close() {
    this.socket.close();
  }
}

function isHex(value, bytes) {
  const pattern = bytes ? new RegExp(`^0x[0-9a-fA-F]{${bytes * 2}}$`) : /^0x[0-9a-fA-F]+$/;
  return typeof value === "string" && pattern.test(value);
}

/**
 * Subscribes to newHeads at `wsUrl`, runs `trigger()` once the subscription is acknowledged and
 * resolves with { before, head, subscriptionId }, where `head` is the first newHeads payload
 * with a number above `before`. Rejects on any malformed head or after `timeoutMs`.
 */
async function awaitNewHead(wsUrl, trigger, timeoutMs) {
  const rpc = await SocketRpc.open(wsUrl, timeoutMs);
  try {
    const before = BigInt(await rpc.request("eth_blockNumber", [], timeoutMs));
    let subscriptionId = null;
    let listener;
    const seen = new Promise((resolve, reject) => {
      listener = (err, params) => {
        if (err) return reject(err);
        if (subscriptionId === null || params.subscription !== subscriptionId) return;
        const head = params.result || {};
        for (const field of ["hash", "parentHash"]) {
          if (!isHex(head[field], 32)) return reject(new Error(`newHeads ${field} malformed: ${JSON.stringify(head)}`));
        }
        for (const field of ["number", "timestamp"]) {
          if (!isHex(head[field])) return reject(new Error(`newHeads ${field} malformed: ${JSON.stringify(head)}`));
        }
        if (BigInt(head.number) > before) resolve(head);
      };
      rpc.listeners.add(listener);
    });
    subscriptionId = await rpc.request("eth_subscribe", ["newHeads"], timeoutMs);
    if (typeof subscriptionId !== "string" || subscriptionId === "") {
      throw new Error(`eth_subscribe returned ${JSON.stringify(subscriptionId)}, not a subscription id string`);
    }
    await trigger();
    const head = await withTimeout(seen, timeoutMs, `a newHeads event above block ${before}`);
    const block = await rpc.request("eth_getBlockByNumber", [head.number, false], timeoutMs);
    if (!block || block.hash !== head.hash) {
      throw new Error(`newHeads hash ${head.hash} differs from eth_getBlockByNumber(${head.number}): ${block && block.hash}`);
    }
    const unsubscribed = await rpc.request("eth_unsubscribe", [subscriptionId], timeoutMs);
    if (unsubscribed !== true) throw new Error(`eth_unsubscribe returned ${unsubscribed}`);
    return { before, head, subscriptionId };
  } finally {
    rpc.close();
  }
}

module.exports = { awaitNewHead };
