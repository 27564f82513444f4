#!/usr/bin/env python3
"""Cross-shard transfer latency beside single-shard finality latency (issue 11).

Starts `kaimeng dev --shards 2 --committee-size 2 --block-time 200` (4 in-process BFT
validators, shard 0 on port P with chain id 31337, shard 1 on P+1 with 31338) on free ports in a
temporary data directory, and measures, one phase after the other:

  single    N plain transfers on shard 0 (1 gwei each to a fresh address): from the moment
            eth_sendRawTransaction is sent to the first eth_getTransactionReceipt poll that
            returns the receipt. Kaimeng serves receipts only for final blocks, so this is
            submit-to-finality latency.
  0->1      N cross-shard transfers from shard 0 to a fresh address on shard 1 (a call to
            0x...c5c5 `send(1, to, 0, 0x)` with 1 gwei): from submit to the first
            kaimeng_getCrossShardMessage(id) poll answering status "delivered". The receipt is
            polled first (it carries the message id), then the status.
  1->0      R of the same in the other direction.

Every poll runs every --poll-ms (20 ms) from the submit, so a latency is known to within one
poll interval plus one local RPC round trip (well under a millisecond to a few ms). Transfers
are sent round-robin from --accounts dev accounts (1, 2, ...), at most --inflight unfinished at
a time, in a fixed order so that each account's nonces reach the node in order. All
transactions are signed before their phase starts (`cast mktx`, offline), so signing is not
measured. Warm-up transfers (not counted) go first.

While the phases run, a sampler notes when each beacon block and each shard block is first seen
(as kaimeng_getBeaconBlock(h) / eth_blockNumber on validator 0, every --sample-ms), to split
the cross-shard latency into its stages:

  submit -> receipt          the source block is final (status "sent")
  receipt -> crosslinked     a beacon block linking the source block is final
  crosslinked -> delivered   the destination takes it; a shard proposer references the beacon
                             block *before* the newest final one (settled_ref), so this needs
                             one more beacon block final, then a destination block final

Prints p50/p90/p99/max for both (nearest-rank percentiles), the ratio of cross-shard p50 to
single-shard p50 against the issue's target (<= 3x), the stage breakdown, the block cadences,
the machine and the date; --json FILE also writes every sample.

Run from the repository root (standard library only; needs `cast` for signing):

    python3 benches/crossshard-latency.py                  # N=100, R=10
    python3 benches/crossshard-latency.py -n 20 --reverse 5 --json /tmp/xshard.json

Options and environment: --bin (or KAIMENG_BIN; default
$CARGO_TARGET_DIR/debug/kaimeng, else ~/.cache/kaimeng-target/debug/kaimeng), --cast (or CAST;
default tests/clients/node_modules/@foundry-rs/cast-linux-amd64/bin/cast, else `cast` on PATH).

Exit status: 0 when every measured transfer finished, 3 when some failed or timed out (the
report is still printed), 2 when the overall --timeout expired, 1 for any other failure.
The node is stopped (SIGTERM, then SIGKILL after 15 s) in every case.
"""

import argparse
import ctypes
import datetime
import http.client
import itertools
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CROSS_SHARD = "0x000000000000000000000000000000000000c5c5"
SEND_SIG = "send(uint32,address,uint64,bytes)"
# keccak256("MessageSent(bytes32,uint32,address,uint64,address,uint256,uint64,bytes)")
MESSAGE_SENT = "0x810ea8ddc3da6a46168195ff1a19ebe565fec62a1ba36d11e187ab73e8a64fa5"
CHAIN_ID_0 = 31337
VALUE_WEI = 10**9  # 1 gwei
PLAIN_GAS = 21_000
SEND_GAS = 150_000  # 21,000 + calldata + 60,000 for send with gasLimit 0 and no data (~82k)
TARGET_RATIO = 3.0


class BenchError(Exception):
    """A failure that ends the run (the node is still stopped)."""


class BenchTimeout(BenchError):
    """The overall --timeout expired."""


class Stop(BaseException):
    """SIGTERM: unwind like Ctrl-C so that the node is stopped."""


# ---------------------------------------------------------------------------------------------
# JSON-RPC over keep-alive HTTP, one connection per thread and port


class RpcError(Exception):
    pass


