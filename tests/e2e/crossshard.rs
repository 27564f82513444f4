//! Cross-shard messages between real processes: value sent from one shard arrives on the
//! other; a call that fails comes back as a refund to the exact wei; bad sends revert with a
//! reason and keep the value; `kaimeng_getCrossShardMessage` follows each message; and the
//! native supply summed over the shards plus the value in flight never changes, also while
//! a committee member is killed in the middle of the traffic.

use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::SolCall;
use kaimeng_shards::crossshard::CROSS_SHARD_ADDRESS;
use kaimeng_shards::crossshard::abi;
use serde_json::{Value, json};

use crate::node::*;

const ETHER: u64 = 1_000_000_000_000_000_000;
const DEV_ACCOUNT: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

pub(crate) fn hex_u256(value: &Value) -> U256 {
    value.as_str().unwrap().parse().unwrap()
}

pub(crate) fn balance(port: u16, who: Address) -> U256 {
    hex_u256(&result_at(port, "eth_getBalance", json!([who, "latest"])))
}

fn nonce(port: u16) -> u64 {
    hex_u256(&result_at(
        port,
        "eth_getTransactionCount",
        json!([DEV_ACCOUNT, "latest"]),
    ))
    .to::<u64>()
}

fn send_input(shard: u32, to: Address, gas_limit: u64, data: &[u8]) -> Vec<u8> {
    abi::sendCall {
        shard,
        to,
        gasLimit: gas_limit,
        data: Bytes::copy_from_slice(data),
    }
    .abi_encode()
}

/// Sends a message from dev account 0 on the shard served at `port` (chain id `chain_id`),
/// waits for its receipt and returns the message id (topic 1 of `MessageSent`) and the fee.
pub(crate) fn send(
    port: u16,
    chain_id: u64,
    shard: u32,
    to: Address,
    value: U256,
    gas: u64,
) -> (B256, U256) {
    let raw = signed_call(
        chain_id,
        nonce(port),
        CROSS_SHARD_ADDRESS,
        value,
        send_input(shard, to, gas, &[]),
        200_000 + gas,
    );
    let hash = result_at(port, "eth_sendRawTransaction", json!([raw]));
    let receipt = receipt_at(port, hash.as_str().unwrap(), Duration::from_secs(60));
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    let fee = hex_u256(&receipt["gasUsed"]) * hex_u256(&receipt["effectiveGasPrice"]);
    let id = receipt["logs"][0]["topics"][1]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    (id, fee)
}

/// Waits (bounded) until message `id` reaches a final status; returns its view.
pub(crate) fn settled(port: u16, id: B256) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let view = result_at(port, "kaimeng_getCrossShardMessage", json!([id]));
        if ["delivered", "refunded"].contains(&view["status"].as_str().unwrap_or("")) {
            return view;
        }
        assert!(
            Instant::now() < deadline,
            "message {id} did not settle: {view}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The conserved total, read as one consistent cut once nothing is in flight.
pub(crate) fn quiet_total(port: u16) -> U256 {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let supply = result_at(port, "kaimeng_supply", json!([]));
        if supply["consistent"] == true && supply["inFlight"] == "0" {
            return supply["total"].as_str().unwrap().parse().unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "messages stay in flight: {supply}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn value_crosses_shards_once_failed_calls_are_refunded_and_supply_is_conserved() {
    let node = DevNode::start(&[
        "--shards",
        "2",
        "--committee-size",
        "2",
        "--block-time",
        "200",
    ]);
    let (s0, s1) = (node.shard_ports[0], node.shard_ports[1]);
    let total = quiet_total(s0);

    // 1 ether from shard 0 to a fresh address on shard 1.
    let to = Address::repeat_byte(0xbe);
    let first = nonce(s0);
    let (id, _) = send(s0, 31337, 1, to, U256::from(ETHER), 0);
    let view = settled(s0, id);
    assert_eq!(view["status"], "delivered", "{view}");
    // The explorer's page of the sending transaction shows the message, delivered.
    let sender: Address = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        .parse()
        .unwrap();
    let page = crate::explorer::tx_page_by_nonce(s0, sender, first);
    let row = page
        .split(&format!("data-message=\"{id}\""))
        .nth(1)
        .unwrap_or_else(|| panic!("the transaction page lists no message {id}: {page}"));
    let status = row.split("message-status\">").nth(1).unwrap_or_default();
    assert!(status.starts_with("delivered"), "{status}");
    assert_eq!(view["source"]["shard"], 0);
    assert_eq!(view["destination"], 1);
    assert_eq!(view["delivery"]["result"], "succeeded");
    assert!(view["crosslinkedAt"].is_u64(), "{view}");
    assert_eq!(balance(s1, to), U256::from(ETHER));
    assert_eq!(balance(s0, to), U256::ZERO, "nothing arrives on the source");
    // Shard 1 has taken one message from shard 0, and shard 0 has sent one to shard 1.
    let inbox = abi::inboxNonceCall { shard: 0 }.abi_encode();
    let call = json!([{"to": CROSS_SHARD_ADDRESS, "data": Bytes::from(inbox)}, "latest"]);
    assert_eq!(hex_u256(&result_at(s1, "eth_call", call)), U256::from(1));

    // A call that reverts on shard 1 (the cross-shard contract refuses empty call data): the
    // sender gets the value back on shard 0 and is out of pocket by the fee alone.
    let before = balance(s0, DEV_ACCOUNT.parse().unwrap());
    let (failed, fee) = send(
        s0,
        31337,
        1,
        CROSS_SHARD_ADDRESS,
        U256::from(2 * ETHER),
        50_000,
    );
    let view = settled(s0, failed);
    assert_eq!(view["status"], "refunded", "{view}");
    assert_eq!(view["delivery"]["result"], "failed");
    let refund: B256 = view["refund"]["id"].as_str().unwrap().parse().unwrap();
    let refund_view = result_at(s1, "kaimeng_getCrossShardMessage", json!([refund]));
    assert_eq!(refund_view["kind"], "refund");
    assert_eq!(refund_view["refunds"], json!(failed));
    assert_eq!(balance(s0, DEV_ACCOUNT.parse().unwrap()), before - fee);

    // And back from shard 1 to shard 0.
    let (back, _) = send(s1, 31338, 0, to, U256::from(3u64), 0);
    assert_eq!(settled(s1, back)["status"], "delivered");
    assert_eq!(balance(s0, to), U256::from(3u64));

    // Bad sends revert with the reason and move nothing.
    for (input, reason) in [
        (send_input(0, to, 0, &[]), "is this shard"),
        (send_input(7, to, 0, &[]), "does not exist"),
        (send_input(1, to, 5_000_000, &[]), "above the most"),
        (send_input(1, to, 0, &vec![1; 9000]), "above the most"),
        (vec![1, 2], "no function selector"),
    ] {
        let call = json!([{"from": DEV_ACCOUNT, "to": CROSS_SHARD_ADDRESS, "value": "0x1",
            "data": Bytes::from(input), "gas": "0x200000"}, "latest"]);
        let answer = rpc_at(s0, "eth_call", call);
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(reason), "{reason}: {answer}");
    }
    // Malformed and unknown ids.
    let bad = rpc_at(s0, "kaimeng_getCrossShardMessage", json!(["0x12"]));
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap()
            .contains("message id"),
        "{bad}"
    );
    let unknown = result_at(
        s0,
        "kaimeng_getCrossShardMessage",
        json!([B256::repeat_byte(7)]),
    );
    assert!(unknown.is_null());

    assert_eq!(
        quiet_total(s0),
        total,
        "the native supply over both shards is conserved"
    );
}

