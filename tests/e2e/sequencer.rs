//! The rollup as a working system, with real processes and real proofs at the dev shape (2
//! slots, k = 13): users deposit on shard 0, transfer and withdraw through the sequencer, and
//! claim on shard 0; bad transactions are refused at the RPC; a sequencer killed with `kill -9`
//! loses nothing it confirmed, a prover killed mid-job has its job handed out again, a sequencer
//! started on an empty disk rebuilds from shard 0, and one whose journal is damaged refuses to
//! start; a claim decision begun by someone else is carried on by the sequencer. The bridge's escrow equals L2 balances + claimable withdrawals + unprocessed deposits
//! whenever the rollup is at rest.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use kaimeng_genesis::{BRIDGE_ADDRESS, dev_accounts};
use kaimeng_rollup::keys::derive_l2_key;
use kaimeng_rollup::tx::{Transfer, Withdraw};
use kaimeng_rollup::{L2Op, SigningKey};
use serde_json::{Value, json};

use crate::node::{DevNode, result_at, rpc_at};

const CHAIN: u64 = 31337;
const GWEI: u64 = 1_000_000_000;

/// A dev account as an L2 user.
struct User {
    eth_key: String,
    address: Address,
    l2: SigningKey,
    account: u32,
}

fn user(index: usize, account: u32) -> User {
    let dev = &dev_accounts(10)[index];
    let signer: PrivateKeySigner = dev.private_key.to_string().parse().unwrap();
    User {
        eth_key: dev.private_key.to_string(),
        address: dev.address,
        l2: derive_l2_key(signer.credential(), CHAIN),
        account,
    }
}

fn kaimeng(args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_kaimeng"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

fn deposit(node: u16, who: &User, gwei: u64) {
    let rpc = format!("http://127.0.0.1:{node}");
    let (ok, out) = kaimeng(&[
        "l2",
        "deposit",
        "--rpc",
        &rpc,
        "--private-key",
        &who.eth_key,
        "--gwei",
        &gwei.to_string(),
    ]);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("to L2 account {}", who.account)),
        "{out}"
    );
}

fn status(seq: u16) -> Value {
    result_at(seq, "rollup_status", json!([]))
}

