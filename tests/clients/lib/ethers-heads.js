// newHeads through an ethers v6 WebSocketProvider, as an ethers user writes it
// (`provider.on("block", ...)`), plus the one thing ethers hides: the moment the node has
// acknowledged `eth_subscribe`. Waiting for that acknowledgement before sending the trigger
// transaction makes the check race-free: a head mined after the ack must be delivered.
"use strict";

const WebSocket = require("ws");
const { WebSocketProvider } = require("ethers");
const { withTimeout } = require("./common");

/**
 * An ethers WebSocketProvider on a socket this module opened, so that a refused or slow
 * connection is a bounded, reported failure instead of an unhandled "error" event.
 */
async function openWebSocketProvider(url, timeoutMs) {
  const socket = new WebSocket(url);
  const opened = new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  socket.on("error", () => {}); // later errors fail the pending request or the wait instead
  const provider = new WebSocketProvider(socket);
  try {
    await withTimeout(opened, timeoutMs, `a WebSocket connection to ${url}`);
  } catch (err) {
    await provider.destroy();
    throw new Error(`cannot open ${url}: ${err.message}`);
  }
  return provider;
}

/**
 * Resolves with the subscription id once the node answers the next `eth_subscribe` that
 * `provider` sends. Uses ethers' public "debug" event, which reports every payload and result.
 */
function nextSubscribeAck(provider, timeoutMs) {
  const ids = new Set();
  let onDebug;
  const ack = new Promise((resolve, reject) => {
    onDebug = (event) => {
      if (event.action === "sendRpcPayload") {
        for (const p of [].concat(event.payload)) if (p.method === "eth_subscribe") ids.add(p.id);
      } else if (event.action === "receiveRpcResult") {
        for (const r of [].concat(event.result)) {
          if (!ids.has(r.id)) continue;
          if (r.error) reject(new Error(`eth_subscribe failed: ${JSON.stringify(r.error)}`));
          else resolve(r.result);
        }
      } else if (event.action === "receiveRpcError") {
        reject(new Error(`eth_subscribe failed: ${event.error && event.error.message}`));
      }
    };
    provider.on("debug", onDebug);
  });
  return withTimeout(ack, timeoutMs, "the eth_subscribe acknowledgement").finally(() =>
    provider.off("debug", onDebug),
  );
}

/**
 * Subscribes to new blocks on `provider` (a WebSocketProvider), runs `trigger()` once the
 * subscription is live, and resolves with the first block number above the one the node
 * reported before the trigger. Rejects after `timeoutMs`.
 */
async function awaitNewHead(provider, trigger, timeoutMs) {
  const before = await provider.getBlockNumber();
  let onBlock;
  const seen = new Promise((resolve) => {
    onBlock = (number) => {
      if (number > before) resolve(number);
    };
  });
  const ack = nextSubscribeAck(provider, timeoutMs);
  await provider.on("block", onBlock);
  const subscriptionId = await ack;
  try {
    await trigger();
    const head = await withTimeout(seen, timeoutMs, `a newHeads event above block ${before}`);
    return { before, head, subscriptionId };
  } finally {
    await provider.off("block", onBlock);
  }
}

module.exports = { awaitNewHead, openWebSocketProvider };
