//! Membership and governance on a running network, through the `kaimeng gov` CLI and the
//! `kaimeng_*` RPC: proposals pass with more than 2/3 of members and take effect at the next
//! beacon epoch without restarts (on shard 0 from its first block that follows that epoch);
//! fee shares computed from crosslinked headers are paid exactly; members voted in take part in
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

fn block_at(node: &DevNode, height: u64) -> Value {
    node.result(
        "eth_getBlockByNumber",
        json!([format!("0x{height:x}"), false]),
    )
}

/// The beacon epoch a shard block follows: its `extraData` is `kaimeng ‖ beacon height (8) ‖
/// beacon epoch (8)`, naming the beacon block in `parentBeaconBlockRoot`.
fn beacon_epoch_of(block: &Value) -> u64 {
    let extra = alloy_primitives::hex::decode(block["extraData"].as_str().unwrap()).unwrap();
    if block["number"] == json!("0x0") {
        return 0;
    }
    assert_eq!(&extra[..7], b"kaimeng", "{block}");
    u64::from_be_bytes(extra[15..23].try_into().unwrap())
}

/// The first shard block at or after `from` that follows beacon epoch `epoch` or a later one,
/// waiting (bounded) for it.
fn first_block_following(node: &DevNode, epoch: u64, from: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut next = from;
    loop {
        let head = number(&latest_block(node)["number"]);
        while next <= head {
            if beacon_epoch_of(&block_at(node, next)) >= epoch {
                return next;
            }
            next += 1;
        }
        assert!(
            Instant::now() < deadline,
            "no shard block follows beacon epoch {epoch}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The first shard height run by validators of beacon epoch `epoch` or later: the block after
/// the first shard epoch end (a multiple of the epoch length) that follows that epoch.
fn first_height_validated_by(node: &DevNode, epoch: u64) -> u64 {
    let length = EPOCH.parse::<u64>().unwrap();
    let mut end = length;
    loop {
        wait_for_block_number(node, end);
        if beacon_epoch_of(&block_at(node, end)) >= epoch {
            return end + 1;
        }
        end += length;
    }
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
    // Shard 0 follows the new limit from its first block that references the new epoch.
    let first = first_block_following(&node, next["epoch"].as_u64().unwrap(), 1);
    let block = block_at(&node, first);
    assert_eq!(
        number(&block["gasLimit"]),
        45_000_000,
        "the first shard block of the new epoch: {block}"
    );
    let before = block_at(&node, first - 1);
    assert!(beacon_epoch_of(&before) < next["epoch"].as_u64().unwrap());
    assert_eq!(
        number(&before["gasLimit"]),
        30_000_000,
        "the last shard block of the old epoch"
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

/// The final beacon height whose crosslink covers shard 0's block `height`, waiting (bounded).
fn wait_for_crosslink(node: &DevNode, height: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let links = node.result("kaimeng_crosslinks", json!([{"shard": 0}]));
        for link in links.as_array().unwrap() {
            if (link["fromHeight"].as_u64().unwrap()..=link["toHeight"].as_u64().unwrap())
                .contains(&height)
            {
                return link["beaconHeight"].as_u64().unwrap();
            }
        }
        assert!(
            Instant::now() < deadline,
            "shard block {height} never crosslinked"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What `recipient` is paid in fee shares, per `kaimeng_getBeaconEpoch(epoch)`, on shard 0.
fn share_of(node: &DevNode, epoch: u64, recipient: Address) -> U256 {
    let record = node.result("kaimeng_getBeaconEpoch", json!([epoch]));
    record["payouts"][0]["shares"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["feeRecipient"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case(&recipient.to_string())
        })
        .map(|s| U256::from_str_radix(s["amount"].as_str().unwrap(), 10).unwrap())
        .sum()
}

#[test]
fn base_fees_of_an_epoch_are_shared_equally_among_members_at_its_boundary() {
    let node = dev_network(&[]);
    // A transfer whose block is crosslinked in the beacon epoch that is current once the
    // crosslink is final (retried if the crosslink lands on an epoch's last block).
    let mut found = None;
    for nonce in 0..5 {
        let raw = signed_transfer(31337, nonce, Address::repeat_byte(0xee), 1);
        let hash = node.result("eth_sendRawTransaction", json!([raw]));
        let receipt = node.receipt(hash.as_str().unwrap());
        let shard_height = number(&receipt["blockNumber"]);
        let linked_at = wait_for_crosslink(&node, shard_height);
        let epoch = node.result("kaimeng_epoch", json!([]));
        if epoch["start_height"].as_u64().unwrap() <= linked_at {
            found = Some(epoch);
            break;
        }
    }
    let epoch = found.expect("a transfer crosslinked inside an epoch");
    let (start, last) = (
        epoch["start_height"].as_u64().unwrap(),
        epoch["last_height"].as_u64().unwrap(),
    );
    let ended = epoch["epoch"].as_u64().unwrap();
    let next = wait_for_epoch(&node, ended + 1);
    let carry_in = U256::from_str_radix(epoch["treasury_carry"].as_str().unwrap_or("0"), 10)
        .unwrap_or_default();
    // What the epoch collected, from the crosslinked shard headers alone.
    let links = node.result(
        "kaimeng_crosslinks",
        json!([{"fromHeight": start, "toHeight": last, "shard": 0}]),
    );
    let mut collected = U256::ZERO;
    let mut linked = 0;
    for link in links.as_array().unwrap() {
        for height in link["fromHeight"].as_u64().unwrap()..=link["toHeight"].as_u64().unwrap() {
            let block = block_at(&node, height);
            collected +=
                U256::from(number(&block["baseFeePerGas"])) * U256::from(number(&block["gasUsed"]));
            linked += 1;
        }
        assert_eq!(
            U256::from_str_radix(link["baseFees"].as_str().unwrap(), 10).unwrap(),
            (link["fromHeight"].as_u64().unwrap()..=link["toHeight"].as_u64().unwrap())
                .map(|h| {
                    let block = block_at(&node, h);
                    U256::from(number(&block["baseFeePerGas"]))
                        * U256::from(number(&block["gasUsed"]))
                })
                .sum::<U256>(),
            "{link}"
        );
    }
    assert!(
        linked > 0,
        "no shard block was crosslinked in epoch {ended}"
    );
    assert!(
        collected > U256::ZERO,
        "the transfer's fees were not collected"
    );
    let total = collected + carry_in;
    let share = total / U256::from(4);
    let distribution = &next["last_fee_distribution"];
    assert_eq!(
        distribution["collected"],
        json!(collected.to_string()),
        "{distribution}"
    );
    assert_eq!(
        distribution["payouts"].as_array().unwrap().len(),
        4,
        "{distribution}"
    );
    // Each member's share of shard 0's fees, as the beacon epoch record says shard 0 pays it.
    for index in 0..4 {
        let recipient = kaimeng_genesis::dev_member_fee_recipient(index);
        assert_eq!(
            share_of(&node, ended + 1, recipient),
            share,
            "member {index}"
        );
    }
    // Paid by shard 0's first block that follows the new epoch, before its transactions: each
    // member gains the shares of every epoch that block's reference moved past.
    let first = first_block_following(&node, ended + 1, 1);
    let (from_epoch, to_epoch) = (
        beacon_epoch_of(&block_at(&node, first - 1)),
        beacon_epoch_of(&block_at(&node, first)),
    );
    for index in 0..4 {
        let recipient = kaimeng_genesis::dev_member_fee_recipient(index);
        let owed: U256 = (from_epoch + 1..=to_epoch)
            .map(|e| share_of(&node, e, recipient))
            .sum();
        let gained = balance_at(&node, recipient, first) - balance_at(&node, recipient, first - 1);
        assert_eq!(gained, owed, "member {index}'s shares in block {first}");
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
    // Once a shard epoch is run by the new member set, the new member's validator leads views:
    // a block carries its fee recipient.
    let start = first_height_validated_by(&node, joined["epoch"].as_u64().unwrap());
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
    // The chain goes on with four, and member 3 no longer proposes: over two shard epochs of
    // blocks run by the new set, every proposer is one of the remaining members.
    let from = first_height_validated_by(&node, after["epoch"].as_u64().unwrap());
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

/// Two conflicting votes signed with `member`'s consensus key in shard 0's domain.
fn equivocation(member: u32, view: u64) -> kaimeng_l1::beacon::Evidence {
    use kaimeng_consensus::signing::signing_bytes;
    use kaimeng_consensus::{Digest, Parent, Proposal, Signature, SignedVote, Vote};
    let suite = kaimeng_crypto::CryptoSuite::Secp256k1Keccak;
    let secret = kaimeng_genesis::dev_member_secret(
        member,
        kaimeng_genesis::DevKeyRole::Consensus,
        kaimeng_genesis::CryptoSuite::Secp256k1Keccak,
    );
    let key = suite.secret_key_from_bytes(secret.as_slice()).unwrap();
    let namespace = kaimeng_l1::beacon::shard_namespace(0);
    let vote = |payload: u8| {
        let vote = Vote::Notarize(Proposal {
            epoch: 0,
            view,
            height: view,
            parent: Parent {
                view: view - 1,
                digest: Digest([0; 32]),
            },
            payload: Digest([payload; 32]),
        });
        SignedVote {
            signature: Signature(
                key.sign(&signing_bytes(&namespace, &vote))
                    .to_bytes()
                    .to_vec(),
            ),
            vote,
            signer: member,
        }
    };
    kaimeng_l1::beacon::Evidence {
        chain: 0,
        key: key.public_key().to_bytes().to_vec(),
        first: vote(1),
        second: vote(2),
    }
}

#[test]
fn evidence_of_conflicting_votes_is_recorded_and_governance_removes_the_member() {
    // A standby node is a non-member full node: it never proposes, so evidence submitted to
    // it reaches the members by gossip.
    let node = dev_network(&["--standby", "1"]);
    let full_node = node.standby_ports[0];
    // Evidence that proves nothing is refused with the reason.
    let mut harmless = equivocation(3, 9);
    harmless.second = harmless.first.clone();
    let refused = node.rpc(
        "kaimeng_submitEvidence",
        json!([alloy_primitives::Bytes::from(harmless.to_bytes())]),
    );
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("do not conflict"), "{message}");
    let garbage = node.rpc("kaimeng_submitEvidence", json!(["0x0102"]));
    assert!(
        garbage["error"]["message"]
            .as_str()
            .unwrap()
            .contains("undecodable evidence"),
        "{garbage}"
    );

    // Anyone submits real evidence against dev-member-3; the beacon chain records it.
    let evidence = alloy_primitives::Bytes::from(equivocation(3, 9).to_bytes());
    let pending = result_at(full_node, "kaimeng_submitEvidence", json!([evidence]));
    assert_eq!(pending["organisation"], "dev-member-3", "{pending}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let recorded = loop {
        let list = node.result("kaimeng_evidence", json!([]));
        if let Some(record) = list.as_array().unwrap().first() {
            break record.clone();
        }
        assert!(Instant::now() < deadline, "the evidence was not recorded");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(recorded["organisation"], "dev-member-3");
    assert_eq!(
        (recorded["chain"].as_u64(), recorded["view"].as_u64()),
        (Some(0), Some(9))
    );
    assert!(recorded["height"].as_u64().unwrap() >= 1);
    // The same fault is recorded once.
    let again = node.rpc("kaimeng_submitEvidence", json!([evidence]));
    assert!(
        again["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already recorded"),
        "{again}"
    );

    // One proposal removes the member: 3 of 4 approve, and the next epoch has 3 validators.
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
    for voter in ["1", "2"] {
        gov_ok(
            &node,
            &[
                "vote",
                "--dev-member",
                voter,
                "--proposal",
                "1",
                "--approve",
            ],
        );
    }
    let epoch = node.result("kaimeng_epoch", json!([]))["epoch"]
        .as_u64()
        .unwrap();
    let after = wait_for_epoch(&node, epoch + 1);
    let validators = after["validators"].as_array().unwrap();
    assert_eq!(validators.len(), 3, "{after}");
    assert!(
        validators
            .iter()
            .all(|v| v["organisation"] != "dev-member-3"),
        "{after}"
    );
}
