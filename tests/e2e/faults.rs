//! Faults with real processes: a 4-member `kaimeng testnet` on loopback, validators killed
//! with SIGKILL and restarted.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::node::signed_transfer;

const TO: &str = "0x00000000000000000000000000000000000000cc";

fn send_and_wait(cluster: &Cluster, via: usize, nonce: u64, observer: usize) -> Value {
    let raw = signed_transfer(31337, nonce, TO.parse().unwrap(), 777);
    let hash = cluster
        .call(via, "eth_sendRawTransaction", json!([raw]))
        .expect("transaction accepted");
    let mut receipt = Value::Null;
    cluster.wait_until(
        observer,
        Duration::from_secs(30),
        "finalize the transaction",
        |c| {
            c.call(observer, "eth_getTransactionReceipt", json!([hash]))
                .is_some_and(|r| !r.is_null())
        },
    );
    if let Some(r) = cluster.call(observer, "eth_getTransactionReceipt", json!([hash])) {
        receipt = r;
    }
    assert_eq!(receipt["status"], json!("0x1"));
    receipt
}

#[test]
fn one_validator_killed_finality_continues_and_after_restart_it_catches_up_identically() {
    let mut cluster = Cluster::start(4, "secp256k1-keccak");
    cluster.wait_for_height(0, 2);
    cluster.kill(3);
    let before = cluster.height(0).unwrap();
    for i in 0..3 {
        cluster.wait_for_height(i, before + 3);
    }
    // A transaction sent to one survivor is final on another while member 3 is down.
    let receipt = send_and_wait(&cluster, 1, 0, 2);

    cluster.start_member(3);
    let target = cluster.height(0).unwrap() + 2;
    for i in 0..4 {
        cluster.wait_for_height(i, target);
    }
    cluster.assert_same_block(&[0, 1, 2, 3], target);
    let in_block = u64::from_str_radix(
        receipt["blockNumber"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
        16,
    )
    .unwrap();
    cluster.assert_same_block(&[0, 1, 2, 3], in_block);
}

#[test]
fn with_a_leader_dead_every_next_block_is_final_within_two_base_timeouts() {
    // Testnet genesis: 1 s block time, so the base view timeout is 2 s.
    let base_timeout = Duration::from_secs(2);
    let mut cluster = Cluster::start(4, "secp256k1-keccak");
    cluster.wait_for_height(1, 2);
    cluster.kill(0);
    // Round-robin leaders: over 8 heights the dead member's turn comes at least once.
    let mut last = cluster.height(1).unwrap();
    let mut since = Instant::now();
    let mut gaps = Vec::new();
    while gaps.len() < 8 {
        let height = cluster.height(1).expect("member 1 answers");
        if height > last {
            gaps.push(since.elapsed());
            last = height;
            since = Instant::now();
        }
        assert!(
            since.elapsed() <= base_timeout * 2,
            "no final block for {:?} after {last} (gaps so far {gaps:?}); log:\n{}",
            since.elapsed(),
            cluster.log_tail(1)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn all_validators_killed_and_restarted_resume_with_nothing_final_lost() {
    let mut cluster = Cluster::start(4, "sm2-sm3");
    let receipt = send_and_wait(&cluster, 0, 0, 0);
    let height = cluster.height(0).unwrap();
    let final_block = cluster.block(0, height);
    for i in 0..4 {
        cluster.kill(i);
    }
    for i in 0..4 {
        cluster.start_member(i);
    }
    for i in 0..4 {
        assert_eq!(
            cluster.block(i, height)["hash"],
            final_block["hash"],
            "member {i} lost block {height}"
        );
        cluster.wait_for_height(i, height + 2);
    }
    cluster.assert_same_block(&[0, 1, 2, 3], height + 2);
    assert_eq!(
        cluster
            .call(
                3,
                "eth_getTransactionReceipt",
                json!([receipt["transactionHash"]])
            )
            .unwrap()["blockHash"],
        receipt["blockHash"]
    );
}

/// Waits until no member's height changed for `quiet`, then returns the heights.
fn settled_heights(cluster: &Cluster, quiet: Duration) -> Vec<u64> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let read = || {
        (0..4)
            .map(|i| cluster.height(i).unwrap_or(0))
            .collect::<Vec<_>>()
    };
    let mut heights = read();
    let mut since = Instant::now();
    while since.elapsed() < quiet {
        assert!(
            Instant::now() < deadline,
            "heights never settled: {heights:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
        let now = read();
        if now != heights {
            heights = now;
            since = Instant::now();
        }
    }
    heights
}

#[test]
fn a_two_two_partition_finalizes_nothing_and_progress_resumes_when_healed() {
    let base_timeout = Duration::from_secs(2);
    let cluster = Cluster::start(4, "secp256k1-keccak");
    cluster.wait_for_height(0, 2);
    let ids: Vec<Value> = (0..4)
        .map(|i| cluster.call(i, "admin_nodeInfo", json!([])).unwrap()["id"].clone())
        .collect();
    let across = [(0, 2), (0, 3), (1, 2), (1, 3)];
    for (a, b) in across {
        assert_eq!(
            cluster.call(a, "admin_blockPeer", json!([ids[b]])),
            Some(json!(true))
        );
        assert_eq!(
            cluster.call(b, "admin_blockPeer", json!([ids[a]])),
            Some(json!(true))
        );
    }
    // Blocks in flight when the partition began may still finish; after that, neither half
    // has a quorum (3 of 4), so over several view timeouts nothing more is final.
    let frozen = settled_heights(&cluster, base_timeout * 2);
    let raw = signed_transfer(31337, 0, TO.parse().unwrap(), 777);
    let hash = cluster
        .call(0, "eth_sendRawTransaction", json!([raw]))
        .unwrap();
    std::thread::sleep(base_timeout * 3);
    let during: Vec<u64> = (0..4).map(|i| cluster.height(i).unwrap()).collect();
    assert_eq!(during, frozen, "a half without quorum finalized a block");
    assert!(
        cluster
            .call(0, "eth_getTransactionReceipt", json!([hash]))
            .unwrap()
            .is_null()
    );

    for (a, b) in across {
        cluster
            .call(a, "admin_unblockPeer", json!([ids[b]]))
            .unwrap();
        cluster
            .call(b, "admin_unblockPeer", json!([ids[a]]))
            .unwrap();
    }
    let target = frozen.iter().max().unwrap() + 2;
    for i in 0..4 {
        cluster.wait_for_height(i, target);
    }
    cluster.assert_same_block(&[0, 1, 2, 3], target);
    cluster.wait_until(
        3,
        Duration::from_secs(30),
        "finalize the partition-time transaction",
        |c| {
            c.call(3, "eth_getTransactionReceipt", json!([hash]))
                .is_some_and(|r| !r.is_null())
        },
    );
}

/// The value of the first sample of `metric` whose labels contain `labels`.
fn sample(text: &str, metric: &str, labels: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(metric) && l.contains(labels))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {metric}{{{labels}}} in:\n{text}"))
}

#[test]
fn operator_endpoints_report_consensus_and_refuse_bad_peer_ids() {
    let cluster = Cluster::start(4, "secp256k1-keccak");
    let port = cluster.rpc_ports[0];
    let response = crate::node::rpc_at(port, "admin_blockPeer", json!(["not-a-peer"]));
    assert_eq!(response["error"]["code"], json!(-32602), "{response}");
    assert!(
        response["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not-a-peer")
    );
    let response = crate::node::rpc_at(port, "admin_blockPeer", json!([]));
    assert_eq!(response["error"]["code"], json!(-32602), "{response}");
    // Every other member shows up as a peer once connected.
    cluster.wait_until(0, Duration::from_secs(30), "connect to the 3 others", |c| {
        c.call(0, "admin_peers", json!([]))
            .and_then(|p| p.as_array().map(Vec::len))
            == Some(3)
    });
    // Metrics follow consensus: height, view, votes, peers.
    cluster.wait_for_height(0, 3);
    // The metrics follow the head a moment later (a loaded CI machine once scraped them
    // before they moved): wait, bounded, until they show height 3 as well.
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let text = cluster.scrape(0);
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        if sample(&text, "kaimeng_finalized_height", "shard-0") >= 3.0 {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "the metrics never showed height 3:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let height = cluster.height(0).unwrap() as f64;
    assert!(sample(&text, "kaimeng_finalized_height", "shard-0") <= height);
    assert!(sample(&text, "kaimeng_view", "shard-0") >= 3.0);
    assert!(sample(&text, "kaimeng_votes_received_total", "finalize") >= 3.0);
    assert_eq!(sample(&text, "kaimeng_peers", ""), 3.0);
    assert!(text.contains("kaimeng_block_interval_seconds_bucket"));
}

#[test]
fn a_validator_down_across_epoch_boundaries_catches_up_when_restarted() {
    // 100 ms blocks: an epoch (32 blocks) lasts a few seconds.
    let mut cluster = Cluster::start_with(4, "secp256k1-keccak", &["--block-time-ms", "100"]);
    cluster.wait_for_height(0, 2);
    cluster.kill(3);
    let epoch_of = |c: &Cluster| {
        c.call(0, "kaimeng_epoch", json!([]))
            .and_then(|e| e["epoch"].as_u64())
            .unwrap_or(0)
    };
    let down_in = epoch_of(&cluster);
    cluster.wait_until(
        0,
        Duration::from_secs(60),
        "pass two epoch boundaries",
        |c| epoch_of(c) >= down_in + 2,
    );
    cluster.start_member(3);
    let target = cluster.height(0).unwrap() + 3;
    for i in 0..4 {
        cluster.wait_for_height(i, target);
    }
    cluster.assert_same_block(&[0, 1, 2, 3], target);
    // And it votes again: with member 3 back, another member may die and blocks go on.
    cluster.kill(2);
    let after = cluster.height(0).unwrap();
    cluster.wait_for_height(3, after + 3);
}
