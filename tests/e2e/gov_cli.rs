//! `kaimeng gov`: the built binary against an in-process `kaimeng_*` server over an in-memory
//! consortium that applies accepted transactions at once (no consensus: the 4-validator network
//! test lives with the node), and bad input that must fail before any node is contacted.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use alloy_primitives::U256;
use jsonrpsee::server::{Server, ServerHandle};
use kaimeng_crypto::keystore::{Keystore, save_keystore};
use kaimeng_genesis::{CryptoSuite, DevKeyRole, DevOptions, GenesisSpec, dev_member_secret};
use kaimeng_l1::governance::ConsortiumState;
use kaimeng_rpc::{ImmediateConsortium, KaimengRpc};
use serde_json::Value;

use crate::node::temp_dir;

/// Nothing listens here: a command that gets past its local checks fails to connect.
const NO_NODE: &str = "http://127.0.0.1:9";

fn kaimeng(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kaimeng"))
        .args(args)
        .env_remove("KAIMENG_PASSWORD")
        .env_remove("KAIMENG_RPC")
        .output()
        .expect("run kaimeng")
}

fn succeeds(args: &[&str]) -> String {
    let out = kaimeng(args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "kaimeng {args:?} failed: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Runs a command that must fail; returns its stderr.
fn fails(args: &[&str]) -> String {
    let out = kaimeng(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "kaimeng {args:?} should fail: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        out.stdout.is_empty(),
        "a refused command prints nothing on stdout"
    );
    stderr
}

/// `kaimeng gov vote` as dev member `member` on `proposal`; `choice` is `--approve` or
/// `--reject`.
fn dev_vote<'a>(url: &'a str, member: &'a str, proposal: &'a str, choice: &'a str) -> [&'a str; 9] {
    [
        "gov",
        "vote",
        "--rpc",
        url,
        "--dev-member",
        member,
        "--proposal",
        proposal,
        choice,
    ]
}

/// A `kaimeng_*` server for the 4-member dev genesis of `suite`.
struct GovServer {
    runtime: tokio::runtime::Runtime,
    handle: Option<ServerHandle>,
    consortium: Arc<ImmediateConsortium>,
    url: String,
}

impl GovServer {
    fn start(suite: CryptoSuite) -> GovServer {
        let genesis = GenesisSpec::dev(&DevOptions {
            crypto_suite: suite,
            ..DevOptions::default()
        });
        let state = ConsortiumState::from_genesis(&genesis).expect("dev genesis");
        let consortium = Arc::new(ImmediateConsortium::new(state));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let methods = KaimengRpc::methods(consortium.clone());
        let (handle, url) = runtime.block_on(async {
            let server = Server::builder().build("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", server.local_addr().unwrap());
            (server.start(methods), url)
        });
        GovServer {
            runtime,
            handle: Some(handle),
            consortium,
            url,
        }
    }

    fn json_list(&self) -> Value {
        let out = succeeds(&["gov", "list", "--all", "--json", "--rpc", &self.url]);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("list --json: {e}: {out}"))
    }
}

impl Drop for GovServer {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            let _ = handle.stop();
            self.runtime.block_on(handle.stopped());
        }
    }
}

fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

