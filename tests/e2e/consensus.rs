//! `kaimeng dev` with several in-process validators: blocks are final by BFT consensus, every
//! validator holds the same chain, transactions reach the leader whichever validator got
//! them, and the 国密 suite runs the network end to end.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::node::*;

/// Waits (bounded) until the validator on `port` has finalized `number`.
fn wait_for_block(port: u16, number: &Value) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let block = result_at(port, "eth_getBlockByNumber", json!([number, false]));
        if !block.is_null() {
            return block;
        }
        assert!(
            Instant::now() < deadline,
            "validator on {port} never reached block {number}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn receipt_at(port: u16, hash: &Value) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let receipt = result_at(port, "eth_getTransactionReceipt", json!([hash]));
        if !receipt.is_null() {
            return receipt;
        }
        assert!(Instant::now() < deadline, "no receipt for {hash} on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends transfers through different validators and checks that all of them finalize the
/// same blocks (hash, state root, receipts root) up to the last one.
fn validators_agree(node: &DevNode) {
    assert_eq!(
        node.validator_ports.len(),
        4,
        "dev runs 4 validators by default"
    );
    let to = "0x00000000000000000000000000000000000000aa";
    let mut last = json!("0x0");
    for (nonce, port) in node.validator_ports.iter().enumerate() {
        let raw = signed_transfer(31337, nonce as u64, to.parse().unwrap(), 1000);
        let hash = result_at(*port, "eth_sendRawTransaction", json!([raw]));
        let receipt = receipt_at(*port, &hash);
        assert_eq!(receipt["status"], json!("0x1"));
        last = receipt["blockNumber"].clone();
    }
    let reference = wait_for_block(node.validator_ports[0], &last);
    for port in &node.validator_ports[1..] {
        let block = wait_for_block(*port, &last);
        for field in ["hash", "stateRoot", "receiptsRoot", "transactionsRoot"] {
            assert_eq!(block[field], reference[field], "{field} differs on {port}");
        }
        assert_eq!(
            result_at(*port, "eth_getBalance", json!([to, last])),
            json!("0xfa0"),
            "all four transfers are final on {port}"
        );
    }
}

#[test]
fn four_validators_finalize_the_same_chain_and_share_transactions() {
    let node = DevNode::start(&[]);
    validators_agree(&node);
    // Each validator reports its libp2p peers, listens for them and is in sync.
    for port in &node.validator_ports {
        let peers = result_at(*port, "net_peerCount", json!([]));
        let peers =
            u64::from_str_radix(peers.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
        assert!(
            (1..=3).contains(&peers),
            "validator on {port} has {peers} peers"
        );
        assert_eq!(result_at(*port, "net_listening", json!([])), json!(true));
        assert_eq!(result_at(*port, "eth_syncing", json!([])), json!(false));
    }
}

#[test]
fn the_sm2_sm3_suite_runs_the_network_end_to_end() {
    let node = DevNode::start(&["--crypto-suite", "sm2-sm3"]);
    validators_agree(&node);
}

#[test]
fn one_validator_is_an_option_and_zero_is_refused() {
    let node = DevNode::start(&["--validators", "1"]);
    assert!(node.validator_ports.is_empty());
    // A single local sealer has no network.
    assert_eq!(node.result("net_peerCount", json!([])), json!("0x0"));
    assert_eq!(node.result("net_listening", json!([])), json!(false));
    let raw = signed_transfer(
        31337,
        0,
        "0x00000000000000000000000000000000000000bb"
            .parse()
            .unwrap(),
        5,
    );
    let hash = node.result("eth_sendRawTransaction", json!([raw]));
    assert_eq!(node.receipt(hash.as_str().unwrap())["status"], json!("0x1"));

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kaimeng"))
        .args(["dev", "--port", "0", "--validators", "0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("at least one validator"), "{stderr}");
}
