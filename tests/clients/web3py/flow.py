"""The web3.py flow: deploy KaiToken, transfer, read Transfer logs, catch the revert reason, and
receive a newHeads event over WebSocket. Accounts 0-2 are derived from the dev mnemonic."""

import asyncio
import json
import os
import sys
import time
from pathlib import Path

from eth_account import Account
from web3 import AsyncWeb3, Web3
from web3.exceptions import ContractLogicError
from web3.middleware import SignAndSendRawMiddlewareBuilder
from web3.providers.persistent import WebSocketProvider

FLOW = "web3py"
DEV_MNEMONIC = "test test test test test test test test test test test junk"
INSUFFICIENT_BALANCE = "KaiToken: insufficient balance"
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
NAME, SYMBOL = "Kai Token", "KAI"
SUPPLY = 1_000_000 * 10**18
AMOUNT = 1234 * 10**15
WAIT_S = float(os.environ.get("CLIENT_WAIT_MS", "30000")) / 1000
ARTIFACT = Path(__file__).resolve().parents[2] / "contracts" / "out" / "KaiToken.json"


class CheckFailed(Exception):
    """One check of the flow did not hold."""


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def check_eq(actual, expected, what):
    check(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")


def step(message):
    print(f"[{FLOW}] {message}", flush=True)


def env(name):
    value = os.environ.get(name)
    if not value:
        raise CheckFailed(f"{name} is not set (run through tests/clients/run.sh or export it)")
    return value


def dev_account(index):
    return Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")


def mined(w3, tx_hash, what):
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=WAIT_S, poll_latency=0.25)
    check_eq(receipt["status"], 1, f"{what}: receipt status")
    return receipt


def expect_revert(call, what):
    """Runs `call` expecting the insufficient-balance revert as web3.py surfaces it."""
    try:
        value = call()
    except ContractLogicError as err:
        check_eq(err.message, f"execution reverted: {INSUFFICIENT_BALANCE}", f"{what}: message")
        check(
            isinstance(err.data, str) and err.data.startswith("0x08c379a0"),
            f"{what}: revert data is not Error(string): {err.data!r}",
        )
        reason = Web3().codec.decode(["string"], bytes.fromhex(err.data[10:]))[0]
        check_eq(reason, INSUFFICIENT_BALANCE, f"{what}: reason decoded from revert data")
        return err
    raise CheckFailed(f"{what}: expected a revert, got {value!r}")


def expect_raw_code_3(w3, method, params, what):
    """The JSON-RPC error object itself: code 3 with the Error(string) data."""
    response = w3.provider.make_request(method, params)
    error = response.get("error")
    check(error is not None, f"{what}: no error in {response!r}")
    check_eq(error.get("code"), 3, f"{what}: JSON-RPC error code")
    data = error.get("data")
    check(isinstance(data, str) and data.startswith("0x08c379a0"), f"{what}: error data {data!r}")
    reason = Web3().codec.decode(["string"], bytes.fromhex(data[10:]))[0]
    check_eq(reason, INSUFFICIENT_BALANCE, f"{what}: reason in error data")


async def await_new_head(ws_url, trigger):
    """Subscribes to newHeads, runs `trigger` once the node acknowledged the subscription, and
    returns (before, head) where head is the first block number above `before`."""
    async with AsyncWeb3(WebSocketProvider(ws_url, request_timeout=WAIT_S)) as w3ws:
        before = await w3ws.eth.block_number
        subscription_id = await asyncio.wait_for(w3ws.eth.subscribe("newHeads"), WAIT_S)
        check(bool(subscription_id), "eth_subscribe returned no id")
        await asyncio.to_thread(trigger)

        async def first_head_above():
            async for message in w3ws.socket.process_subscriptions():
                if message["subscription"] != subscription_id:
                    continue
                number = message["result"]["number"]
                if number > before:
                    return number
            raise CheckFailed("the WebSocket closed before a new head arrived")

        try:
            head = await asyncio.wait_for(first_head_above(), WAIT_S)
        except asyncio.TimeoutError:
            raise CheckFailed(f"no newHeads event above block {before} within {WAIT_S} s") from None
        check(await w3ws.eth.unsubscribe(subscription_id), "eth_unsubscribe returned false")
        return before, head