#[test]
fn messages_settle_exactly_once_while_a_committee_member_is_killed() {
    let mut cluster = crate::cluster::Cluster::start_with(
        4,
        "secp256k1-keccak",
        &[
            "--shards",
            "2",
            "--epoch-length",
            "8",
            "--block-time-ms",
            "300",
        ],
    );
    let ports = cluster.rpc_ports.clone();
    // Every member sits on both committees (the committee size defaults to all members).
    let port = |i: usize, shard: u32| ports[i] + shard as u16;
    let (w0, w1) = (port(1, 0), port(1, 1));
    let total = quiet_total(w0);
    let mut ids = Vec::new();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for round in 0..12 {
        if round == 4 {
            cluster.kill(3);
        }
        let r = next();
        let (from_port, chain_id, destination) = if r % 2 == 0 {
            (w0, 31337, 1)
        } else {
            (w1, 31338, 0)
        };
        // A third of the calls fail on arrival and must be refunded.
        let to = if r % 3 == 0 {
            CROSS_SHARD_ADDRESS
        } else {
            Address::repeat_byte((r % 200) as u8 + 1)
        };
        let value = U256::from(1 + (r >> 8) % 1_000_000_000);
        let (id, _) = send(from_port, chain_id, destination, to, value, 30_000);
        ids.push((id, to == CROSS_SHARD_ADDRESS));
    }
    for (id, fails) in &ids {
        let view = settled(w0, *id);
        let expected = if *fails { "refunded" } else { "delivered" };
        assert_eq!(view["status"], expected, "{view}");
    }
    // Exactly once: each side counts the same messages.
    for (source, destination) in [(0u32, 1u32), (1, 0)] {
        let sent = abi::outboxNonceCall { shard: destination }.abi_encode();
        let taken = abi::inboxNonceCall { shard: source }.abi_encode();
        let read = |shard: u32, data: Vec<u8>| {
            hex_u256(&result_at(
                port(1, shard),
                "eth_call",
                json!([{"to": CROSS_SHARD_ADDRESS, "data": Bytes::from(data)}, "latest"]),
            ))
        };
        assert_eq!(read(source, sent), read(destination, taken));
    }
    assert_eq!(
        quiet_total(w0),
        total,
        "the native supply over both shards is conserved"
    );

    // Restarted, the killed member syncs both shards, deliveries included, to the same blocks.
    cluster.start_member(3);
    for shard in 0..2u32 {
        let target = hex_u256(&result_at(port(1, shard), "eth_blockNumber", json!([])));
        let deadline = Instant::now() + Duration::from_secs(120);
        while hex_u256(&result_at(port(3, shard), "eth_blockNumber", json!([]))) < target {
            assert!(
                Instant::now() < deadline,
                "member 3 did not catch up with shard {shard}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let number = json!(format!("0x{target:x}"));
        let hash = |i| {
            result_at(
                port(i, shard),
                "eth_getBlockByNumber",
                json!([number, false]),
            )["hash"]
                .clone()
        };
        assert_eq!(hash(3), hash(1), "shard {shard} block {target}");
    }
    assert_eq!(
        result_at(port(3, 0), "kaimeng_supply", json!([]))["total"],
        result_at(port(1, 0), "kaimeng_supply", json!([]))["total"]
    );
}
