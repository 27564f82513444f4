#!/usr/bin/env bash
# `cast send` to the cross-shard contract, as docs/cross-shard.md shows it: 12345 wei from the
# shard at RPC_URL to a fresh address on the shard at the port below it (run it with
# KAIMENG_DEV_SHARD=1 under tests/with-dev-node.sh), then `cast rpc kaimeng_getCrossShardMessage`
# until the message is delivered (bounded), and `cast balance` on the destination.
set -euo pipefail
cd "$(dirname "$0")"
CAST=node_modules/@foundry-rs/cast-linux-amd64/bin/cast
KEY=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
SOURCE_URL=${RPC_URL:?RPC_URL must point at shard 1}
DESTINATION_URL="http://127.0.0.1:$(( ${SOURCE_URL##*:} - 1 ))"
TO=0x$(python3 -c 'import secrets; print(secrets.token_hex(20))')
fail() { echo "FAIL crossshard-cast: $*"; exit 1; }

receipt=$("$CAST" send --json --rpc-url "$SOURCE_URL" --private-key "$KEY" \
  0x000000000000000000000000000000000000c5c5 "send(uint32,address,uint64,bytes)" 0 "$TO" 0 0x \
  --value 12345) || fail "cast send was refused"
id=$(python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["status"]=="0x1", r; print(r["logs"][0]["topics"][1])' <<<"$receipt") \
  || fail "no MessageSent log in $receipt"
status=
for _ in $(seq 1 600); do
  status=$("$CAST" rpc --rpc-url "$SOURCE_URL" kaimeng_getCrossShardMessage "$id" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
  [[ $status == delivered ]] && break
  sleep 0.1
done
[[ $status == delivered ]] || fail "message $id is still '$status' after 60 s"
balance=$("$CAST" balance --rpc-url "$DESTINATION_URL" "$TO")
[[ $balance == 12345 ]] || fail "the recipient holds $balance wei on shard 0, not 12345"
echo "PASS crossshard-cast: message $id delivered, 12345 wei arrived on shard 0"
