//! Validators that execute only their committees' shards (`[shards] hold = "committees"`, the
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

/// The height of the last block of `shard` member `i` executed (its metrics).
fn executed(cluster: &Cluster, i: usize, shard: u16) -> u64 {
    let text = cluster.scrape(i);
    let series = format!("kaimeng_finalized_height{{chain=\"shard-{shard}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&series))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
}

/// Six members in committees mode (two shards, committees of two, epochs of `epoch_length`)
/// and a full node that holds every shard, once it follows both shards.
fn committees_cluster(epoch_length: u64) -> (Cluster, crate::cluster::FullNode) {
    let cluster = Cluster::start_configured(
        6,
        "secp256k1-keccak",
        &[
            "--shards",
            "2",
            "--committee-size",
            "2",
            "--epoch-length",
            &epoch_length.to_string(),
            "--block-time-ms",
            "300",
        ],
        "",
    );
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
    (cluster, full)
}

#[test]
fn members_execute_only_their_shards_and_value_still_crosses() {
    let (cluster, full) = committees_cluster(40);
    let port = |i: usize, shard: u16| cluster.rpc_ports[i] + shard;

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
    let mut stalled_rounds = 0;
    for _round in 0..5 {
        let before: Vec<Vec<u16>> = (0..6).map(held).collect();
        let heights: Vec<[u64; 2]> = (0..6)
            .map(|i| [executed(&cluster, i, 0), executed(&cluster, i, 1)])
            .collect();
        let reference = [full.height_of(0).unwrap(), full.height_of(1).unwrap()];
        std::thread::sleep(Duration::from_millis(1_500));
        let after: Vec<Vec<u16>> = (0..6).map(held).collect();
        let advanced = [full.height_of(0).unwrap(), full.height_of(1).unwrap()];
        // On a loaded machine a view change can outlast the window: then the shard must still
        // advance (within 30 s), and the round's window proves nothing about non-holders, so
        // the next round takes a fresh one.
        let stalled: Vec<u16> = (0..2u16)
            .filter(|s| advanced[*s as usize] <= reference[*s as usize])
            .collect();
        if !stalled.is_empty() {
            let deadline = Instant::now() + Duration::from_secs(30);
            for shard in stalled {
                while full.height_of(shard).unwrap() <= reference[shard as usize] {
                    assert!(Instant::now() < deadline, "shard {shard} stalled");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            stalled_rounds += 1;
            continue;
        }
        for shard in 0..2u16 {
            // Every shard has holders.
            assert!(
                after.iter().any(|h| h.contains(&shard)),
                "nobody holds shard {shard}"
            );
            for i in 0..6 {
                if before[i].contains(&shard) || after[i].contains(&shard) {
                    continue;
                }
                // Not held throughout: its blocks were not executed here; a transaction is
                // refused with where to send it, and so is a read of its stale state.
                assert_eq!(
                    executed(&cluster, i, shard),
                    heights[i][shard as usize],
                    "member {i} executed shard {shard} it does not hold"
                );
                let raw =
                    signed_transfer(31337 + shard as u64, 1_000, Address::repeat_byte(0x63), 1);
                for (method, params) in [
                    ("eth_sendRawTransaction", json!([raw])),
                    ("eth_blockNumber", json!([])),
                    (
                        "eth_getBalance",
                        json!([Address::repeat_byte(0x63), "latest"]),
                    ),
                ] {
                    let error = &rpc_at(port(i, shard), method, params)["error"];
                    assert_eq!(error["code"], -32002, "member {i} {method}: {error}");
                    let message = error["message"].as_str().unwrap_or_default();
                    assert!(
                        message.contains(&format!("does not execute shard {shard}")),
                        "member {i} {method}: {message}"
                    );
                }
                // What it is and what it holds still answer.
                assert_eq!(
                    result_at(port(i, shard), "eth_chainId", json!([])),
                    json!(format!("{:#x}", 31337 + shard as u64))
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
    assert!(
        checked_non_holders > 0,
        "{}",
        if stalled_rounds == 5 {
            "in all 5 rounds a shard did not advance within the 1.5 s window (each did within \
             30 s), so no window could show a non-holder standing still"
        } else {
            "every member held every shard"
        }
    );
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

/// Short epochs, so committees change every few seconds: a member drawn into a shard it did
/// not hold takes it up (replaying, or by snapshot from genesis) and is at the head by the time
/// it must sign, so both shards keep finalizing through every change of committee.
#[test]
fn members_drawn_into_a_shard_catch_up_and_the_shards_keep_finalizing() {
    let (cluster, full) = committees_cluster(8);
    let port = |i: usize, shard: u16| cluster.rpc_ports[i] + shard;
    let held = |i: usize| -> Vec<u16> {
        serde_json::from_value(result_at(port(i, 0), "kaimeng_heldShards", json!([]))).unwrap()
    };
    let mut last: Vec<Vec<u16>> = (0..6).map(held).collect();
    let start = [full.height_of(0).unwrap(), full.height_of(1).unwrap()];
    // Members that took up a shard, with when and how far behind its head they were.
    let mut drawn_in: Vec<(usize, u16, Instant, u64)> = Vec::new();
    let (mut caught_up, mut from_behind) = (0, 0);
    // Watch for 30 s: committees change every few seconds.
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        for i in 0..6 {
            let now = held(i);
            for &shard in now.iter().filter(|s| !last[i].contains(s)) {
                let gap = full
                    .height_of(shard)
                    .unwrap_or(0)
                    .saturating_sub(height(port(i, shard)));
                drawn_in.push((i, shard, Instant::now(), gap));
            }
            last[i] = now;
        }
        // A member drawn in reaches the head of its new shard within an epoch or two.
        drawn_in.retain(|(i, shard, since, gap)| {
            let head = full.height_of(*shard).unwrap_or(0);
            if height(port(*i, *shard)) + 2 >= head {
                eprintln!(
                    "member {i} took up shard {shard} {gap} blocks behind and reached its head in {:?}",
                    since.elapsed()
                );
                caught_up += 1;
                if *gap > 2 {
                    from_behind += 1;
                }
                return false;
            }
            assert!(
                since.elapsed() < Duration::from_secs(20),
                "member {i}, drawn into shard {shard}, is still behind ({} of {head}); log:\n{}",
                height(port(*i, *shard)),
                cluster.log_tail(*i)
            );
            true
        });
    }
    eprintln!(
        "{caught_up} times a member took up a shard and reached its head ({from_behind} from more than 2 blocks behind)"
    );
    assert!(
        caught_up >= 3,
        "only {caught_up} members took up a shard in 30 s"
    );
    assert!(
        from_behind >= 1,
        "no member took up a shard it was behind on"
    );
    // Both shards finalized all along, across the changes.
    let end = [full.height_of(0).unwrap(), full.height_of(1).unwrap()];
    assert!(
        end[0] > start[0] + 20 && end[1] > start[1] + 20,
        "{start:?} -> {end:?}"
    );
    // And a transfer on each shard is final.
    for (shard, chain_id) in [(0u16, 31337u64), (1, 31338)] {
        let raw = signed_transfer(chain_id, 0, Address::repeat_byte(0x64), 5);
        let hash = result_at(full.rpc + shard, "eth_sendRawTransaction", json!([raw]));
        let receipt = crate::node::receipt_at(
            full.rpc + shard,
            hash.as_str().unwrap(),
            Duration::from_secs(60),
        );
        assert_eq!(receipt["status"], "0x1", "{receipt}");
    }
}
