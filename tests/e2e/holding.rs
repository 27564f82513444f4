//! Validators that execute only their committees' shards (`[shards] hold = "committees"`),
//! with real processes: six members, two shards, committees of two, and a full node that
//! holds every shard. A member that does not hold a shard neither executes its blocks nor
//! takes its transactions (it says where to send them); value still crosses between shards,
//! because a destination's proposers fetch the messages of shards they do not hold from
//! peers, checked against the crosslinks; and the supply is conserved.

use std::time::{Duration, Instant};

use alloy_primitives::{Address, U256};
use serde_json::json;

use crate::cluster::Cluster;
use crate::crossshard::{quiet_total, send, settled};
use crate::node::{result_at, rpc_at, signed_transfer};

fn height(port: u16) -> u64 {
    u64::from_str_radix(
        result_at(port, "eth_blockNumber", json!([]))
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
        16,
    )
    .unwrap()
}

#[test]
fn members_execute_only_their_shards_and_value_still_crosses() {
    let cluster = Cluster::start_configured(
        6,
        "secp256k1-keccak",
        &[
            "--shards",
            "2",
            "--committee-size",
            "2",
            "--epoch-length",
            "40",
            "--block-time-ms",
            "300",
        ],
        "[shards]\nhold = \"committees\"",
    );
    let port = |i: usize, shard: u16| cluster.rpc_ports[i] + shard;
    let full = cluster.full_node("observer", "");
    let deadline = Instant::now() + Duration::from_secs(60);
    while [0, 1]
        .iter()
        .any(|s| full.height_of(*s).is_none_or(|h| h < 2))
    {
        assert!(
            Instant::now() < deadline,
            "the full node does not follow:\n{}",
            full.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Value crosses both ways and the total is conserved (the full node sees every shard).
    let total = quiet_total(full.rpc);
    let value = U256::from(10u64.pow(15));
    let (there, _) = send(
        full.rpc,
        31337,
        1,
        Address::repeat_byte(0x61),
        value,
        30_000,
    );
    let (back, _) = send(
        full.rpc + 1,
        31338,
        0,
        Address::repeat_byte(0x62),
        value,
        30_000,
    );
    assert_eq!(settled(full.rpc, there)["status"], "delivered");
    assert_eq!(settled(full.rpc, back)["status"], "delivered");
    assert_eq!(quiet_total(full.rpc), total);

    // Which member holds which shard, read twice around a short window.
    let held = |i: usize| -> Vec<u16> {
        serde_json::from_value(result_at(port(i, 0), "kaimeng_heldShards", json!([]))).unwrap()
    };
    let mut checked_non_holders = 0;
    for _round in 0..5 {
        let before: Vec<Vec<u16>> = (0..6).map(held).collect();
        let heights: Vec<[u64; 2]> = (0..6)
            .map(|i| [height(port(i, 0)), height(port(i, 1))])
            .collect();
        let reference = [full.height_of(0).unwrap(), full.height_of(1).unwrap()];
        std::thread::sleep(Duration::from_millis(1_500));
        let after: Vec<Vec<u16>> = (0..6).map(held).collect();
        let advanced = [full.height_of(0).unwrap(), full.height_of(1).unwrap()];
        for shard in 0..2u16 {
            assert!(
                advanced[shard as usize] > reference[shard as usize],
                "shard {shard} stalled"
            );
            // Every shard has holders.
            assert!(
                after.iter().any(|h| h.contains(&shard)),
                "nobody holds shard {shard}"
            );
            for i in 0..6 {
                if before[i].contains(&shard) || after[i].contains(&shard) {
                    continue;
                }
                // Not held throughout: its blocks were not executed here, and a transaction
                // is refused with where to send it.
                assert_eq!(
                    height(port(i, shard)),
                    heights[i][shard as usize],
                    "member {i} executed shard {shard} it does not hold"
                );
                let raw =
                    signed_transfer(31337 + shard as u64, 1_000, Address::repeat_byte(0x63), 1);
                let error = rpc_at(port(i, shard), "eth_sendRawTransaction", json!([raw]))["error"]
                    ["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                assert!(
                    error.contains(&format!("does not execute shard {shard}")),
                    "member {i}: {error}"
                );
                checked_non_holders += 1;
            }
        }
        if checked_non_holders > 0 {
            break;
        }
    }
    // Six members, committees of two, at most a few epochs' committees kept: some member
    // always lacks a shard.
    assert!(checked_non_holders > 0, "every member held every shard");
    // A member that holds a shard is at its head.
    for shard in 0..2u16 {
        let holder = (0..6).find(|i| held(*i).contains(&shard)).unwrap();
        let target = full.height_of(shard).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while height(port(holder, shard)) < target {
            assert!(
                Instant::now() < deadline,
                "holder {holder} of shard {shard} is behind"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
