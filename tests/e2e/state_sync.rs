//! Shard state sync with real processes: a full node that joins a running two-shard testnet
//! late takes each shard's state as a snapshot at the newest crosslinked epoch end, served by
//! members pinned at that height while their heads move on, instead of replaying from
//! genesis; then it follows block by block, with the same state as the members.

use std::time::Duration;

use alloy_primitives::Address;
use serde_json::json;

use crate::cluster::Cluster;
use crate::node::{receipt_at, result_at, rpc_at, signed_transfer};

const EPOCH_LENGTH: u64 = 8;
const MIN_GAP: u64 = 24;

fn balance(port: u16, who: Address) -> String {
    result_at(port, "eth_getBalance", json!([who, "latest"]))
        .as_str()
        .unwrap()
        .to_string()
}

fn block_hash(port: u16, number: u64) -> serde_json::Value {
    rpc_at(
        port,
        "eth_getBlockByNumber",
        json!([format!("{number:#x}"), false]),
    )["result"]["hash"]
        .clone()
}

#[test]
fn a_late_full_node_takes_each_shard_by_snapshot_and_then_follows() {
    let cluster = Cluster::start_with(
        4,
        "secp256k1-keccak",
        &[
            "--shards",
            "2",
            "--epoch-length",
            &EPOCH_LENGTH.to_string(),
            "--block-time-ms",
            "300",
        ],
    );
    let member = |shard: u16| cluster.rpc_ports[0] + shard;
    // State beyond genesis on both shards: transfers to fresh accounts.
    let recipients: Vec<Address> = (1..=12u8).map(Address::repeat_byte).collect();
    for (shard, chain_id) in [(0u16, 31337u64), (1, 31338)] {
        let mut last = String::new();
        for (nonce, to) in recipients.iter().enumerate() {
            let raw = signed_transfer(chain_id, nonce as u64, *to, 1_000 + nonce as u64);
            last = result_at(member(shard), "eth_sendRawTransaction", json!([raw]))
                .as_str()
                .unwrap()
                .to_string();
        }
        let receipt = receipt_at(member(shard), &last, Duration::from_secs(60));
        assert_eq!(receipt["status"], "0x1", "{receipt}");
    }
    // Both shards well past the gap, so the newest crosslinked epoch end is beyond it.
    cluster.wait_until(0, Duration::from_secs(120), "pass the snapshot gap", |_| {
        [0, 1].iter().all(|&s| {
            crate::node::result_at(member(s), "eth_blockNumber", json!([]))
                .as_str()
                .and_then(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok())
                .is_some_and(|h| h >= MIN_GAP + 2 * EPOCH_LENGTH)
        })
    });

    let full = cluster.full_node("late", &format!("[sync]\nsnapshot_min_gap = {MIN_GAP}\n"));
    let installed = |shard: u16| {
        full.log().lines().any(|l| {
            l.contains("state sync: snapshot installed") && l.contains(&format!("shard={shard}"))
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !(installed(0) && installed(1)) {
        assert!(
            std::time::Instant::now() < deadline,
            "the late node did not install both shards' snapshots; log:\n{}",
            full.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    for shard in [0u16, 1] {
        // Above the snapshot's height: the member's head after the install, and one more.
        let target = crate::node::result_at(member(shard), "eth_blockNumber", json!([]))
            .as_str()
            .and_then(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok())
            .unwrap()
            + 1;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while full.height_of(shard).is_none_or(|h| h < target) {
            assert!(
                std::time::Instant::now() < deadline,
                "shard {shard} of the late node did not reach {target} (at {:?}); log:\n{}",
                full.height_of(shard),
                full.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let port = full.rpc + shard;
        // The same chain and state as the members.
        assert_eq!(block_hash(port, target), block_hash(member(shard), target));
        for who in &recipients {
            assert_eq!(balance(port, *who), balance(member(shard), *who));
        }
        // It did not replay from genesis: blocks below the snapshot are not on it.
        assert!(
            block_hash(port, 1).is_null(),
            "shard {shard} replayed block 1"
        );
        assert!(!block_hash(member(shard), 1).is_null());
    }
    let log = full.log();
    assert!(log.contains("state sync: every chunk checked"), "{log}");
    // Some member served it.
    let served = (0..4).any(|i| {
        std::fs::read_to_string(cluster.configs[i].with_file_name("node.log"))
            .unwrap_or_default()
            .contains("state snapshot ready to serve")
    });
    assert!(served, "no member logged a served snapshot");
}
