//! Membership and governance on a running network, through the `kaimeng gov` CLI and the
//! `kaimeng_*` RPC: proposals pass with more than 2/3 of members and take effect at the next
//! epoch boundary without restarts; fee shares are paid exactly; members voted in take part in
//! consensus and members voted out stop counting.

use std::process::Command;
use std::time::{Duration, Instant};

use alloy_primitives::{Address, U256};
use serde_json::{Value, json};

use crate::node::*;

const EPOCH: &str = "8";

fn dev_network(extra: &[&str]) -> DevNode {
    let mut args = vec!["--epoch-length", EPOCH, "--block-time", "200"];
    args.extend_from_slice(extra);
    DevNode::start(&args)
}

/// Runs `kaimeng gov <args>` against `node`; (success, stdout + stderr).
fn gov(node: &DevNode, args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_kaimeng"))
        .arg("gov")
        .args(&args[..1])
        .args(["--rpc", &node.url])
        .args(&args[1..])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn gov_ok(node: &DevNode, args: &[&str]) -> String {
    let (ok, text) = gov(node, args);
    assert!(ok, "kaimeng gov {args:?} failed: {text}");
    text
}

fn number(value: &Value) -> u64 {
    u64::from_str_radix(value.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

fn proposal(node: &DevNode, id: u64) -> Value {
    node.result("kaimeng_proposal", json!([id]))
}

fn status(node: &DevNode, id: u64) -> String {
    proposal(node, id)["status"]
        .as_object()
        .and_then(|o| o.keys().next().cloned())
        .or_else(|| proposal(node, id)["status"].as_str().map(str::to_owned))
        .unwrap()
}

/// Waits (bounded) for the epoch number to reach `epoch`.
fn wait_for_epoch(node: &DevNode, epoch: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let view = node.result("kaimeng_epoch", json!([]));
        if view["epoch"].as_u64().unwrap() >= epoch {
            return view;
        }
        assert!(
            Instant::now() < deadline,
            "epoch {epoch} never came: {view}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn latest_block(node: &DevNode) -> Value {
    node.result("eth_getBlockByNumber", json!(["latest", false]))
}

#[test]
fn a_parameter_change_passes_with_three_of_four_and_takes_effect_at_the_next_epoch() {
    let node = dev_network(&[]);
    let out = gov_ok(
        &node,
        &[
            "propose",
            "--dev-member",
            "0",
            "set-param",
            "block-gas-limit",
            "45000000",
        ],
    );
    assert!(out.contains("proposal 1"), "{out}");
    gov_ok(
        &node,
        &["vote", "--dev-member", "1", "--proposal", "1", "--approve"],
    );
    // 2 of 4 is not more than two thirds: still open, nothing scheduled.
    assert_eq!(status(&node, 1), "open");
    gov_ok(
        &node,
        &["vote", "--dev-member", "2", "--proposal", "1", "--approve"],
    );
    assert_ne!(status(&node, 1), "open");
    let passed_in = node.result("kaimeng_epoch", json!([]));
    assert_eq!(
        passed_in["parameters"]["block_gas_limit"],
        json!(30_000_000),
        "{passed_in}"
    );
    assert_eq!(number(&latest_block(&node)["gasLimit"]), 30_000_000);

    let next = wait_for_epoch(&node, passed_in["epoch"].as_u64().unwrap() + 1);
    assert_eq!(
        next["parameters"]["block_gas_limit"],
        json!(45_000_000),
        "{next}"
    );
    let first = number(&json!(format!(
        "0x{:x}",
        next["start_height"].as_u64().unwrap()
    )));
    let deadline = Instant::now() + Duration::from_secs(30);
    while number(&latest_block(&node)["number"]) < first {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    let block = node.result(
        "eth_getBlockByNumber",
        json!([format!("0x{first:x}"), false]),
    );
    assert_eq!(
        number(&block["gasLimit"]),
        45_000_000,
        "the new epoch's first block"
    );
    let before = node.result(
        "eth_getBlockByNumber",
        json!([format!("0x{:x}", first - 1), false]),
    );
    assert_eq!(
        number(&before["gasLimit"]),
        30_000_000,
        "the old epoch's last block"
    );
    assert_eq!(status(&node, 1), "enacted");
}

#[test]
fn a_proposal_below_the_threshold_changes_nothing_and_a_non_member_cannot_propose() {
    let node = dev_network(&[]);
    gov_ok(
        &node,
        &[
            "propose",
            "--dev-member",
            "0",
            "set-param",
            "min-base-fee",
            "7000000000",
        ],
    );
    gov_ok(
        &node,
        &["vote", "--dev-member", "1", "--proposal", "1", "--approve"],
    );
    gov_ok(
        &node,
        &["vote", "--dev-member", "2", "--proposal", "1", "--reject"],
    );
    let epoch = node.result("kaimeng_epoch", json!([]))["epoch"]
        .as_u64()
        .unwrap();
    let later = wait_for_epoch(&node, epoch + 1);
    assert_eq!(
        later["parameters"]["min_base_fee"],
        json!("1000000000"),
        "{later}"
    );
    assert_eq!(status(&node, 1), "open");

    // Dev member 7 holds a well-formed admin key but is no member: the CLI says so...
    let (ok, text) = gov(
        &node,
        &[
            "propose",
            "--dev-member",
            "7",
            "remove-member",
            "dev-member-0",
        ],
    );
    assert!(!ok, "{text}");
    assert!(text.contains("not a current member"), "{text}");
    // ...and so does the node, for a correctly signed transaction sent without the CLI.
    let domain = node.result("kaimeng_governanceDomain", json!([]));
    let domain = kaimeng_l1::governance::GovernanceDomain {
        chain_id: domain["chain_id"].as_u64().unwrap(),
        genesis_hash: domain["genesis_hash"].as_str().unwrap().parse().unwrap(),
    };
    let suite = kaimeng_crypto::CryptoSuite::Secp256k1Keccak;
    let secret = kaimeng_genesis::dev_member_secret(
        7,
        kaimeng_genesis::DevKeyRole::Admin,
        kaimeng_genesis::CryptoSuite::Secp256k1Keccak,
    );
    let key = kaimeng_crypto::SecretKey::from_bytes(suite, secret.as_slice()).unwrap();
    let tx = kaimeng_l1::governance::GovernanceTx::Propose {
        proposer: "dev-member-7".into(),
        action: kaimeng_l1::governance::Action::RemoveMember("dev-member-0".into()),
        nonce: 0,
    }
    .sign(&domain, &key);
    let raw = format!("0x{}", alloy_primitives::hex::encode(tx.encode()));
    let response = node.rpc("kaimeng_sendGovernanceTransaction", json!([raw]));
    assert!(
        response["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("dev-member-7")),
        "{response}"
    );
    // A member's transaction with a forged signature (signed by member 7's key) is refused.
    let forged = kaimeng_l1::governance::GovernanceTx::Propose {
        proposer: "dev-member-3".into(),
        action: kaimeng_l1::governance::Action::RemoveMember("dev-member-0".into()),
        nonce: 0,
    }
    .sign(&domain, &key);
    let raw = format!("0x{}", alloy_primitives::hex::encode(forged.encode()));
    let response = node.rpc("kaimeng_sendGovernanceTransaction", json!([raw]));
    assert!(response["error"].is_object(), "{response}");
    // Garbage is refused by the RPC with invalid params, and changes nothing.
    let response = node.rpc("kaimeng_sendGovernanceTransaction", json!(["0x0102"]));
    assert_eq!(response["error"]["code"], json!(-32602), "{response}");
    assert_eq!(
        node.result("kaimeng_proposals", json!([]))["proposals"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

fn balance_at(node: &DevNode, address: Address, block: u64) -> U256 {
    let hex = node.result("eth_getBalance", json!([address, format!("0x{block:x}")]));
    U256::from_str_radix(hex.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

#[test]
fn base_fees_of_an_epoch_are_shared_equally_among_members_at_its_boundary() {
    let node = dev_network(&[]);
    // Some transfers so the epoch collects base fees.
    for nonce in 0..5 {
        let raw = signed_transfer(31337, nonce, Address::repeat_byte(0xee), 1);
        let hash = node.result("eth_sendRawTransaction", json!([raw]));
        node.receipt(hash.as_str().unwrap());
    }
    let epoch = node.result("kaimeng_epoch", json!([]));
    let (start, last) = (
        epoch["start_height"].as_u64().unwrap(),
        epoch["last_height"].as_u64().unwrap(),
    );
    let next = wait_for_epoch(&node, epoch["epoch"].as_u64().unwrap() + 1);
    let carry_in = U256::from_str_radix(epoch["treasury_carry"].as_str().unwrap_or("0"), 10)
        .unwrap_or_default();
    // What the epoch collected, from the headers alone.
    let mut collected = U256::ZERO;
    for height in start..=last {
        let block = node.result(
            "eth_getBlockByNumber",
            json!([format!("0x{height:x}"), false]),
        );
        collected +=
            U256::from(number(&block["baseFeePerGas"])) * U256::from(number(&block["gasUsed"]));
    }
    assert!(collected > U256::ZERO);
    let total = collected + carry_in;
    let share = total / U256::from(4);
    let distribution = &next["last_fee_distribution"];
    assert_eq!(
        distribution["payouts"].as_array().unwrap().len(),
        4,
        "{distribution}"
    );
    // Paid in the first block of the next epoch, before its transactions.
    let first = last + 1;
    wait_for_block_number(&node, first);
    for member in next["validators"].as_array().unwrap() {
        let organisation = member["organisation"].as_str().unwrap();
        let index: u32 = organisation
            .trim_start_matches("dev-member-")
            .parse()
            .unwrap();
        let recipient = kaimeng_genesis::dev_member_fee_recipient(index);
        let gained = balance_at(&node, recipient, first) - balance_at(&node, recipient, last);
        assert_eq!(gained, share, "{organisation}'s share");
    }
    assert_eq!(
        U256::from_str_radix(next["treasury_carry"].as_str().unwrap(), 10).unwrap(),
        total - share * U256::from(4)
    );
}

fn wait_for_block_number(node: &DevNode, height: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while number(&latest_block(node)["number"]) < height {
        assert!(Instant::now() < deadline, "block {height} never came");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Blocks in `from..` whose fee recipient (the proposer's) is `recipient`, waiting (bounded)
/// until one shows up.
fn wait_for_block_by(node: &DevNode, recipient: Address, from: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut next = from;
    loop {
        let head = number(&latest_block(node)["number"]);
        while next <= head {
            let block = node.result(
                "eth_getBlockByNumber",
                json!([format!("0x{next:x}"), false]),
            );
            if block["miner"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case(&recipient.to_string())
            {
                return next;
            }
            next += 1;
        }
        assert!(
            Instant::now() < deadline,
            "no block proposed by {recipient} since {from}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_member_voted_in_validates_and_a_member_voted_out_stops_counting() {
    let node = dev_network(&["--standby", "1"]);
    let suite = kaimeng_genesis::CryptoSuite::Secp256k1Keccak;
    let dir = temp_dir();
    let member_file = dir.path().join("member-4.json");
    std::fs::write(
        &member_file,
        serde_json::to_string(&kaimeng_genesis::dev_member(4, suite)).unwrap(),
    )
    .unwrap();
    let file = path_str(&member_file);
    // Before admission the standby node is a non-member full node: it follows the chain and
    // serves it over RPC, without a vote.
    let standby = node.standby_ports[0];
    let height = number(&latest_block(&node)["number"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let seen = loop {
        let block = result_at(
            standby,
            "eth_getBlockByNumber",
            json!([format!("0x{height:x}"), false]),
        );
        if !block.is_null() {
            break block;
        }
        assert!(
            Instant::now() < deadline,
            "the standby node does not follow"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let reference = node.result(
        "eth_getBlockByNumber",
        json!([format!("0x{height:x}"), false]),
    );
    assert_eq!(seen["hash"], reference["hash"]);
    gov_ok(
        &node,
        &[
            "propose",
            "--dev-member",
            "0",
            "add-member",
            "--member-file",
            file,
        ],
    );
    gov_ok(
        &node,
        &["vote", "--dev-member", "1", "--proposal", "1", "--approve"],
    );
    gov_ok(
        &node,
        &["vote", "--dev-member", "2", "--proposal", "1", "--approve"],
    );
    let epoch = node.result("kaimeng_epoch", json!([]))["epoch"]
        .as_u64()
        .unwrap();
    let joined = wait_for_epoch(&node, epoch + 1);
    assert_eq!(
        joined["validators"].as_array().unwrap().len(),
        5,
        "{joined}"
    );
    // The new member's validator leads views now: a block carries its fee recipient.
    let start = joined["start_height"].as_u64().unwrap();
    wait_for_block_by(&node, kaimeng_genesis::dev_member_fee_recipient(4), start);

    // Remove member 3: with 5 members, 4 approvals are more than two thirds.
    gov_ok(
        &node,
        &[
            "propose",
            "--dev-member",
            "0",
            "remove-member",
            "dev-member-3",
        ],
    );
    for voter in ["1", "2", "4"] {
        gov_ok(
            &node,
            &[
                "vote",
                "--dev-member",
                voter,
                "--proposal",
                "2",
                "--approve",
            ],
        );
    }
    let epoch = node.result("kaimeng_epoch", json!([]))["epoch"]
        .as_u64()
        .unwrap();
    let after = wait_for_epoch(&node, epoch + 1);
    let organisations: Vec<&str> = after["validators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["organisation"].as_str().unwrap())
        .collect();
    assert_eq!(
        organisations,
        [
            "dev-member-0",
            "dev-member-1",
            "dev-member-2",
            "dev-member-4"
        ]
    );
    // The chain goes on with four, and member 3 no longer proposes: over two epochs of blocks
    // every proposer is one of the remaining members.
    let from = after["start_height"].as_u64().unwrap();
    let until = from + 2 * EPOCH.parse::<u64>().unwrap();
    wait_for_block_number(&node, until);
    let removed = kaimeng_genesis::dev_member_fee_recipient(3).to_string();
    for height in from..=until {
        let block = node.result(
            "eth_getBlockByNumber",
            json!([format!("0x{height:x}"), false]),
        );
        assert!(
            !block["miner"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case(&removed),
            "removed member proposed block {height}"
        );
    }
}
