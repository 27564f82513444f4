//! Finality certificates seen from outside: a light client (`kaimeng verify-certificate`)
//! checks them with the genesis member list alone, bad requests get clear errors, and a
//! non-member full node (`role = "full"`, its own process) follows the members by checking
//! certificates, serves JSON-RPC, never votes, and catches up across epoch boundaries after
//! being down.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::node::{path_str, rpc_at};

const EPOCH_LENGTH: &str = "6";

fn verify_certificate(port: u16, genesis: &std::path::Path, height: u64) -> std::process::Output {
    verify_certificate_of("shard-0", port, genesis, height)
}

fn verify_certificate_of(
    chain: &str,
    port: u16,
    genesis: &std::path::Path,
    height: u64,
) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kaimeng"))
        .args([
            "verify-certificate",
            "--rpc",
            &format!("http://127.0.0.1:{port}"),
            "--chain",
            chain,
        ])
        .args([
            "--genesis",
            path_str(genesis),
            "--height",
            &height.to_string(),
        ])
        .output()
        .unwrap()
}

fn error_of(port: u16, params: Value) -> Value {
    let response = rpc_at(port, "kaimeng_getFinalityCertificate", params);
    response
        .get("error")
        .cloned()
        .unwrap_or_else(|| panic!("expected an error: {response}"))
}

fn block_hash(port: u16, height: u64) -> String {
    rpc_at(
        port,
        "eth_getBlockByNumber",
        json!([format!("{height:#x}"), false]),
    )["result"]["hash"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_light_client_checks_certificates_and_a_full_node_follows_by_them() {
    let cluster = Cluster::start_with(
        4,
        "secp256k1-keccak",
        &["--epoch-length", EPOCH_LENGTH, "--block-time-ms", "300"],
    );
    let genesis = cluster.net.join("genesis.json");
    let member = cluster.rpc_ports[0];
    cluster.wait_for_height(0, 3);

    // A light client proves block 2 final from the member list alone.
    let output = verify_certificate(member, &genesis, 2);
    assert!(
        output.status.success(),
        "light client refused a real certificate: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("block 2 of shard-0"));

    // And a beacon block, whose header is the beacon chain's own encoding and hash.
    let deadline = Instant::now() + Duration::from_secs(30);
    while rpc_at(member, "kaimeng_getBeaconBlock", json!([2]))["result"].is_null() {
        assert!(Instant::now() < deadline, "beacon block 2 never final");
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = verify_certificate_of("beacon", member, &genesis, 2);
    assert!(
        output.status.success(),
        "light client refused a beacon certificate: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("block 2 of beacon"));

    // Another member list (one consensus key swapped) makes the same certificate fail.
    let mut forged: Value =
        serde_json::from_str(&std::fs::read_to_string(&genesis).unwrap()).unwrap();
    let members = forged["members"].as_array_mut().unwrap();
    let key = members[1]["consensus_key"].clone();
    members[0]["consensus_key"] = key;
    let forged_path = cluster.net.join("forged-genesis.json");
    std::fs::write(&forged_path, forged.to_string()).unwrap();
    let output = verify_certificate(member, &forged_path, 2);
    assert!(!output.status.success(), "a wrong member list verified");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("does not verify") || stderr.contains("genesis"),
        "{stderr}"
    );

    // Requests for what does not exist get clear errors.
    let error = error_of(member, json!(["shard-7", "0x1"]));
    assert_eq!(error["code"], -32602, "{error}");
    assert!(error["message"].as_str().unwrap().contains("shard-0"));
    assert!(error["message"].as_str().unwrap().contains("beacon"));
    let error = error_of(member, json!(["shard-0", "0xffffffff"]));
    assert!(
        error["message"].as_str().unwrap().contains("not final"),
        "{error}"
    );
    let error = error_of(member, json!([0, "0x0"]));
    assert!(
        error["message"].as_str().unwrap().contains("genesis"),
        "{error}"
    );

    // A non-member full node follows the members.
    let mut full = cluster.full_node("full", "");
    let rpc = full.rpc;
    let target = cluster.height(0).unwrap() + 2;
    full.wait_for_height(target, Duration::from_secs(60));
    assert_eq!(block_hash(rpc, target), block_hash(member, target));
    // It serves the certificates it checked, and they verify from outside.
    let output = verify_certificate(rpc, &genesis, target);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // Down across at least two epoch boundaries, it catches up by checking certificates.
    full.kill();
    let down_at = cluster.height(0).unwrap();
    let epoch = EPOCH_LENGTH.parse::<u64>().unwrap();
    cluster.wait_for_height(0, down_at + 2 * epoch + 1);
    full.start();
    let target = cluster.height(0).unwrap();
    full.wait_for_height(target, Duration::from_secs(90));
    assert_eq!(block_hash(rpc, target), block_hash(member, target));
    // It followed the beacon chain too: the beacon block that shard block names (height in
    // its extraData) is final on the full node, the same as on the members.
    let extra = rpc_at(
        member,
        "eth_getBlockByNumber",
        json!([format!("{target:#x}"), false]),
    )["result"]["extraData"]
        .as_str()
        .map(|x| alloy_primitives::hex::decode(x).unwrap())
        .unwrap();
    let beacon_height = u64::from_be_bytes(extra[7..15].try_into().unwrap());
    let beacon_hash = |port: u16| {
        rpc_at(port, "kaimeng_getBeaconBlock", json!([beacon_height]))["result"]["hash"].clone()
    };
    assert!(!beacon_hash(member).is_null());
    assert_eq!(beacon_hash(rpc), beacon_hash(member));
    let output = verify_certificate(rpc, &genesis, target);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // It never voted: every certificate's signers are members 0..4 and its own log says it
    // follows.
    assert!(
        full.log().contains("following") || full.log().contains("follower"),
        "full node log:\n{}",
        full.log()
    );
}