/// Waits (bounded) until `check` holds for the sequencer's status.
fn wait_status(seq: u16, what: &str, limit: Duration, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let s = status(seq);
        if check(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "{what}: {s}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until every accepted operation is in an executed batch.
fn wait_all_executed(seq: u16, limit: Duration) -> Value {
    wait_status(seq, "everything executed", limit, |s| {
        s["unbatched"] == 0 && s["executed"] == s["lastClosedBatch"] && s["lastClosedBatch"] != 0
    })
}

fn signed_transfer(from: &User, to: u32, amount: u64, fee: u16, nonce: u32) -> Value {
    let op = Transfer {
        from: from.account,
        to,
        amount,
        fee,
        nonce,
    }
    .sign(&from.l2, CHAIN);
    request_of(L2Op::Transfer(op))
}

fn request_of(op: L2Op) -> Value {
    let request = match op {
        L2Op::Transfer(t) => kaimeng::sequencer::wire::TxRequest::from_transfer(t),
        L2Op::Withdraw(w) => kaimeng::sequencer::wire::TxRequest::from_withdraw(w),
        _ => unreachable!(),
    };
    serde_json::to_value(request).unwrap()
}

fn send(seq: u16, request: Value) -> Value {
    rpc_at(seq, "rollup_sendTransaction", json!([request]))
}

fn account(seq: u16, index: u32) -> Value {
    result_at(seq, "rollup_getAccount", json!([index]))
}

fn eth_balance(node: u16, who: Address) -> U256 {
    result_at(node, "eth_getBalance", json!([who, "latest"]))
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Bridge escrow (units) = executed L2 balances + claimable + unprocessed deposits (none when
/// at rest).
fn assert_value_conserved(node: u16, seq: u16, accounts: u32, users: &[&User], when: &str) {
    let escrow = eth_balance(node, BRIDGE_ADDRESS) / U256::from(GWEI);
    let l2: u64 = (0..accounts)
        .map(|i| account(seq, i)["executed"]["balance"].as_u64().unwrap())
        .sum();
    let rpc = format!("http://127.0.0.1:{node}");
    let mut claimable = 0u64;
    for u in users {
        let (ok, out) = kaimeng(&[
            "l2",
            "status",
            "--rpc",
            &rpc,
            "--address",
            &u.address.to_string(),
        ]);
        assert!(ok, "{out}");
        let wei: u128 = out
            .lines()
            .find_map(|l| l.trim().strip_prefix("claimable on shard 0: "))
            .and_then(|l| l.strip_suffix(" wei"))
            .unwrap()
            .parse()
            .unwrap();
        claimable += (wei / u128::from(GWEI)) as u64;
    }
    assert_eq!(
        escrow,
        U256::from(l2 + claimable),
        "{when}: escrow {escrow} units, L2 {l2} + claimable {claimable}"
    );
}

#[test]
fn deposit_transfer_withdraw_claim_through_the_dev_sequencer() {
    let node = DevNode::start(&["--sequencer-port", "0"]);
    let (port, seq) = (node.port, node.sequencer_port.expect("the sequencer runs"));
    let (alice, bob, carol) = (user(1, 1), user(2, 2), user(3, 3));
    for (who, gwei) in [(&alice, 1_000), (&bob, 500), (&carol, 300)] {
        deposit(port, who, gwei);
    }
    // The fee account's deposit (request 0, made by the sequencer at start) and three users'.
    let s = wait_status(seq, "deposits seen", Duration::from_secs(30), |s| {
        s["nextRequest"] == 4
    });
    assert_eq!(account(seq, 1)["soft"]["balance"], 1_000, "{s}");
    let accepted = s["accepted"].as_u64().unwrap();

    // Bad transactions are refused at the RPC with a clear reason and never batched.
    let refused = |request: Value, code: i64, needle: &str| {
        let answer = send(seq, request);
        assert_eq!(answer["error"]["code"], code, "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{needle:?} not in {message:?}");
    };
    let mut forged = signed_transfer(&alice, 2, 10, 1, 0);
    forged["signature"] = signed_transfer(&bob, 2, 10, 1, 0)["signature"].clone();
    refused(forged, -32003, "bad signature");
    refused(
        signed_transfer(&alice, 2, 10, 1, 5),
        -32003,
        "wrong nonce 5: account 1 is at nonce 0",
    );
    refused(
        signed_transfer(&alice, 2, 1_000, 1, 0),
        -32003,
        "insufficient balance",
    );
    refused(
        signed_transfer(&alice, 2, 1 << 40, 1, 0),
        -32003,
        "out of range",
    );
    refused(
        signed_transfer(&alice, 2, 10, 0, 0),
        -32003,
        "below the minimum",
    );
    refused(
        signed_transfer(&alice, 77, 10, 1, 0),
        -32003,
        "L2 account 77 does not exist",
    );
    let mut short = signed_transfer(&alice, 2, 10, 1, 0);
    short["signature"] = json!("0x0102");
    refused(short, -32602, "signature: 2 bytes, expected 64");
    refused(json!({"type": "mint", "to": 1}), -32602, "transaction");
    assert_eq!(
        status(seq)["accepted"],
        accepted,
        "nothing refused was accepted"
    );

    // A WebSocket subscriber to Bob's account sees a transfer to him soft-confirmed.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut bob_updates = runtime.block_on(async {
        use jsonrpsee::core::client::SubscriptionClientT;
        let client = jsonrpsee::ws_client::WsClientBuilder::default()
            .build(format!("ws://127.0.0.1:{seq}"))
            .await
            .unwrap();
        let sub: jsonrpsee::core::client::Subscription<Value> = client
            .subscribe(
                "rollup_subscribeAccount",
                jsonrpsee::rpc_params![2],
                "rollup_unsubscribeAccount",
            )
            .await
            .unwrap();
        (client, sub)
    });
    let next_update = |sub: &mut jsonrpsee::core::client::Subscription<Value>| -> Value {
        runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(30), sub.next())
                .await
                .expect("a notification within 30 s")
                .unwrap()
                .unwrap()
        })
    };
    assert_eq!(next_update(&mut bob_updates.1)["soft"]["balance"], 500);

    // Transfers through `kaimeng l2 transfer` (signed with the key each Ethereum key derives).
    let seq_url = format!("http://127.0.0.1:{seq}");
    let l2 = |who: &User, args: &[&str]| {
        let mut all = vec![
            args[0],
            "--sequencer",
            &seq_url,
            "--private-key",
            &who.eth_key,
        ];
        all.extend(&args[1..]);
        let mut command = vec!["l2"];
        command.extend(all);
        let (ok, out) = kaimeng(&command);
        assert!(ok, "{out}");
        out
    };
    let out = l2(
        &alice,
        &["transfer", "--from", "1", "--to", "2", "--amount", "100"],
    );
    assert!(
        out.contains("transfer accepted (soft-confirmed in"),
        "{out}"
    );
    loop {
        let update = next_update(&mut bob_updates.1);
        if update["soft"]["balance"] == 600 {
            break;
        }
    }
    l2(
        &bob,
        &["transfer", "--from", "2", "--to", "3", "--amount", "20"],
    );
    l2(
        &carol,
        &["transfer", "--from", "3", "--to", "1", "--amount", "5"],
    );
    // Raw RPC transfers with explicit nonces, as a wallet sends them.
    for nonce in 1..4 {
        let answer = send(seq, signed_transfer(&alice, 3, 1, 1, nonce));
        assert_eq!(answer["result"]["status"], "accepted", "{answer}");
    }
    // Bob withdraws 50 and waits until it is executed on shard 0.
    let out = l2(
        &bob,
        &["withdraw", "--from", "2", "--amount", "50", "--wait"],
    );
    assert!(out.contains("executed on shard 0 in batch"), "{out}");
    let done = wait_all_executed(seq, Duration::from_secs(300));
    let soft = |i: u32| account(seq, i)["soft"]["balance"].as_u64().unwrap();
    let executed = |i: u32| account(seq, i)["executed"]["balance"].as_u64().unwrap();
    // Fees: 7 operations at 1 unit to account 0 (which deposited 1).
    assert_eq!(
        (soft(0), soft(1), soft(2), soft(3)),
        (
            8,
            1_000 - 101 + 5 - 6,
            500 + 100 - 21 - 51,
            300 + 20 - 6 + 3
        ),
        "{done}"
    );
    for i in 0..4 {
        assert_eq!(executed(i), soft(i), "account {i} at rest");
    }
    assert_value_conserved(port, seq, 4, &[&alice, &bob, &carol], "before the claim");

    // Bob claims on shard 0; the escrow drops by exactly his withdrawal.
    let escrow_before = eth_balance(port, BRIDGE_ADDRESS);
    let (ok, out) = kaimeng(&[
        "l2",
        "claim",
        "--rpc",
        &format!("http://127.0.0.1:{port}"),
        "--private-key",
        &bob.eth_key,
    ]);
    assert!(ok && out.contains("claimed 50000000000 wei"), "{out}");
    assert_eq!(
        eth_balance(port, BRIDGE_ADDRESS),
        escrow_before - U256::from(50 * GWEI)
    );
    assert_value_conserved(port, seq, 4, &[&alice, &bob, &carol], "after the claim");

    // A transaction's stages, by hash.
    let answer = send(seq, signed_transfer(&carol, 1, 2, 1, 1));
    let hash = answer["result"]["hash"].clone();
    let tx = result_at(seq, "rollup_getTransaction", json!([hash]));
    assert!(
        ["accepted", "inBatch"].contains(&tx["status"].as_str().unwrap()),
        "{tx}"
    );
    let deadline = Instant::now() + Duration::from_secs(180);
    while result_at(seq, "rollup_getTransaction", json!([hash]))["status"] != "executed" {
        assert!(Instant::now() < deadline, "never executed");
        std::thread::sleep(Duration::from_millis(250));
    }
    let batch = result_at(seq, "rollup_getTransaction", json!([hash]))["batch"].clone();
    let info = result_at(seq, "rollup_getBatch", json!([batch]));
    assert_eq!(info["status"], "executed", "{info}");
    assert!(
        info["transactions"].as_array().unwrap().contains(&hash),
        "{info}"
    );
    drop(bob_updates);
}