class Rpc:
    def __init__(self, port, timeout=10.0):
        self.port = port
        self.timeout = timeout
        self.local = threading.local()
        self.ids = itertools.count(1)

    def _conn(self):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            self.local.conn = conn
        return conn

    def _drop(self):
        conn = getattr(self.local, "conn", None)
        if conn is not None:
            conn.close()
        self.local.conn = None

    def call(self, method, *params, retry=True):
        body = json.dumps(
            {"jsonrpc": "2.0", "id": next(self.ids), "method": method, "params": list(params)}
        )
        for attempt in (0, 1):
            conn = self._conn()
            try:
                conn.request("POST", "/", body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
                break
            except (OSError, http.client.HTTPException) as e:
                self._drop()
                if attempt or not retry:
                    raise RpcError(f"{method} on port {self.port}: {e}") from e
        if resp.status != 200:
            raise RpcError(f"{method}: HTTP {resp.status}: {data[:300]!r}")
        reply = json.loads(data)
        if reply.get("error"):
            raise RpcError(f"{method}: {reply['error']}")
        return reply.get("result")


# ---------------------------------------------------------------------------------------------
# Deadlines

GLOBAL_DEADLINE = [math.inf]  # monotonic time; set in main()


def deadline_in(seconds):
    return min(time.monotonic() + seconds, GLOBAL_DEADLINE[0])


def check_deadline(what):
    if time.monotonic() >= GLOBAL_DEADLINE[0]:
        raise BenchTimeout(f"overall timeout reached ({what})")


def sleep_until(t):
    delay = t - time.monotonic()
    if delay > 0:
        time.sleep(delay)


# ---------------------------------------------------------------------------------------------
# The node


def free_port_pair():
    """A port P with P and P+1 free at this moment (the node binds them a moment later)."""
    for _ in range(200):
        port = random.randint(20_000, 60_000)
        socks = []
        try:
            for p in (port, port + 1):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise BenchError("found no two consecutive free ports")


def _die_with_parent():
    """In the child: SIGTERM it if this script dies without stopping it (Linux)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class DevNode:
    def __init__(self, binary, workdir, block_time):
        self.binary = binary
        self.workdir = workdir
        self.block_time = block_time
        self.proc = None
        self.port = None
        self.log_path = os.path.join(workdir, "node.log")

    def start(self, timeout):
        deadline = deadline_in(timeout)
        for attempt in range(3):
            self.port = free_port_pair()
            data_dir = os.path.join(self.workdir, f"data{attempt}")
            cmd = [
                self.binary, "dev", "--shards", "2", "--committee-size", "2",
                "--block-time", str(self.block_time), "--port", str(self.port),
                "--data-dir", data_dir,
            ]
            self.command = " ".join(cmd)
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True, preexec_fn=_die_with_parent,
                )
            try:
                self._wait_ready(deadline)
                return
            except BenchError:
                exited = self.proc.poll() is not None
                if exited and "in use" in self.log_tail() and attempt < 2:
                    continue  # lost the race for the ports: try others
                raise

    def _wait_ready(self, deadline):
        shard = [Rpc(self.port, timeout=2.0), Rpc(self.port + 1, timeout=2.0)]
        want = [CHAIN_ID_0, CHAIN_ID_0 + 1]
        while True:
            if self.proc.poll() is not None:
                raise BenchError(
                    f"kaimeng dev exited with status {self.proc.returncode}:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise BenchError(f"kaimeng dev not ready in time:\n{self.log_tail()}")
            try:
                ids = [int(s.call("eth_chainId", retry=False), 16) for s in shard]
                if ids != want:
                    raise BenchError(f"chain ids {ids}, expected {want}: another node on the port?")
                heights = [int(s.call("eth_blockNumber", retry=False), 16) for s in shard]
                beacon = shard[0].call("kaimeng_getBeaconBlock", 2, retry=False)
                if min(heights) >= 2 and beacon is not None:
                    return
            except RpcError:
                pass
            time.sleep(0.2)

    def log_tail(self, lines=25):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def dev_keys(self):
        """(address, private key) of the funded dev accounts, from the banner."""
        with open(self.log_path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        addrs, keys = {}, {}
        for m in re.finditer(r"^\((\d+)\) (0x[0-9a-fA-F]+)\s*$", text, re.M):
            (keys if len(m.group(2)) == 66 else addrs)[int(m.group(1))] = m.group(2)
        return [(addrs[i], keys[i]) for i in sorted(addrs) if i in keys]

    def cpu_seconds(self):
        """utime + stime of the node process so far."""
        try:
            with open(f"/proc/{self.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return None

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)


# ---------------------------------------------------------------------------------------------
# Signing (offline, with cast)


def sign(cast, rpc_url, key, chain_id, nonce, max_fee, tip, to, gas, call=None):
    cmd = [
        cast, "mktx", "--rpc-url", rpc_url, "--private-key", key, "--chain", str(chain_id),
        "--nonce", str(nonce), "--gas-limit", str(gas), "--gas-price", str(max_fee),
        "--priority-gas-price", str(tip), "--value", str(VALUE_WEI), to,
    ]
    if call:
        cmd += call
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    raw = out.stdout.strip()
    if out.returncode != 0 or not raw.startswith("0x"):
        raise BenchError(f"cast mktx failed ({out.returncode}): {out.stderr.strip()[:500]}")
    return raw


def fresh_address():
    return "0x" + os.urandom(20).hex()


def prepare(kind, count, accounts, src, dst, shards, cast):
    """Signs `count` transfers of `kind` ("plain" or "cross") from shard `src` to `dst`."""
    rpc = shards[src]
    chain_id = CHAIN_ID_0 + src
    gas_price = int(rpc.call("eth_gasPrice"), 16)
    tip = 10**9
    max_fee = 4 * gas_price + tip
    nonces = [int(rpc.call("eth_getTransactionCount", a, "pending"), 16) for a, _ in accounts]
    specs = []
    for i in range(count):
        a = i % len(accounts)
        to = fresh_address()
        nonce = nonces[a] + i // len(accounts)
        specs.append((accounts[a], nonce, to))
    url = f"http://127.0.0.1:{rpc.port}"

    def one(spec):
        (addr, key), nonce, to = spec
        if kind == "plain":
            raw = sign(cast, url, key, chain_id, nonce, max_fee, tip, to, PLAIN_GAS)
        else:
            raw = sign(cast, url, key, chain_id, nonce, max_fee, tip, CROSS_SHARD, SEND_GAS,
                       [SEND_SIG, str(dst), to, "0", "0x"])
        return {"kind": kind, "src": src, "dst": dst, "from": addr, "nonce": nonce, "to": to,
                "raw": raw}

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, specs))


# ---------------------------------------------------------------------------------------------
# Measuring


def poll_until(fn, t_start, poll, deadline):
    """Calls fn() at t_start + k*poll (k = 1, 2, ...; late slots skipped) until it returns
    something other than None; returns (monotonic time the answer arrived, answer)."""
    k = 1
    while True:
        target = t_start + k * poll
        now = time.monotonic()
        if target < now:
            k = int((now - t_start) / poll) + 1
            target = t_start + k * poll
        if target > deadline:
            raise TimeoutError
        sleep_until(target)
        k += 1
        answer = fn()
        if answer is not None:
            return time.monotonic(), answer


def track(job, shards, poll, receipt_timeout, delivery_timeout):
    """After the submit: waits for the receipt, and for a cross-shard job the delivery."""
    src = shards[job["src"]]
    t0 = job["t_submit"]
    try:
        t_rcpt, rcpt = poll_until(
            lambda: src.call("eth_getTransactionReceipt", job["hash"]),
            t0, poll, deadline_in(receipt_timeout))
    except TimeoutError:
        job["error"] = "no receipt in time"
        return
    job["t_receipt"] = t_rcpt
    job["block"] = int(rcpt["blockNumber"], 16)
    if rcpt.get("status") != "0x1":
        job["error"] = f"reverted (receipt status {rcpt.get('status')})"
        return
    if job["kind"] == "plain":
        job["t_done"] = t_rcpt
        return
    ids = [
        log["topics"][1] for log in rcpt["logs"]
        if log["address"].lower() == CROSS_SHARD and log["topics"][0] == MESSAGE_SENT
    ]
    if len(ids) != 1:
        job["error"] = f"expected one MessageSent log, found {len(ids)}"
        return
    job["id"] = ids[0]
    seen = {}

    def status():
        msg = src.call("kaimeng_getCrossShardMessage", job["id"])
        if msg is None:
            return None
        state = msg["status"]
        if state not in seen:
            seen[state] = time.monotonic()
        if state == "delivered" or state in ("refundPending", "refunded"):
            return msg
        return None

    try:
        t_done, msg = poll_until(status, t_rcpt, poll, deadline_in(delivery_timeout))
    except TimeoutError:
        job["error"] = f"not delivered in time (statuses seen: {sorted(seen)})"
        return
    job["message"] = {k: msg.get(k) for k in ("status", "source", "crosslinkedAt", "delivery")}
    if msg["status"] != "delivered":
        job["error"] = f"status {msg['status']}, delivery {msg.get('delivery')}"
        return
    job["t_crosslinked"] = seen.get("crosslinked")  # None if it went straight to delivered
    job["t_done"] = t_done


def run_phase(name, jobs, shards, args, node, sampler):
    """Submits the jobs in order with at most args.inflight unfinished; waits for all."""
    slots = threading.BoundedSemaphore(args.inflight)
    threads = []
    poll = args.poll_ms / 1000.0
    cpu0, wall0 = node.cpu_seconds(), time.monotonic()
    heads0 = sampler.heads() if sampler else None
    for job in jobs:
        while not slots.acquire(timeout=0.5):
            if time.monotonic() > GLOBAL_DEADLINE[0]:
                raise BenchTimeout(f"{name}: overall timeout while waiting for a free slot")
        job["t_submit"] = time.monotonic()
        try:
            job["hash"] = shards[job["src"]].call("eth_sendRawTransaction", job["raw"])
        except RpcError as e:
            job["error"] = f"submit: {e}"
            slots.release()
            continue

        def worker(job=job):
            try:
                track(job, shards, poll, args.receipt_timeout, args.delivery_timeout)
            except Exception as e:  # noqa: BLE001 - recorded, reported, counted as failed
                job["error"] = f"{type(e).__name__}: {e}"
            finally:
                slots.release()

        t = threading.Thread(target=worker, daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(max(0.0, GLOBAL_DEADLINE[0] - time.monotonic()))
        if t.is_alive():
            raise BenchTimeout(f"{name}: overall timeout while waiting for transfers")
    check_deadline(name)
    cpu1, wall1 = node.cpu_seconds(), time.monotonic()
    return {
        "wall_s": wall1 - wall0,
        "node_cpu_s": None if cpu0 is None or cpu1 is None else cpu1 - cpu0,
        "heads_before": heads0,
        "heads_after": sampler.heads() if sampler else None,
    }


class Sampler(threading.Thread):
    """Notes when each beacon block and shard block is first seen on validator 0."""

    def __init__(self, shards, period):
        super().__init__(daemon=True)
        self.shards = shards
        self.period = period
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.beacon = {}  # height -> first seen (monotonic)
        self.shard_seen = [{}, {}]  # per shard: height -> first seen
        self.beacon_head = self._find_beacon_head()
        self.errors = 0

    def _find_beacon_head(self):
        rpc = self.shards[0]
        lo, hi = 0, 1
        while rpc.call("kaimeng_getBeaconBlock", hi) is not None:
            lo, hi = hi, hi * 2
        while hi - lo > 1:  # block lo exists, block hi does not
            mid = (lo + hi) // 2
            if rpc.call("kaimeng_getBeaconBlock", mid) is not None:
                lo = mid
            else:
                hi = mid
        return lo

    def heads(self):
        with self.lock:
            return {
                "beacon": self.beacon_head,
                "shards": [max(s) if s else None for s in self.shard_seen],
            }

    def run(self):
        next_t = time.monotonic()
        while not self.stop_flag.is_set():
            try:
                self._sample()
            except Exception:  # noqa: BLE001 - a missed sample only blurs the breakdown
                self.errors += 1
            next_t += self.period
            now = time.monotonic()
            if next_t < now:
                next_t = now
            self.stop_flag.wait(next_t - now)

    def _sample(self):
        while self.shards[0].call("kaimeng_getBeaconBlock", self.beacon_head + 1) is not None:
            now = time.monotonic()
            with self.lock:
                self.beacon_head += 1
                self.beacon[self.beacon_head] = now
        for s, rpc in enumerate(self.shards):
            height = int(rpc.call("eth_blockNumber"), 16)
            now = time.monotonic()
            with self.lock:
                seen = self.shard_seen[s]
                if not seen:
                    seen[height] = now
                for h in range(max(seen) + 1, height + 1):
                    seen[h] = now

    def stop(self):
        self.stop_flag.set()
        self.join(5)


# ---------------------------------------------------------------------------------------------
# Statistics and the report


def pct(sorted_xs, p):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_xs:
        return None
    return sorted_xs[max(0, math.ceil(p / 100.0 * len(sorted_xs)) - 1)]


def summary(xs):
    xs = sorted(xs)
    if not xs:
        return None
    return {
        "n": len(xs), "min": xs[0], "p50": pct(xs, 50), "p90": pct(xs, 90),
        "p99": pct(xs, 99), "max": xs[-1], "mean": sum(xs) / len(xs),
    }


def ms(x):
    return "—" if x is None else f"{x * 1000:,.0f}"


def intervals(seen, lo, hi):
    """Gaps between consecutive heights lo..hi first seen (seconds)."""
    hs = [h for h in range(lo, hi + 1) if h in seen]
    return [seen[b] - seen[a] for a, b in zip(hs, hs[1:]) if b == a + 1]


def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        nproc = int(subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip())
    except (OSError, ValueError):
        nproc = len(os.sched_getaffinity(0))
    mem = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = f"{int(line.split()[1]) / 1024 / 1024:.0f} GB"
    except OSError:
        pass
    return {"nproc": nproc, "cpu": model, "memory": mem, "kernel": os.uname().release}


def git_head():
    try:
        out = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def beacon_ref_height(block):
    """The beacon height a shard header references: its extraData is the tag "kaimeng", then
    that height and epoch as 8-byte big-endian integers (docs/design.md)."""
    extra = bytes.fromhex(block["extraData"][2:])
    if len(extra) >= 23 and extra[:7] == b"kaimeng":
        return int.from_bytes(extra[7:15], "big")
    return None


def analyse(phases, sampler, shards):
    """Stage breakdown of the cross-shard jobs, with the sampler's beacon times."""
    out = {}
    for name, jobs in phases.items():
        done = [j for j in jobs if "t_done" in j]
        rec = {"latency": summary([j["t_done"] - j["t_submit"] for j in done])}
        if name != "single":
            rec["submit_to_receipt"] = summary([j["t_receipt"] - j["t_submit"] for j in done])
            withx = [j for j in done if j.get("t_crosslinked")]
            rec["receipt_to_crosslinked"] = summary(
                [j["t_crosslinked"] - j["t_receipt"] for j in withx])
            rec["crosslinked_to_delivered"] = summary(
                [j["t_done"] - j["t_crosslinked"] for j in withx])
            if sampler:
                # settled lag: beacon c final -> beacon c+1 final (what a proposer waits for
                # before it may reference c); then c+1 final -> delivered seen
                lag, after = [], []
                for j in done:
                    c = j["message"]["crosslinkedAt"]
                    if c in sampler.beacon and c + 1 in sampler.beacon:
                        lag.append(sampler.beacon[c + 1] - sampler.beacon[c])
                        after.append(j["t_done"] - sampler.beacon[c + 1])
                rec["beacon_c_to_c1"] = summary(lag)
                rec["beacon_c1_to_delivered"] = summary(after)
            # which beacon block the delivering block referenced, relative to crosslinkedAt
            refs = {}
            dst = shards[jobs[0]["dst"]] if jobs else None
            for j in done:
                b = j["message"]["delivery"]["block"]
                blk = dst.call("eth_getBlockByNumber", hex(b), False)
                r = beacon_ref_height(blk) if blk else None
                if r is not None:
                    d = r - j["message"]["crosslinkedAt"]
                    refs[d] = refs.get(d, 0) + 1
                j["delivery_ref"] = r
            rec["ref_minus_crosslinked"] = dict(sorted(refs.items()))
        out[name] = rec
    return out


def check_balances(jobs, shards):
    """Every delivered recipient holds exactly the 1 gwei sent."""
    bad = 0
    for j in jobs:
        if "t_done" in j:
            bal = int(shards[j["dst"]].call("eth_getBalance", j["to"], "latest"), 16)
            if bal != VALUE_WEI:
                bad += 1
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=100, help="transfers per measured phase [100]")
    ap.add_argument("--reverse", type=int, default=10, help="cross-shard transfers 1->0 [10]")
    ap.add_argument("--warmup", type=int, default=2, help="unmeasured transfers per phase [2]")
    ap.add_argument("--accounts", type=int, default=5, help="dev accounts 1..A send [5]")
    ap.add_argument("--inflight", type=int, default=10, help="unfinished transfers at most [10]")
    ap.add_argument("--poll-ms", type=float, default=20.0, help="receipt/status poll [20]")
    ap.add_argument("--sample-ms", type=float, default=25.0, help="block sampler period [25]")
    ap.add_argument("--no-sampler", action="store_true", help="no beacon/shard block sampler")
    ap.add_argument("--block-time", type=int, default=200, help="kaimeng dev --block-time [200]")
    ap.add_argument("--timeout", type=float, default=900.0, help="overall seconds [900]")
    ap.add_argument("--start-timeout", type=float, default=120.0)
    ap.add_argument("--receipt-timeout", type=float, default=60.0)
    ap.add_argument("--delivery-timeout", type=float, default=120.0)
    ap.add_argument("--bin", default=os.environ.get("KAIMENG_BIN"))
    ap.add_argument("--cast", default=os.environ.get("CAST"))
    ap.add_argument("--json", help="also write the results and every sample here")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()

    if args.bin is None:
        target = os.environ.get("CARGO_TARGET_DIR")
        candidates = ([os.path.join(target, "debug", "kaimeng")] if target else []) + [
            os.path.expanduser("~/.cache/kaimeng-target/debug/kaimeng"),
            os.path.join(REPO, "target", "debug", "kaimeng"),
        ]
        args.bin = next((c for c in candidates if os.access(c, os.X_OK)), candidates[0])
    if args.cast is None:
        local = os.path.join(REPO, "tests/clients/node_modules/@foundry-rs/cast-linux-amd64/bin/cast")
        args.cast = local if os.access(local, os.X_OK) else shutil.which("cast")
    for what, path in (("kaimeng", args.bin), ("cast", args.cast)):
        if not path or not os.access(path, os.X_OK):
            print(f"error: no {what} binary at {path!r}", file=sys.stderr)
            return 1
    if args.n < 1 or args.accounts < 1 or args.inflight < 1 or args.reverse < 0:
        print("error: -n, --accounts and --inflight must be positive", file=sys.stderr)
        return 1

    def on_alarm(signum, frame):
        raise BenchTimeout(f"overall timeout of {args.timeout:.0f} s")

    def on_term(signum, frame):
        raise Stop()

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    GLOBAL_DEADLINE[0] = time.monotonic() + args.timeout
    signal.alarm(int(math.ceil(args.timeout)) + 30)  # backstop; every wait has its deadline

    info = {
        "started_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        "machine": machine(),
        "loadavg_start": os.getloadavg(),
        "git_head": git_head(),
        "binary": args.bin,
        "binary_mtime_utc": datetime.datetime.fromtimestamp(
            os.path.getmtime(args.bin), datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        "options": {k: v for k, v in vars(args).items() if k not in ("json",)},
    }
    workdir = tempfile.mkdtemp(prefix="kaimeng-xshard-bench-")
    node = DevNode(args.bin, workdir, args.block_time)
    sampler = None
    status = 1
    try:
        print(f"starting kaimeng dev in {workdir} ...", file=sys.stderr)
        node.start(args.start_timeout)
        info["node_command"] = node.command
        shards = [Rpc(node.port), Rpc(node.port + 1)]
        accounts = node.dev_keys()[1:1 + args.accounts]
        if len(accounts) < args.accounts:
            raise BenchError(f"the banner lists only {len(accounts)} accounts after account 0")
        print(f"node up: shard 0 on {node.port}, shard 1 on {node.port + 1}", file=sys.stderr)
        if not args.no_sampler:
            sampler = Sampler(shards, args.sample_ms / 1000.0)
            sampler.start()

        plan = [("single", "plain", 0, 0, args.n), ("0->1", "cross", 0, 1, args.n)]
        if args.reverse:
            plan.append(("1->0", "cross", 1, 0, args.reverse))
        phases, phase_info = {}, {}
        for name, kind, src, dst, count in plan:
            check_deadline(name)
            if args.warmup:
                warm = prepare(kind, args.warmup, accounts, src, dst, shards, args.cast)
                run_phase(name + " warm-up", warm, shards, args, node, None)
                failed = [j.get("error") for j in warm if "t_done" not in j]
                if failed:
                    raise BenchError(f"{name} warm-up failed: {failed[0]}")
            print(f"{name}: signing {count} transfers ...", file=sys.stderr)
            jobs = prepare(kind, count, accounts, src, dst, shards, args.cast)
            print(f"{name}: measuring ...", file=sys.stderr)
            phase_info[name] = run_phase(name, jobs, shards, args, node, sampler)
            phases[name] = jobs
            done = sum(1 for j in jobs if "t_done" in j)
            print(f"{name}: {done}/{count} done in {phase_info[name]['wall_s']:.1f} s",
                  file=sys.stderr)
        if sampler:
            sampler.stop()
        info["finished_utc"] = datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M:%S")
        info["loadavg_end"] = os.getloadavg()
        results = analyse(phases, sampler, shards)
        bad_balances = sum(check_balances(phases[p], shards) for p in phases if p != "single")
        status = report(info, phases, phase_info, results, sampler, bad_balances, args)
        if args.json:
            dump = {
                "info": info, "phases": phase_info, "results": results,
                "bad_balances": bad_balances,
                "samples": {
                    name: [{k: v for k, v in j.items() if k != "raw"} for j in jobs]
                    for name, jobs in phases.items()
                },
                "beacon_seen": sampler.beacon if sampler else None,
                "shard_seen": sampler.shard_seen if sampler else None,
            }
            with open(args.json, "w") as f:
                json.dump(dump, f, indent=1, default=str)
    except BenchTimeout as e:
        print(f"error: {e}", file=sys.stderr)
        status = 2
    except (BenchError, RpcError) as e:
        print(f"error: {e}", file=sys.stderr)
        status = 1
    except (KeyboardInterrupt, Stop):
        print("interrupted", file=sys.stderr)
        status = 130
    finally:
        signal.alarm(0)
        if sampler:
            sampler.stop_flag.set()
        node.stop()
        if status not in (0, 3):
            tail = node.log_tail(15)
            if tail:
                print(f"--- last lines of the node's log ({node.log_path}) ---\n{tail}",
                      file=sys.stderr)
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        elif status in (0, 3):
            shutil.rmtree(workdir, ignore_errors=True)
        else:  # keep the node's log, not its chain data
            for entry in os.listdir(workdir):
                if entry.startswith("data"):
                    shutil.rmtree(os.path.join(workdir, entry), ignore_errors=True)
            print(f"kept the node's log in {workdir}", file=sys.stderr)
    return status


def report(info, phases, phase_info, results, sampler, bad_balances, args):
    m = info["machine"]
    p = print
    p()
    p("Cross-shard transfer latency (benches/crossshard-latency.py)")
    p(f"  date        {info['started_utc']} – {info['finished_utc']} UTC")
    p(f"  machine     nproc {m['nproc']}, {m['cpu']}, {m['memory']}, Linux {m['kernel']}")
    p(f"  load avg    {info['loadavg_start'][0]:.2f} at the start, "
      f"{info['loadavg_end'][0]:.2f} at the end (1 min)")
    p(f"  node        {info['node_command']}")
    p(f"  binary      {info['binary']} (modified {info['binary_mtime_utc']} UTC); "
      f"repository HEAD {info['git_head']}")
    p(f"  load        {args.accounts} accounts round-robin, at most {args.inflight} in flight, "
      f"polls every {args.poll_ms:g} ms, {args.warmup} warm-up transfers per phase")
    p()
    failed_any = False
    p("| phase | done / sent | p50 ms | p90 ms | p99 ms | max ms | mean ms | wall s | node CPU |")
    p("|---|---|---|---|---|---|---|---|---|")
    labels = {"single": "single-shard transfer, shard 0 (submit → receipt)",
              "0->1": "cross-shard 0 → 1 (submit → delivered)",
              "1->0": "cross-shard 1 → 0 (submit → delivered)"}
    for name, jobs in phases.items():
        s = results[name]["latency"]
        pi = phase_info[name]
        done = sum(1 for j in jobs if "t_done" in j)
        failed_any |= done != len(jobs)
        cpu = ("—" if pi["node_cpu_s"] is None
               else f"{pi['node_cpu_s'] / pi['wall_s']:.2f} cores")
        if s:
            p(f"| {labels[name]} | {done} / {len(jobs)} | {ms(s['p50'])} | {ms(s['p90'])} | "
              f"{ms(s['p99'])} | {ms(s['max'])} | {ms(s['mean'])} | {pi['wall_s']:.1f} | {cpu} |")
        else:
            p(f"| {labels[name]} | 0 / {len(jobs)} | — | — | — | — | — | {pi['wall_s']:.1f} | {cpu} |")
    p()
    single = results["single"]["latency"]
    cross = results["0->1"]["latency"]
    verdict = None
    if single and cross:
        ratio = cross["p50"] / single["p50"]
        verdict = ratio <= TARGET_RATIO
        p(f"cross-shard p50 / single-shard p50 = {ms(cross['p50'])} / {ms(single['p50'])} ms "
          f"= {ratio:.2f}x  (target <= {TARGET_RATIO:g}x: {'MET' if verdict else 'NOT MET'})")
        rev = results.get("1->0", {}).get("latency")
        if rev:
            p(f"  (1 -> 0: p50 {ms(rev['p50'])} ms = {rev['p50'] / single['p50']:.2f}x)")
    p()
    p("Cross-shard stages, p50 / p90 / max ms (observed at the polls):")
    stages = [
        ("submit_to_receipt", "submit → receipt (source block final)"),
        ("receipt_to_crosslinked", "receipt → status crosslinked (linking beacon block final)"),
        ("crosslinked_to_delivered", "crosslinked → delivered"),
        ("beacon_c_to_c1", "  of which: beacon c final → beacon c+1 final (settled lag)"),
        ("beacon_c1_to_delivered", "  of which: beacon c+1 final → delivered seen"),
    ]
    for name in phases:
        if name == "single":
            continue
        p(f"  {name}:")
        for key, label in stages:
            s = results[name].get(key)
            if s:
                p(f"    {label:<62} {ms(s['p50']):>6} / {ms(s['p90']):>6} / {ms(s['max']):>6}"
                  f"  (n={s['n']})")
        p(f"    delivering block's beacon reference − crosslinkedAt: "
          f"{results[name]['ref_minus_crosslinked']} (value: count)")
    if sampler:
        p()
        p("Blocks while measuring: beacon blocks with the p50 / p90 gap between consecutive "
          "ones (ms); shard blocks with the mean gap (wall / blocks):")
        for name in phases:
            hb, ha = phase_info[name]["heads_before"], phase_info[name]["heads_after"]
            if not hb or not ha:
                continue
            wall = phase_info[name]["wall_s"]
            parts = []
            b = summary(intervals(sampler.beacon, hb["beacon"], ha["beacon"]))
            parts.append(f"beacon {ha['beacon'] - hb['beacon']}"
                         + (f" ({ms(b['p50'])} / {ms(b['p90'])})" if b else ""))
            for s in (0, 1):
                if hb["shards"][s] is None or ha["shards"][s] is None:
                    continue
                count = ha["shards"][s] - hb["shards"][s]
                mean_gap = f" ({ms(wall / count)})" if count else ""
                parts.append(f"shard {s} {count}{mean_gap}")
            p(f"  {name} ({wall:.1f} s): " + "; ".join(parts))
        if sampler.errors:
            p(f"  (sampler: {sampler.errors} failed samples)")
    if bad_balances:
        p(f"\nWARNING: {bad_balances} delivered recipients do not hold exactly 1 gwei")
    errors = [(name, j.get("error")) for name, jobs in phases.items() for j in jobs
              if "t_done" not in j]
    if errors:
        p(f"\n{len(errors)} transfers failed or timed out; first ones:")
        for name, e in errors[:5]:
            p(f"  {name}: {e}")
    return 3 if failed_any or bad_balances else 0


if __name__ == "__main__":
    sys.exit(main())
