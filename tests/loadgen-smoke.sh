#!/usr/bin/env bash
# A short load generator run against the node at $RPC_URL (see tests/with-dev-node.sh): every
# transfer must be accepted and confirmed, and the report must count each exactly once.
#   tests/loadgen-smoke.sh <loadgen binary>
set -euo pipefail
loadgen="${1:?usage: loadgen-smoke.sh <loadgen binary>}"
senders=20 txs=400
report="$("$loadgen" --rpc "$RPC_URL" --senders "$senders" --txs "$txs" --json --timeout 60)"
python3 - "$txs" "$report" <<'PY'
import json, sys
txs, report = int(sys.argv[1]), json.loads(sys.argv[2])
problems = [f"{k} is {report[k]!r}, expected {v!r}" for k, v in
            {"sent": txs, "accepted": txs, "failed": 0, "confirmed": txs,
             "unconfirmed": 0, "timed_out": False}.items() if report.get(k) != v]
if report.get("ctps", 0) <= 0:
    problems.append(f"ctps is {report.get('ctps')!r}")
if problems:
    sys.exit("loadgen smoke: " + "; ".join(problems))
print(f"loadgen smoke: {txs} transfers confirmed, {report['ctps']:.0f} CTPS")
PY