def main():
    rpc_url, ws_url = env("RPC_URL"), env("WS_URL")
    Account.enable_unaudited_hdwallet_features()
    owner, alice, bob = (dev_account(i) for i in range(3))
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": WAIT_S}))
    w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build([owner, alice, bob]), layer=0)
    step(f"connected to chain {w3.eth.chain_id}; accounts {owner.address} {alice.address} {bob.address}")

    # Deploy.
    artifact = json.loads(ARTIFACT.read_text())
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    deploy_receipt = mined(
        w3, factory.constructor(NAME, SYMBOL, SUPPLY).transact({"from": owner.address}), "deployment"
    )
    address = deploy_receipt["contractAddress"]
    check(address is not None, "receipt has no contractAddress")
    check(len(w3.eth.get_code(address)) > 0, "deployed code is empty")
    token = w3.eth.contract(address=address, abi=artifact["abi"])
    check_eq(token.functions.name().call(), NAME, "name")
    check_eq(token.functions.symbol().call(), SYMBOL, "symbol")
    check_eq(token.functions.decimals().call(), 18, "decimals")
    check_eq(token.functions.totalSupply().call(), SUPPLY, "totalSupply")
    check_eq(token.functions.balanceOf(owner.address).call(), SUPPLY, "owner balance")
    step(f"deployed KaiToken at {address} in block {deploy_receipt['blockNumber']}")

    # Transfer and exact balances on both sides.
    check_eq(token.functions.balanceOf(alice.address).call(), 0, "alice before transfer")
    transfer_receipt = mined(
        w3, token.functions.transfer(alice.address, AMOUNT).transact({"from": owner.address}), "transfer"
    )
    check_eq(token.functions.balanceOf(owner.address).call(), SUPPLY - AMOUNT, "owner after transfer")
    check_eq(token.functions.balanceOf(alice.address).call(), AMOUNT, "alice after transfer")
    step(f"transferred {AMOUNT} to {alice.address} in block {transfer_receipt['blockNumber']}")

    # Transfer events through eth_getLogs, filtered by address and topic.
    logs = w3.eth.get_logs(
        {
            "address": address,
            "topics": [TRANSFER_TOPIC],
            "fromBlock": deploy_receipt["blockNumber"],
            "toBlock": transfer_receipt["blockNumber"],
        }
    )
    events = [token.events.Transfer().process_log(log) for log in logs]
    check_eq(
        [(e["event"], e["args"]["from"], e["args"]["to"], e["args"]["value"]) for e in events],
        [
            ("Transfer", ZERO_ADDRESS, owner.address, SUPPLY),
            ("Transfer", owner.address, alice.address, AMOUNT),
        ],
        "Transfer events",
    )
    check_eq(logs[1]["transactionHash"], transfer_receipt["transactionHash"], "transfer log tx hash")
    to_alice = w3.eth.get_logs(
        {
            "address": address,
            "topics": [TRANSFER_TOPIC, None, "0x" + "00" * 12 + alice.address[2:].lower()],
            "fromBlock": deploy_receipt["blockNumber"],
            "toBlock": "latest",
        }
    )
    check_eq(len(to_alice), 1, "logs filtered by the indexed `to` topic")
    step(f"eth_getLogs returned the mint and the transfer ({len(logs)} logs)")

    # Revert reason from eth_call and eth_estimateGas, and the raw error object.
    bob_nonce = w3.eth.get_transaction_count(bob.address)
    bob_transfer = token.functions.transfer(owner.address, 1)
    expect_revert(lambda: bob_transfer.call({"from": bob.address}), "eth_call revert")
    expect_revert(lambda: bob_transfer.estimate_gas({"from": bob.address}), "eth_estimateGas revert")
    expect_revert(lambda: bob_transfer.transact({"from": bob.address}), "send revert (estimate first)")
    raw_tx = {"from": bob.address, "to": address, "data": bob_transfer._encode_transaction_data()}
    expect_raw_code_3(w3, "eth_call", [raw_tx, "latest"], "raw eth_call")
    expect_raw_code_3(w3, "eth_estimateGas", [raw_tx], "raw eth_estimateGas")
    check_eq(w3.eth.get_transaction_count(bob.address), bob_nonce, "bob's nonce after reverting calls")
    check_eq(token.functions.balanceOf(bob.address).call(), 0, "bob balance")
    step(f'revert reason surfaced as "{INSUFFICIENT_BALANCE}"')

    # newHeads over WebSocket, triggered by a transaction sent once the subscription is live.
    def trigger():
        mined(w3, w3.eth.send_transaction({"from": alice.address, "to": bob.address, "value": 1}), "trigger tx")

    before, head = asyncio.run(await_new_head(ws_url, trigger))
    check(head > before, f"newHeads block {head} is not above {before}")
    step(f"newHeads delivered block {head} (was {before})")


if __name__ == "__main__":
    started = time.monotonic()
    try:
        main()
    except Exception as err:  # noqa: BLE001 - any failure fails the flow with its message
        print(f"[{FLOW}] FAILED: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
        sys.exit(1)
    print(f"[{FLOW}] all checks passed in {int((time.monotonic() - started) * 1000)} ms", flush=True)