/// A keystore (1 KDF iteration, so tests are fast) holding the admin key of dev member `index`.
fn admin_keystore(dir: &Path, index: u32, suite: CryptoSuite, password: &str) -> String {
    let secret = dev_member_secret(index, DevKeyRole::Admin, suite);
    let crypto_suite = match suite {
        CryptoSuite::Secp256k1Keccak => kaimeng_crypto::CryptoSuite::Secp256k1Keccak,
        CryptoSuite::Sm2Sm3 => kaimeng_crypto::CryptoSuite::Sm2Sm3,
    };
    let keystore =
        Keystore::encrypt_with_iterations(secret.as_slice(), password, crypto_suite, 1).unwrap();
    let path = dir.join(format!("admin-{index}-{suite}.json"));
    save_keystore(&path, &keystore, true).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn bad_input_fails_with_a_named_reason_before_any_node_is_contacted() {
    let dir = temp_dir();
    let propose = |rest: &[&str]| {
        let mut args = vec!["gov", "propose", "--rpc", NO_NODE, "--dev-member", "0"];
        args.extend_from_slice(rest);
        fails(&args)
    };

    let err = propose(&["set-param", "gas-price", "1"]);
    assert!(err.contains("unknown parameter \"gas-price\""), "{err}");
    assert!(
        err.contains("block-gas-limit"),
        "names the valid ones: {err}"
    );

    let err = propose(&["set-param", "block-gas-limit", "lots"]);
    assert!(
        err.contains("block-gas-limit: \"lots\" is not a whole number"),
        "{err}"
    );
    let err = propose(&["set-param", "epoch-length", "1.5"]);
    assert!(err.contains("epoch-length: \"1.5\""), "{err}");
    let err = propose(&["set-param", "committee-size", "99999999999"]);
    assert!(err.contains("4294967295"), "{err}");
    let err = propose(&["set-param", "fee-split", "half"]);
    assert!(err.contains("fee-split: \"half\""), "{err}");
    let err = propose(&["set-param", "fee-split", "fixed:a=5000,a=5000"]);
    assert!(err.contains("listed twice"), "{err}");

    let missing_member = dir.path().join("nobody.json");
    let err = propose(&[
        "add-member",
        "--member-file",
        missing_member.to_str().unwrap(),
    ]);
    assert!(err.contains("cannot read member file"), "{err}");
    let bad_member = dir.path().join("bad.json");
    write(&bad_member, r#"{"organisation": "acme"}"#);
    let err = propose(&["add-member", "--member-file", bad_member.to_str().unwrap()]);
    assert!(err.contains("is not a member entry"), "{err}");

    let err = fails(&[
        "gov",
        "propose",
        "--rpc",
        NO_NODE,
        "--org",
        "dev-member-0",
        "--keystore",
        "/nonexistent/admin.json",
        "remove-member",
        "dev-member-3",
    ]);
    assert!(
        err.contains("keystore file /nonexistent/admin.json does not exist"),
        "{err}"
    );

    let keystore = admin_keystore(dir.path(), 0, CryptoSuite::Secp256k1Keccak, "right");
    let wrong = dir.path().join("wrong-password");
    write(&wrong, "wrong\n");
    let err = fails(&[
        "gov",
        "vote",
        "--rpc",
        NO_NODE,
        "--org",
        "dev-member-0",
        "--keystore",
        &keystore,
        "--password-file",
        wrong.to_str().unwrap(),
        "--proposal",
        "1",
        "--approve",
    ]);
    assert!(err.contains("wrong password"), "{err}");
    let err = fails(&[
        "gov",
        "vote",
        "--rpc",
        NO_NODE,
        "--org",
        "dev-member-0",
        "--keystore",
        &keystore,
        "--proposal",
        "1",
        "--approve",
    ]);
    assert!(err.contains("no keystore password"), "{err}");

    // Argument shapes clap refuses.
    let err = fails(&[
        "gov",
        "vote",
        "--dev-member",
        "1",
        "--proposal",
        "1",
        "--approve",
        "--reject",
    ]);
    assert!(err.contains("cannot be used with"), "{err}");
    let err = fails(&["gov", "vote", "--dev-member", "1", "--proposal", "1"]);
    assert!(err.contains("--approve"), "{err}");
    let err = fails(&["gov", "propose", "remove-member", "x"]);
    assert!(err.contains("--org") || err.contains("--keystore"), "{err}");
    let err = fails(&[
        "gov",
        "vote",
        "--dev-member",
        "1",
        "--proposal",
        "one",
        "--approve",
    ]);
    assert!(err.contains("one"), "{err}");

    // Valid input: the only failure left is the missing node, named with its URL.
    let err = propose(&["set-param", "block-gas-limit", "60000000"]);
    assert!(
        err.contains(&format!(
            "cannot get kaimeng_governanceDomain from the node at {NO_NODE}"
        )),
        "{err}"
    );
    let err = fails(&["gov", "list", "--rpc", NO_NODE]);
    assert!(err.contains("kaimeng_members"), "{err}");
}

#[test]
fn four_dev_members_vote_in_a_fifth_with_the_cli() {
    let server = GovServer::start(CryptoSuite::Secp256k1Keccak);
    let url = server.url.as_str();
    let dir = temp_dir();
    let candidate = GenesisSpec::dev(&DevOptions {
        validators: 5,
        ..DevOptions::default()
    })
    .members[4]
        .clone();
    let member_file = dir.path().join("member.json");
    write(
        &member_file,
        &serde_json::to_string_pretty(&candidate).unwrap(),
    );

    let out = succeeds(&[
        "gov",
        "propose",
        "--rpc",
        url,
        "--dev-member",
        "0",
        "add-member",
        "--member-file",
        member_file.to_str().unwrap(),
    ]);
    assert!(out.contains("submitted governance transaction 0x"), "{out}");
    assert!(
        out.contains("proposal 1: add-member dev-member-4; open; 1 of 3 approvals needed"),
        "{out}"
    );

    let open = succeeds(&["gov", "list", "--rpc", url]);
    assert!(open.contains("members (4):"), "{open}");
    assert!(open.contains("proposals (open: 1):"), "{open}");
    assert!(open.contains("add-member dev-member-4"), "{open}");

    let out = succeeds(&dev_vote(url, "1", "1", "--approve"));
    assert!(out.contains("open; 2 of 3 approvals needed"), "{out}");
    let out = succeeds(&dev_vote(url, "3", "1", "--reject"));
    assert!(out.contains("2 of 3 approvals needed, 1 against"), "{out}");
    let out = succeeds(&dev_vote(url, "2", "1", "--approve"));
    assert!(out.contains("passed in epoch 0"), "{out}");

    let open = succeeds(&["gov", "list", "--rpc", url]);
    assert!(open.contains("proposals (open: 0):\n  none"), "{open}");
    assert!(
        open.contains("taking effect at height 32: proposals 1"),
        "{open}"
    );
    let all = succeeds(&["gov", "list", "--all", "--rpc", url]);
    assert!(all.contains("passed in epoch 0"), "{all}");

    let json = server.json_list();
    assert_eq!(json["proposals"]["proposals"][0]["status"], "passed");
    assert_eq!(json["proposals"]["proposals"][0]["tally"]["approvals"], 3);
    assert_eq!(json["members"]["members"][1]["next_nonce"], 1);
    assert_eq!(json["epoch"]["scheduled"][0], 1);

    // A second vote by a member whose vote counted already is refused by the node.
    let err = fails(&dev_vote(url, "1", "1", "--approve"));
    assert!(
        err.contains("the node refused kaimeng_sendGovernanceTransaction"),
        "{err}"
    );

    server.consortium.end_epoch(U256::ZERO).unwrap();
    let json = server.json_list();
    let members = json["members"]["members"].as_array().unwrap();
    assert_eq!(members.len(), 5);
    assert_eq!(members[4]["organisation"], "dev-member-4");
    assert_eq!(json["proposals"]["proposals"][0]["status"], "enacted");
    assert_eq!(json["epoch"]["validators"].as_array().unwrap().len(), 5);
}

#[test]
fn keystore_signers_and_refusals_by_the_node() {
    let server = GovServer::start(CryptoSuite::Sm2Sm3);
    let url = server.url.as_str();
    let dir = temp_dir();
    let password = dir.path().join("password");
    write(&password, "s3cret\n");
    let password = password.to_str().unwrap();
    let keystore = admin_keystore(dir.path(), 3, CryptoSuite::Sm2Sm3, "s3cret");

    let with_keystore = |org: &str, keystore: &str, action: &[&str]| {
        let mut args = vec![
            "gov",
            "propose",
            "--rpc",
            url,
            "--org",
            org,
            "--keystore",
            keystore,
            "--password-file",
            password,
        ];
        args.extend_from_slice(action);
        args.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let args = with_keystore(
        "dev-member-3",
        &keystore,
        &["set-param", "block_gas_limit", "60_000_000"],
    );
    let out = succeeds(&as_strs(&args));
    assert!(
        out.contains("proposal 1: set-param block-gas-limit 60000000; open"),
        "{out}"
    );

    let args = with_keystore(
        "dev-member-3",
        &keystore,
        &[
            "set-param",
            "fee-split",
            "fixed:dev-member-0=7000,dev-member-1=3000",
        ],
    );
    let err = fails(&as_strs(&args));
    assert!(err.contains("the node refused"), "{err}");
    assert!(err.contains("fee"), "the state names the fee split: {err}");

    let args = with_keystore(
        "dev-member-2",
        &keystore,
        &["remove-member", "dev-member-0"],
    );
    let err = fails(&as_strs(&args));
    assert!(
        err.contains("is not the admin key of \"dev-member-2\""),
        "{err}"
    );
    let args = with_keystore("acme", &keystore, &["remove-member", "dev-member-0"]);
    let err = fails(&as_strs(&args));
    assert!(err.contains("\"acme\" is not a current member"), "{err}");

    let other_suite = admin_keystore(dir.path(), 3, CryptoSuite::Secp256k1Keccak, "s3cret");
    let args = with_keystore(
        "dev-member-3",
        &other_suite,
        &["remove-member", "dev-member-0"],
    );
    let err = fails(&as_strs(&args));
    assert!(
        err.contains("holds a secp256k1-keccak key, but the chain's suite is sm2-sm3"),
        "{err}"
    );

    let err = fails(&[
        "gov",
        "vote",
        "--rpc",
        url,
        "--dev-member",
        "1",
        "--suite",
        "secp256k1-keccak",
        "--proposal",
        "1",
        "--approve",
    ]);
    assert!(
        err.contains("does not match the node's suite sm2-sm3"),
        "{err}"
    );

    let err = fails(&dev_vote(url, "1", "7", "--approve"));
    assert!(err.contains("there is no proposal 7"), "{err}");

    // The nonce advanced only for the accepted transaction.
    let json = server.json_list();
    assert_eq!(json["members"]["members"][3]["next_nonce"], 1);
    assert_eq!(json["members"]["members"][1]["next_nonce"], 0);
    assert_eq!(json["proposals"]["proposals"].as_array().unwrap().len(), 1);
}
