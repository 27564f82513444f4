//! Many shards under consensus, seen from outside a real `kaimeng dev` of four validators with
//! two shards and committees of two: each shard has its own chain id, URL and state and
//! finalizes transactions; its crosslinks are signed by exactly its committee of that epoch;
//! the committees of every epoch recompute from RPC data alone (`kaimeng committees verify`).

use std::process::Command;
use std::time::{Duration, Instant};

use alloy_primitives::Address;
use serde_json::{Value, json};

use crate::node::*;

const EPOCH: u64 = 6;

fn network() -> DevNode {
    DevNode::start(&[
        "--shards",
        "2",
        "--committee-size",
        "2",
        "--epoch-length",
        &EPOCH.to_string(),
        "--block-time",
        "200",
    ])
}

fn hex_u64(value: &Value) -> u64 {
    u64::from_str_radix(value.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

fn current_epoch(node: &DevNode) -> u64 {
    node.result("kaimeng_committees", json!([]))["epoch"]
        .as_u64()
        .unwrap()
}

/// Waits (bounded) until the beacon chain is in epoch `epoch` or later.
fn wait_for_epoch(node: &DevNode, epoch: u64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while current_epoch(node) < epoch {
        assert!(
            Instant::now() < deadline,
            "the beacon chain did not reach epoch {epoch}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn two_shards_run_by_drawn_committees_finalize_their_own_transactions() {
    let node = network();
    assert_eq!(node.shard_ports.len(), 2, "the banner prints both shards");
    assert_eq!(node.shard_ports[0], node.port);
    let shard1 = node.shard_ports[1];
    assert_eq!(hex_u64(&node.result("eth_chainId", json!([]))), 31337);
    assert_eq!(hex_u64(&result_at(shard1, "eth_chainId", json!([]))), 31338);

    // A transfer on shard 1 (chain id 31338) is final there and unknown on shard 0.
    let to = Address::repeat_byte(0x42);
    let raw = signed_transfer(31338, 0, to, 12_345);
    let hash = result_at(shard1, "eth_sendRawTransaction", json!([raw]));
    let receipt = receipt_at(shard1, hash.as_str().unwrap(), Duration::from_secs(30));
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(
        hex_u64(&result_at(shard1, "eth_getBalance", json!([to, "latest"]))),
        12_345
    );
    assert_eq!(
        hex_u64(&node.result("eth_getBalance", json!([to, "latest"]))),
        0,
        "shard 0 has its own state"
    );
    // A transaction signed for shard 0's chain id is refused by shard 1.
    let wrong = signed_transfer(31337, 0, to, 1);
    let refused = rpc_at(shard1, "eth_sendRawTransaction", json!([wrong]));
    assert!(refused["error"].is_object(), "{refused}");

    // Run past a few epochs, so that committees drawn from VRF seeds take over.
    wait_for_epoch(&node, 3);
    let mut drawn_sizes = Vec::new();
    for epoch in 0..=3 {
        let view = node.result("kaimeng_committees", json!([epoch]));
        let committees = view["committees"].as_array().unwrap();
        assert_eq!(committees.len(), 2);
        for committee in committees {
            drawn_sizes.push(committee.as_array().unwrap().len());
        }
        if epoch >= 2 {
            let blocks = view["seedInputs"]["blocks"].as_array().unwrap();
            assert_eq!(blocks.len() as u64, EPOCH, "one VRF proof per beacon block");
        }
        // 4 members, 2 shards of 2: disjoint committees.
        let a = committees[0].as_array().unwrap();
        let b = committees[1].as_array().unwrap();
        assert!(a.iter().all(|k| !b.contains(k)), "epoch {epoch}: {view}");
        // Recomputed from RPC data alone by the CLI.
        let output = Command::new(env!("CARGO_BIN_EXE_kaimeng"))
            .args(["committees", "verify", "--rpc", &node.url, "--epoch"])
            .arg(epoch.to_string())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("committees match"),
            "epoch {epoch}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert!(drawn_sizes.iter().all(|&n| n == 2), "{drawn_sizes:?}");

    // Every crosslink of shard 1 is signed by the committee of its shard epoch: the signers'
    // seats are within a committee of two, and both signed (a quorum of two is two).
    let links = node.result(
        "kaimeng_crosslinks",
        json!([{"fromHeight": 0, "toHeight": 255, "shard": 1}]),
    );
    let links = links.as_array().unwrap();
    assert!(!links.is_empty(), "shard 1 is crosslinked");
    for link in links {
        let signers = link["signers"].as_array().unwrap();
        assert!(
            signers.len() == 2 && signers.iter().all(|s| s.as_u64().unwrap() < 2),
            "{link}"
        );
    }
    // The transfer's block on shard 1 is crosslinked.
    let block = hex_u64(&receipt["blockNumber"]);
    assert!(
        links
            .iter()
            .any(|l| l["toHeight"].as_u64().unwrap() >= block),
        "shard 1 block {block} is not crosslinked"
    );
}

#[test]
fn committees_refuse_malformed_queries_and_say_when_an_epoch_is_not_drawn() {
    let node = network();
    let error = node.rpc("kaimeng_committees", json!(["three"]));
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("takes an epoch number"), "{message}");
    // Two epochs ahead is not drawn yet.
    let ahead = current_epoch(&node) + 5;
    assert!(node.result("kaimeng_committees", json!([ahead])).is_null());
    let output = Command::new(env!("CARGO_BIN_EXE_kaimeng"))
        .args(["committees", "verify", "--rpc", &node.url, "--epoch"])
        .arg(ahead.to_string())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("not drawn"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_testnet_of_separate_processes_runs_two_shards_under_committees() {
    // Every member holds every shard here, so that each one's copy of shard 1 can be compared
    // (committees mode, the default, is tested in holding.rs).
    let cluster = crate::cluster::Cluster::start_configured(
        4,
        "secp256k1-keccak",
        &[
            "--shards",
            "2",
            "--committee-size",
            "2",
            "--epoch-length",
            "6",
            "--block-time-ms",
            "300",
        ],
        "[shards]\nhold = \"all\"",
    );
    // Member i serves shard 1 on its base port + 1.
    let shard1 = |i: usize| cluster.rpc_ports[i] + 1;
    assert_eq!(
        hex_u64(&result_at(shard1(0), "eth_chainId", json!([]))),
        31338
    );
    // A dev account is funded on shard 1 too; a transfer there is final on every member.
    let to = Address::repeat_byte(0x24);
    let raw = signed_transfer(31338, 0, to, 777);
    let hash = result_at(shard1(0), "eth_sendRawTransaction", json!([raw]));
    let receipt = receipt_at(shard1(0), hash.as_str().unwrap(), Duration::from_secs(60));
    let number = receipt["blockNumber"].clone();
    for i in 0..4 {
        let deadline = Instant::now() + Duration::from_secs(60);
        let block = loop {
            let block = result_at(shard1(i), "eth_getBlockByNumber", json!([number, false]));
            if !block.is_null() {
                break block;
            }
            assert!(Instant::now() < deadline, "member {i} lacks the block");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(block["hash"], receipt["blockHash"], "member {i}");
        assert_eq!(
            hex_u64(&result_at(
                shard1(i),
                "eth_getBalance",
                json!([to, "latest"])
            )),
            777,
            "member {i}"
        );
    }
    // `key-inspect --vrf` prints the VRF public key genesis records for the member.
    let member = cluster.net.join("member-1");
    let output = Command::new(env!("CARGO_BIN_EXE_kaimeng"))
        .args(["key-inspect", "--vrf", "--password-file"])
        .arg(member.join("password"))
        .arg(member.join("vrf.json"))
        .output()
        .unwrap();
    let genesis: Value =
        serde_json::from_str(&std::fs::read_to_string(cluster.net.join("genesis.json")).unwrap())
            .unwrap();
    let vrf_key = genesis["members"][1]["vrf_key"].as_str().unwrap();
    assert!(
        String::from_utf8_lossy(&output.stdout).contains(vrf_key),
        "{} vs {vrf_key}",
        String::from_utf8_lossy(&output.stdout)
    );
    // The committees recompute from any member's RPC.
    let url = format!("http://127.0.0.1:{}", cluster.rpc_ports[2]);
    let output = Command::new(env!("CARGO_BIN_EXE_kaimeng"))
        .args(["committees", "verify", "--rpc", &url])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn two_shards_under_drawn_committees_restart_after_sigkill_unchanged() {
    let dir = temp_dir();
    let args = [
        "--shards",
        "2",
        "--committee-size",
        "2",
        "--epoch-length",
        "6",
        "--block-time",
        "200",
        "--data-dir",
        path_str(dir.path()),
    ];
    let mut node = DevNode::start(&args);
    let to = Address::repeat_byte(0x31);
    let raw = signed_transfer(31338, 0, to, 5);
    let hash = result_at(node.shard_ports[1], "eth_sendRawTransaction", json!([raw]));
    wait_for_epoch(&node, 3);
    let head = result_at(
        node.shard_ports[1],
        "eth_getBlockByNumber",
        json!(["latest", false]),
    );
    let committees = node.result("kaimeng_committees", json!([3]));
    node.kill();

    let node = DevNode::start(&args);
    let shard1 = node.shard_ports[1];
    let again = result_at(
        shard1,
        "eth_getBlockByNumber",
        json!([head["number"], false]),
    );
    assert_eq!(again["hash"], head["hash"]);
    assert_eq!(node.result("kaimeng_committees", json!([3])), committees);
    assert_eq!(
        result_at(shard1, "eth_getTransactionReceipt", json!([hash]))["status"],
        "0x1"
    );
    // Both shards keep finalizing under their committees.
    let mut receipts = Vec::new();
    for (port, chain_id) in [(node.shard_ports[0], 31337), (shard1, 31338)] {
        let nonce = hex_u64(&result_at(
            port,
            "eth_getTransactionCount",
            json!([kaimeng_genesis::dev_accounts(1)[0].address, "latest"]),
        ));
        let raw = signed_transfer(chain_id, nonce, to, 1);
        receipts.push((
            port,
            result_at(port, "eth_sendRawTransaction", json!([raw])),
        ));
    }
    for (port, hash) in receipts {
        receipt_at(port, hash.as_str().unwrap(), Duration::from_secs(60));
    }
}

/// The height of shard `shard` at `port`, if it answers.
fn shard_height(port: u16) -> u64 {
    hex_u64(&result_at(port, "eth_blockNumber", json!([])))
}

#[test]
fn a_committee_member_killed_leaves_every_shard_finalizing_and_it_catches_up() {
    // Every member holds both shards, so that any one can witness both.
    let mut cluster = crate::cluster::Cluster::start_configured(
        8,
        "secp256k1-keccak",
        &[
            "--shards",
            "2",
            "--committee-size",
            "4",
            "--epoch-length",
            "8",
            "--block-time-ms",
            "500",
        ],
        "[shards]\nhold = \"all\"",
    );
    let ports = cluster.rpc_ports.clone();
    let shard_port = |i: usize, shard: u16| ports[i] + shard;
    // Kill a member of shard 1's current committee: a committee of 4 tolerates one fault, and
    // with one member down no later draw holds more than one dead seat either.
    let url = format!("http://127.0.0.1:{}", cluster.rpc_ports[0]);
    let view = result_at(cluster.rpc_ports[0], "kaimeng_committees", json!([]));
    let seat = view["committees"][1][0].clone();
    let victim = view["members"]
        .as_array()
        .unwrap()
        .iter()
        .position(|m| m["consensusKey"] == seat)
        .unwrap();
    let witness = (victim + 1) % 8;
    let start: Vec<u64> = (0..2)
        .map(|s| shard_height(shard_port(witness, s)))
        .collect();
    cluster.kill(victim);

    // A transfer on shard 1 is final without it, and both shards run on across epochs.
    let to = Address::repeat_byte(0x51);
    let raw = signed_transfer(31338, 0, to, 99);
    let hash = result_at(
        shard_port(witness, 1),
        "eth_sendRawTransaction",
        json!([raw]),
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let receipt = result_at(
            shard_port(witness, 1),
            "eth_getTransactionReceipt",
            json!([hash]),
        );
        let heights: Vec<u64> = (0..2)
            .map(|s| shard_height(shard_port(witness, s)))
            .collect();
        if !receipt.is_null() && heights[0] > start[0] + 20 && heights[1] > start[1] + 20 {
            break;
        }
        if Instant::now() >= deadline {
            // Every live member's view of both shards, to tell a stalled shard from a member
            // that stopped following it.
            let everyone: Vec<String> = (0..8)
                .filter(|i| *i != victim)
                .map(|i| {
                    let heights: Vec<Value> = (0..2)
                        .map(|s| {
                            rpc_at(shard_port(i, s), "eth_blockNumber", json!([]))["result"].clone()
                        })
                        .collect();
                    format!("member {i}: {heights:?}")
                })
                .collect();
            panic!(
                "with member {victim} down the shards stalled at {heights:?} on member {witness} \
                 (from {start:?}); all members: {everyone:?}; its log:\n{}",
                cluster.log_tail(witness)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    // Restarted, it catches up with both shards.
    cluster.start_member(victim);
    let target = shard_height(shard_port(witness, 1));
    let deadline = Instant::now() + Duration::from_secs(120);
    while shard_height(shard_port(victim, 1)) < target {
        assert!(
            Instant::now() < deadline,
            "member {victim} did not catch up with shard 1; log:\n{}",
            cluster.log_tail(victim)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let number = json!(format!("0x{target:x}"));
    assert_eq!(
        result_at(
            shard_port(victim, 1),
            "eth_getBlockByNumber",
            json!([number, false])
        )["hash"],
        result_at(
            shard_port(witness, 1),
            "eth_getBlockByNumber",
            json!([number, false])
        )["hash"]
    );
    let output = Command::new(env!("CARGO_BIN_EXE_kaimeng"))
        .args(["committees", "verify", "--rpc", &url])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
