#!/usr/bin/env python3
"""Server time of each explorer page kind, p50 and p99, against a running node.

    benches/explorer-pages.py --rpc http://127.0.0.1:8545 [--requests 200]

Finds one item of each kind on the node (the newest block, a transaction in it, its sender,
a token, an epoch), then asks for each page `--requests` times over one keep-alive connection
and reports the time from sending the request to the last byte (loopback, so this is the
server's time plus a few tens of microseconds). Run it beside a load generator to see pages
under load (benches/explorer-bench.sh does both).
"""
import argparse
import http.client
import json
import re
import statistics
import time
import urllib.parse
import urllib.request


def rpc(url, method, params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(url, body, {"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r).get("result")


def pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rpc", required=True)
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    base = args.rpc.rstrip("/")
    head = int(rpc(base, "eth_blockNumber", []), 16)
    # The newest block with transactions, its first transaction and that one's sender.
    tx = None
    for n in range(head, max(-1, head - 500), -1):
        block = rpc(base, "eth_getBlockByNumber", [hex(n), False])
        if block and block["transactions"]:
            tx = block["transactions"][0]
            number = n
            break
    if tx is None:
        raise SystemExit("no block with transactions in the last 500: run a load first")
    sender = rpc(base, "eth_getTransactionByHash", [tx])["from"]
    url = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)

    def get(path):
        start = time.perf_counter()
        conn.request("GET", "/explorer" + path)
        response = conn.getresponse()
        body = response.read()
        return time.perf_counter() - start, response.status, body

    _, _, tokens = get("/s/0/tokens")
    token = re.search(rb'data-token="(0x[0-9a-fA-F]{40})"', tokens)
    pages = {
        "home": "/",
        "status (live JSON)": "/api/status",
        "block": f"/s/0/block/{number}",
        "transaction": f"/s/0/tx/{tx}",
        "address (busiest sender)": f"/s/0/address/{sender}",
        "address, page 100": f"/s/0/address/{sender}?page=100",
        "tokens": "/s/0/tokens",
        "consortium": "/consortium",
        "epochs": "/epochs",
        "epoch": "/epoch/0",
        "shards": "/shards",
        "search (tx hash)": f"/search?q={tx}",
    }
    if token:
        address = token.group(1).decode()
        pages["token"] = "/s/0/token/" + address
        pages["address (the token: every tx)"] = f"/s/0/address/{address}"
        pages["same, page 1000"] = f"/s/0/address/{address}?page=1000"
        # The onward link of a deep page: by position, one seek.
        _, _, deep = get(f"/s/0/address/{address}?page=1000")
        cursor = re.search(rb'\?before=([0-9]+-[0-9]+)', deep)
        if cursor:
            pages["same, next after page 1000"] = f"/s/0/address/{address}?before={cursor.group(1).decode()}"
    print(f"head {head}; {args.requests} requests per page")
    print(f"{'page':28} {'status':>6} {'p50 ms':>8} {'p99 ms':>8} {'bytes':>8}")
    for name, path in pages.items():
        times = []
        status, size = 0, 0
        for _ in range(args.requests):
            took, status, body = get(path)
            times.append(took * 1000)
            size = len(body)
        print(f"{name:28} {status:>6} {pct(times, 50):8.2f} {pct(times, 99):8.2f} {size:>8}")


if __name__ == "__main__":
    main()