/// A `kaimeng sequencer` process.
struct SequencerProcess {
    child: Child,
    port: u16,
    /// Its prover listener.
    prover_port: u16,
}

/// A test that fails part-way must not leave its sequencer running.
impl Drop for SequencerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The port of the first `http://host:port` in `line`.
fn port_in(line: &str) -> u16 {
    line.split("http://")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Writes `dir/sequencer.toml` for a sequencer of the dev node at `port` (genesis sequencer key,
/// dev shape, data in `dir/data`, a prover listener on a free port), with `extra` settings.
fn sequencer_config(port: u16, dir: &Path, extra: &str) -> std::path::PathBuf {
    let config = dir.join("sequencer.toml");
    std::fs::write(
        &config,
        format!(
            "shard0_rpc = \"http://127.0.0.1:{port}\"\nlisten = \"127.0.0.1:0\"\n\
             data_dir = \"{}\"\nprivate_key = \"{}\"\nchunk_slots = 6\nchunk_k = 13\n\
             prover_listen = \"127.0.0.1:0\"\n{extra}",
            dir.join("data").display(),
            dev_accounts(10)[9].private_key
        ),
    )
    .unwrap();
    config
}

fn start_sequencer(config: &Path) -> SequencerProcess {
    start_sequencer_with(config, &[])
}

fn start_sequencer_with(config: &Path, extra: &[&str]) -> SequencerProcess {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kaimeng"))
        .args(["sequencer", "--config"])
        .arg(config)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut port, mut prover_port) = (None, None);
    while prover_port.is_none() {
        let line = lines
            .next()
            .expect("the sequencer printed its addresses")
            .unwrap();
        if line.starts_with("Rollup sequencer: RPC http://") {
            port = Some(port_in(&line));
        } else if line.starts_with("Prover RPC: http://") {
            assert!(line.contains("--secret"), "{line}");
            prover_port = Some(port_in(&line));
        }
    }
    std::thread::spawn(move || for _ in lines {});
    SequencerProcess {
        child,
        port: port.expect("the RPC address comes first"),
        prover_port: prover_port.unwrap(),
    }
}

fn start_prover(prover_port: u16, secret: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_kaimeng"))
        .args([
            "prover",
            "--sequencer",
            &format!("http://127.0.0.1:{prover_port}"),
        ])
        .arg("--secret")
        .arg(secret)
        .args(["--chunk-slots", "2", "--chunk-k", "13", "--params"])
        .arg(std::env::temp_dir().join("kaimeng-e2e-params"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

#[test]
fn a_killed_sequencer_loses_nothing_a_killed_prover_s_job_is_reproved_and_an_empty_disk_rebuilds() {
    let node = DevNode::start(&[]);
    let port = node.port;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = sequencer_config(
        port,
        dir.path(),
        "max_wait_ms = 1500\nlocal_provers = 0\nlease_seconds = 6\ndecide_wait_ms = 2000\n\
         decide_step_gas = 5000000\nrate_limit = 50\nmax_subscriptions = 2\n\
         compact_after_ops = 1\n",
    );
    let mut sequencer = start_sequencer(&config);
    let secret = data.join("prover.secret");
    hostile_clients_are_bounded(&sequencer, &secret);
    let (alice, bob) = (user(4, 1), user(5, 2));
    deposit(port, &alice, 1_000);
    deposit(port, &bob, 1_000);
    wait_status(
        sequencer.port,
        "deposits seen",
        Duration::from_secs(30),
        |s| s["nextRequest"] == 3,
    );

    // Nine confirmed transfers (more than a chunk's six slots, so the batch is proven as a
    // pack of chunks), then kill -9 at once: after a restart every one is there.
    let mut hashes = Vec::new();
    for nonce in 0..9 {
        let answer = send(
            sequencer.port,
            signed_transfer(&alice, 2, 10 + u64::from(nonce), 1, nonce),
        );
        hashes.push(answer["result"]["hash"].clone());
    }
    sequencer.child.kill().unwrap();
    sequencer.child.wait().unwrap();
    let mut sequencer = start_sequencer(&config);
    let seq = sequencer.port;
    for hash in &hashes {
        let tx = result_at(seq, "rollup_getTransaction", json!([hash]));
        assert!(!tx.is_null(), "{hash} lost in the restart");
    }
    assert_eq!(account(seq, 1)["soft"]["nonce"], 9);
    assert_eq!(
        account(seq, 2)["soft"]["balance"],
        1_000 + (10..19).sum::<u64>()
    );

    // A prover takes a job and is killed mid-proof; once its lease runs out another proves it.
    let mut first = start_prover(sequencer.prover_port, &secret);
    wait_status(seq, "a job leased", Duration::from_secs(120), |s| {
        s["provingJobs"]["leased"].as_u64().unwrap() >= 1
    });
    first.kill().unwrap();
    first.wait().unwrap();
    let mut second = start_prover(sequencer.prover_port, &secret);
    wait_status(
        seq,
        "the killed prover's job handed out again",
        Duration::from_secs(120),
        |s| s["provingJobs"]["handedAgainAfterExpiry"] == 1,
    );
    wait_all_executed(seq, Duration::from_secs(300));
    second.kill().unwrap();
    second.wait().unwrap();
    for hash in &hashes {
        let tx = result_at(seq, "rollup_getTransaction", json!([hash]));
        assert_eq!(tx["status"], "executed", "{tx}");
    }
    // The nine came within one batch window, so their batch has two chunks, proven as one
    // pack by the remote worker and verified on shard 0.
    let last = result_at(seq, "rollup_getTransaction", json!([hashes[8]]));
    let batch = result_at(seq, "rollup_getBatch", json!([last["batch"]]));
    assert_eq!(batch["chunks"], 2, "{batch}");
    assert_eq!(status(seq)["chunksPerProof"], 8);
    // With decide_step_gas below a whole decision's gas at k = 13, each decision took two
    // steps (two transactions), the first announced by a DecisionStepped event.
    let stepped = result_at(
        port,
        "eth_getLogs",
        json!([{
            "address": BRIDGE_ADDRESS,
            "fromBlock": "0x0",
            "toBlock": "latest",
            "topics": [alloy_primitives::keccak256("DecisionStepped(uint64,uint64,uint32,uint32)")],
        }]),
    );
    let stepped = stepped.as_array().unwrap();
    assert!(!stepped.is_empty(), "no decision was split");
    for log in stepped {
        let data = log["data"].as_str().unwrap();
        // first | last | step | steps
        assert_eq!(&data[2 + 2 * 96..], format!("{:064x}", 2), "{log}");
        assert_eq!(
            &data[2 + 2 * 64..2 + 2 * 96],
            format!("{:064x}", 0),
            "{log}"
        );
    }
    let balances: Vec<Value> = (0..3)
        .map(|i| account(seq, i)["executed"].clone())
        .collect();
    assert_value_conserved(port, seq, 3, &[&alice, &bob], "after the restarts");

    // Executed batches are compacted into a snapshot of the executed state (compact_after_ops
    // = 1, and as many operations as accounts). Killed then, the sequencer restarts from the
    // snapshot and replays only the batches after it.
    let compacted = wait_status(seq, "the journal compacted", Duration::from_secs(30), |s| {
        s["journal"]["startsAfterBatch"].as_u64() >= Some(1)
    });
    sequencer.child.kill().unwrap();
    sequencer.child.wait().unwrap();
    let mut sequencer = start_sequencer(&config);
    let seq = sequencer.port;
    assert_eq!(
        status(seq)["journal"]["startsAfterBatch"],
        compacted["journal"]["startsAfterBatch"]
    );
    assert_eq!(
        status(seq)["accepted"],
        12,
        "numbering goes on from the snapshot"
    );
    assert_soft_balances(seq, &balances, "restored from the snapshot");
    wait_status(
        seq,
        "the bridge's marks read",
        Duration::from_secs(30),
        |s| s["executed"] == compacted["executed"],
    );
    for index in 0..3 {
        assert_eq!(account(seq, index)["executed"], balances[index as usize]);
    }

    // On an empty disk the sequencer rebuilds the state from shard 0 and goes on.
    sequencer.child.kill().unwrap();
    sequencer.child.wait().unwrap();
    let journal = data.join("journal");
    let kept = dir.path().join("journal.kept");
    std::fs::rename(&journal, &kept).unwrap();
    let mut sequencer = start_sequencer(&config);
    let seq = sequencer.port;
    assert_soft_balances(seq, &balances, "rebuilt");
    assert_accepted(seq, signed_transfer(&bob, 1, 7, 1, 0));
    let withdraw = Withdraw {
        from: 1,
        amount: 5,
        fee: 1,
        nonce: 9,
    }
    .sign(&alice.l2, CHAIN);
    let answer = send(seq, request_of(L2Op::Withdraw(withdraw)));
    assert_eq!(answer["result"]["status"], "accepted", "{answer}");
    // No prover runs now: their batch is committed and stays unverified.
    let unverified = wait_status(seq, "a batch committed", Duration::from_secs(60), |s| {
        s["committed"].as_u64() > s["verified"].as_u64()
    });
    let verified = unverified["verified"].as_u64().unwrap();

    // A worker that cannot prove its job says so, and the sequencer shows it: how many reports
    // and which job fails most, with the reason. A report for no open job is refused.
    let lease = prover_call(sequencer.prover_port, &secret, "prover_lease", json!(["w"]));
    let job = lease["result"]["job"].clone();
    assert!(job.is_string(), "{lease}");
    let failed = prover_call(
        sequencer.prover_port,
        &secret,
        "prover_fail",
        json!([job, "synthesis failed: test"]),
    );
    assert_eq!(failed["result"], true, "{failed}");
    let jobs = status(seq)["provingJobs"].clone();
    assert_eq!(jobs["failureReports"], 1, "{jobs}");
    assert_eq!(
        (
            jobs["failingMost"]["job"].clone(),
            jobs["failingMost"]["reason"].clone()
        ),
        (job, json!("synthesis failed: test"))
    );
    let refused = prover_call(
        sequencer.prover_port,
        &secret,
        "prover_fail",
        json!(["999-0", "x"]),
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not open")),
        "{refused}"
    );
    sequencer.child.kill().unwrap();
    sequencer.child.wait().unwrap();

    // A config with another chunk shape than the chain's is refused before anything is
    // written: its proofs would never verify.
    let other_dir = tempfile::tempdir().unwrap();
    let other = sequencer_config(port, other_dir.path(), "");
    let text = std::fs::read_to_string(&other).unwrap();
    std::fs::write(&other, text.replace("chunk_slots = 6", "chunk_slots = 5")).unwrap();
    refused_start(
        &other,
        &[
            "chunk_slots = 5",
            "chunks of 6 slots at k = 13",
            "never verify",
        ],
    );
    assert!(!other_dir.path().join("data").exists());

    // A journal damaged before its end is refused with the place and left as it was.
    let mut bytes = std::fs::read(&journal).unwrap();
    assert!(
        bytes.len() > 100,
        "the new journal holds the rebuild marker and two transactions"
    );
    bytes[30] ^= 0x40;
    std::fs::write(&journal, &bytes).unwrap();
    refused_start(&config, &["is corrupted", "refusing to start"]);
    assert_eq!(std::fs::read(&journal).unwrap(), bytes);

    // Without the journal, the committed batch cannot be proven: the sequencer refuses to
    // start and names the way out.
    std::fs::remove_file(&journal).unwrap();
    refused_start(&config, &["not verified", "--revert-unverified"]);
    assert_eq!(
        std::fs::metadata(&journal).map_or(0, |m| m.len()),
        0,
        "a refused start records nothing"
    );

    // With --revert-unverified it reverts that batch on shard 0 and rebuilds from the verified
    // ones: Bob's transfer and Alice's withdrawal are dropped, and Alice's nonce 9 is free.
    let mut sequencer = start_sequencer_with(&config, &["--revert-unverified"]);
    let seq = sequencer.port;
    let s = status(seq);
    assert_eq!(
        (s["committed"].as_u64(), s["verified"].as_u64()),
        (Some(verified), Some(verified)),
        "{s}"
    );
    let bridge_committed = bridge_view(port, kaimeng::bridge_client::lastCommittedCall {});
    assert_eq!(
        bridge_committed, verified,
        "the bridge is back at the verified batch"
    );
    assert_soft_balances(seq, &balances, "after the revert");
    assert_accepted(seq, signed_transfer(&alice, 2, 3, 1, 9));
    let mut prover = start_prover(sequencer.prover_port, &secret);
    wait_all_executed(seq, Duration::from_secs(300));
    prover.kill().unwrap();
    prover.wait().unwrap();
    assert_eq!(
        account(seq, 2)["executed"]["balance"],
        before_balance(&balances[2]) + 3
    );
    assert_value_conserved(port, seq, 3, &[&alice, &bob], "after the revert");
    sequencer.child.kill().unwrap();
    sequencer.child.wait().unwrap();
}

/// Each account's soft-confirmed balance and nonce are `expected[i]`.
fn assert_soft_balances(seq: u16, expected: &[Value], when: &str) {
    for (i, before) in expected.iter().enumerate() {
        assert_eq!(
            &account(seq, i as u32)["soft"],
            before,
            "account {i} {when}"
        );
    }
}

/// The sequencer accepts `request`.
fn assert_accepted(seq: u16, request: Value) {
    let answer = send(seq, request);
    assert_eq!(answer["result"]["status"], "accepted", "{answer}");
}

/// `kaimeng sequencer --config config` exits within 60 s with an error that says each of
/// `needles` (a sequencer that starts instead is killed and the test fails).
fn refused_start(config: &Path, needles: &[&str]) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kaimeng"))
        .args(["sequencer", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!(
                "the sequencer started with {}, instead of refusing",
                config.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
    }
}

fn before_balance(view: &Value) -> u64 {
    view["balance"].as_u64().unwrap()
}

/// A view of the bridge, through the node's `eth_call`, with the calls the sequencer itself
/// uses (`kaimeng::bridge_client`).
fn bridge_view<C: alloy_sol_types::SolCall>(node: u16, call: C) -> C::Return {
    let data = alloy_primitives::Bytes::from(call.abi_encode());
    let answer = result_at(
        node,
        "eth_call",
        json!([{"to": BRIDGE_ADDRESS, "data": data}, "latest"]),
    );
    let out: alloy_primitives::Bytes = serde_json::from_value(answer).unwrap();
    C::abi_decode_returns(&out).unwrap()
}

/// A raw HTTP POST of `body` to `port` with an optional `Authorization` header; the whole
/// response, status line included.
fn post_with_auth(port: u16, authorization: Option<&str>, body: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let auth = authorization.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{auth}\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
}

/// A JSON-RPC call to the prover listener with the secret in `secret`; the answer.
fn prover_call(port: u16, secret: &Path, method: &str, params: Value) -> Value {
    let bearer = format!("Bearer {}", std::fs::read_to_string(secret).unwrap().trim());
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let response = post_with_auth(port, Some(&bearer), &body.to_string());
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {response}"))
}

/// The sequencer's limits, with its config's `rate_limit = 50` and `max_subscriptions = 2`:
/// the prover methods exist only on the prover listener, which refuses anyone without the
/// secret; a client over its rate gets -32005; one subscription over the bound is refused.
fn hostile_clients_are_bounded(sequencer: &SequencerProcess, secret: &Path) {
    let seq = sequencer.port;
    let lease = json!({"jsonrpc": "2.0", "id": 1, "method": "prover_lease", "params": ["thief"]})
        .to_string();

    // Not on the public listener.
    let answer = rpc_at(seq, "prover_lease", json!(["thief"]));
    assert_eq!(answer["error"]["code"], -32601, "{answer}");

    // The prover listener: 401 without the secret or with a wrong one, the lease with it.
    let right = format!("Bearer {}", std::fs::read_to_string(secret).unwrap().trim());
    let wrong = format!("Bearer {}", "0".repeat(64));
    for authorization in [None, Some(wrong.as_str()), Some("Basic dGhpZWY6")] {
        let response = post_with_auth(sequencer.prover_port, authorization, &lease);
        assert!(response.starts_with("HTTP/1.1 401"), "{response}");
        assert!(
            response.contains("prover_secret_file") && response.contains("-32001"),
            "{response}"
        );
    }
    let response = post_with_auth(sequencer.prover_port, Some(&right), &lease);
    assert!(
        response.starts_with("HTTP/1.1 200") && response.contains("\"result\":null"),
        "no job yet: {response}"
    );

    // Over WebSocket the same: the upgrade without the secret is refused with 401, and a
    // client that sends it can lease.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        use jsonrpsee::core::client::ClientT;
        use jsonrpsee::ws_client::{HeaderMap, HeaderValue, WsClientBuilder};
        let url = format!("ws://127.0.0.1:{}", sequencer.prover_port);
        let refused = WsClientBuilder::default()
            .build(&url)
            .await
            .err()
            .map(|e| e.to_string());
        assert!(
            refused.as_deref().is_some_and(|e| e.contains("401")),
            "{refused:?}"
        );
        let mut headers = HeaderMap::new();
        headers.insert("Authorization", HeaderValue::from_str(&right).unwrap());
        let client = WsClientBuilder::default()
            .set_headers(headers)
            .build(&url)
            .await
            .unwrap();
        let job: Value = client
            .request("prover_lease", jsonrpsee::rpc_params!["ws-worker"])
            .await
            .unwrap();
        assert!(job.is_null(), "no job yet: {job}");
    });

    // A worker with the wrong secret stops at once and says why.
    let dir = tempfile::tempdir().unwrap();
    let wrong_file = dir.path().join("wrong.secret");
    std::fs::write(&wrong_file, "0".repeat(64)).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_kaimeng"))
        .args(["prover", "--sequencer"])
        .arg(format!("http://127.0.0.1:{}", sequencer.prover_port))
        .arg("--secret")
        .arg(&wrong_file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("refused the prover secret"), "{stderr}");

    // Over the rate: a batch of 51 calls against 50 per second is refused whole, and takes
    // nothing from the client's bucket.
    let batch: Vec<Value> = (0..51)
        .map(|id| json!({"jsonrpc": "2.0", "id": id, "method": "rollup_status", "params": []}))
        .collect();
    let answer: Value = serde_json::from_str(&crate::node::http_post(
        seq,
        Value::Array(batch).to_string().as_bytes(),
    ))
    .unwrap();
    assert_eq!(answer["error"]["code"], -32005, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 50 requests per second"),
        "{answer}"
    );

    // Two subscriptions in all; the third is refused, on a new connection as on the same one.
    runtime.block_on(async {
        use jsonrpsee::core::client::{Subscription, SubscriptionClientT};
        let connect = || {
            jsonrpsee::ws_client::WsClientBuilder::default().build(format!("ws://127.0.0.1:{seq}"))
        };
        let (one, two) = (connect().await.unwrap(), connect().await.unwrap());
        async fn subscribe(
            client: &jsonrpsee::ws_client::WsClient,
            account: u32,
        ) -> Result<Subscription<Value>, jsonrpsee::core::client::Error> {
            client
                .subscribe(
                    "rollup_subscribeAccount",
                    jsonrpsee::rpc_params![account],
                    "rollup_unsubscribeAccount",
                )
                .await
        }
        let first: Subscription<Value> = subscribe(&one, 1).await.unwrap();
        let second: Subscription<Value> = subscribe(&two, 2).await.unwrap();
        for client in [&one, &two] {
            let refused = subscribe(client, 3).await.unwrap_err().to_string();
            assert!(
                refused.contains("too many subscriptions") && refused.contains("at most 2"),
                "{refused}"
            );
        }
        drop((first, second));
    });
}

/// A claim decision begun by someone else is carried on by the sequencer (ADR 0114). The
/// sequencer is told to decide only after 1,000 batches or an hour, so it never starts one
/// itself here; a dev account begins a decision of the verified batches in 4 steps, from their
/// `BatchVerified` claims, and the sequencer takes the other three steps and executes.
#[test]
fn a_decision_begun_by_someone_else_is_carried_on_by_the_sequencer() {
    use alloy_sol_types::{SolCall, SolEvent};
    use kaimeng::bridge_client::{BatchVerified, decideBatchesCall};

    let node = DevNode::start(&[]);
    let port = node.port;
    let dir = tempfile::tempdir().unwrap();
    let config = sequencer_config(
        port,
        dir.path(),
        "max_wait_ms = 500\ndecide_every_batches = 1000\ndecide_wait_ms = 3600000\n",
    );
    let sequencer = start_sequencer(&config);
    let alice = user(4, 1);
    deposit(port, &alice, 1_000);
    let verified = wait_status(
        sequencer.port,
        "the deposit's batch verified",
        Duration::from_secs(180),
        |s| s["verified"].as_u64() >= Some(1) && s["unbatched"] == 0,
    );
    let last = verified["verified"].as_u64().unwrap();
    assert_eq!(
        verified["decided"], 0,
        "the sequencer does not decide by itself"
    );

    // Someone else begins the decision, in 4 steps, with the claims the verifications emitted.
    let logs = result_at(
        port,
        "eth_getLogs",
        json!([{"address": BRIDGE_ADDRESS, "fromBlock": "0x0", "toBlock": "latest",
                "topics": [BatchVerified::SIGNATURE_HASH]}]),
    );
    let claims: Vec<alloy_primitives::Bytes> = logs
        .as_array()
        .unwrap()
        .iter()
        .map(|log| {
            let data: alloy_primitives::Bytes =
                serde_json::from_value(log["data"].clone()).unwrap();
            BatchVerified::abi_decode_data(&data).unwrap().2
        })
        .take(last as usize)
        .collect();
    assert_eq!(claims.len() as u64, last);
    let call = decideBatchesCall {
        lastBatch: last,
        claims,
        steps: 4,
    };
    let someone = &dev_accounts(10)[3];
    let raw = crate::node::signed_call_from(
        &someone.private_key.to_string(),
        CHAIN,
        0,
        BRIDGE_ADDRESS,
        U256::ZERO,
        call.abi_encode(),
        16_000_000,
    );
    let hash = result_at(port, "eth_sendRawTransaction", json!([raw]));
    let receipt = crate::node::receipt_at(port, hash.as_str().unwrap(), Duration::from_secs(60));
    assert_eq!(receipt["status"], "0x1", "{receipt}");

    // The sequencer carries it on (steps 1 to 3: not its own choice of 2 or fewer) and
    // executes the batches.
    wait_status(
        sequencer.port,
        "the decision finished and the batches executed",
        Duration::from_secs(120),
        |s| s["decided"].as_u64() == Some(last) && s["executed"].as_u64() == Some(last),
    );
    let stepped = result_at(
        port,
        "eth_getLogs",
        json!([{"address": BRIDGE_ADDRESS, "fromBlock": "0x0", "toBlock": "latest",
                "topics": [alloy_primitives::keccak256("DecisionStepped(uint64,uint64,uint32,uint32)")]}]),
    );
    let steps: Vec<String> = stepped
        .as_array()
        .unwrap()
        .iter()
        .map(|log| log["data"].as_str().unwrap()[2 + 2 * 64..].to_string())
        .collect();
    let expected: Vec<String> = (0..3u32)
        .map(|step| format!("{step:064x}{:064x}", 4))
        .collect();
    assert_eq!(steps, expected, "steps 0, 1 and 2 of 4 were announced");
}
