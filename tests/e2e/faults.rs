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
