//! Bad input gets a clear error and changes nothing.

use serde_json::{Value, json};

use crate::node::*;

fn error(response: &Value) -> (i64, String) {
    let e = response
        .get("error")
        .unwrap_or_else(|| panic!("expected an error: {response}"));
    (
        e["code"].as_i64().unwrap(),
        e["message"].as_str().unwrap().to_string(),
    )
}

#[test]
fn rpc_rejects_bad_input_with_named_errors_and_keeps_running() {
    let node = DevNode::start(&[]);
    let head = node.result("eth_blockNumber", json!([]));

    let (code, message) = error(&node.rpc("eth_sendRawTransaction", json!(["0xdeadbeef"])));
    assert_eq!(code, -32000);
    assert!(message.contains("malformed transaction"), "{message}");

    let other_chain = signed_transfer(1, 0, alloy_primitives::Address::ZERO, 1);
    let (_, message) = error(&node.rpc("eth_sendRawTransaction", json!([other_chain])));
    assert!(message.contains("invalid chain id"), "{message}");

    let (code, message) = error(&node.rpc("eth_getBalance", json!([42, "latest"])));
    assert_eq!(code, -32602, "{message}");

    let (code, _) = error(&node.rpc("eth_noSuchMethod", json!([])));
    assert_eq!(code, -32601);

    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x{}"]}}"#,
        "00".repeat(6 * 1024 * 1024)
    );
    let response = node.raw(&huge);
    assert!(
        response.to_lowercase().contains("too big")
            || response.to_lowercase().contains("too large"),
        "oversized request: {response}"
    );

    let batch: Vec<Value> = (0..1001)
        .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "eth_chainId", "params": []}))
        .collect();
    let response = node.raw(&Value::Array(batch).to_string());
    assert!(
        response.contains("1000"),
        "batch limit must be named: {response}"
    );

    let response = node.raw("{not json");
    assert!(response.contains("-32700"), "parse error: {response}");

    assert_eq!(
        node.result("eth_blockNumber", json!([])),
        head,
        "bad input produced no blocks"
    );
    assert_eq!(
        node.result("txpool_status", json!([]))["pending"],
        json!("0x0")
    );
}

#[test]
fn the_rate_limit_names_itself() {
    let node = DevNode::start(&["--rpc-rate-limit", "5"]);
    let batch: Vec<Value> = (0..10)
        .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "eth_chainId", "params": []}))
        .collect();
    let response = node.raw(&Value::Array(batch).to_string());
    assert!(response.contains("rate limit exceeded"), "{response}");
}

#[test]
fn a_data_directory_in_use_is_refused() {
    let dir = temp_dir();
    let _first = DevNode::start(&["--data-dir", path_str(dir.path())]);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kaimeng"))
        .args(["dev", "--port", "0", "--data-dir", path_str(dir.path())])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("in use by another process"), "{stderr}");
}

#[test]
fn a_port_in_use_is_refused() {
    let first = DevNode::start(&[]);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kaimeng"))
        .args(["dev", "--port", &first.port.to_string()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot listen on"), "{stderr}");
}

#[test]
fn a_genesis_file_with_a_wrong_field_is_rejected_naming_it() {
    let dir = temp_dir();
    let file = dir.path().join("genesis.json");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_kaimeng"))
        .args(["genesis", "new", "--out", path_str(&file)])
        .status()
        .unwrap();
    assert!(status.success());
    let mut spec: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    spec["block_gas_limit"] = json!("lots");
    std::fs::write(&file, spec.to_string()).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kaimeng"))
        .args(["genesis", "check", path_str(&file)])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("block_gas_limit"), "{stderr}");
}

#[test]
fn keygen_writes_an_sm4_keystore_and_a_wrong_password_is_named() {
    let dir = temp_dir();
    let key = dir.path().join("validator.json");
    let good = dir.path().join("good.txt");
    let bad = dir.path().join("bad.txt");
    std::fs::write(&good, "correct horse\n").unwrap();
    std::fs::write(&bad, "wrong horse\n").unwrap();
    let kaimeng = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kaimeng"))
            .args(args)
            .output()
            .unwrap()
    };
    let out = kaimeng(&[
        "keygen",
        "--out",
        path_str(&key),
        "--password-file",
        path_str(&good),
        "--iterations",
        "1000",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = String::from_utf8_lossy(&out.stdout).to_string();
    let keystore: Value = serde_json::from_str(&std::fs::read_to_string(&key).unwrap()).unwrap();
    assert!(keystore.to_string().contains("sm4"), "{keystore}");
    let ok = kaimeng(&[
        "key-inspect",
        path_str(&key),
        "--password-file",
        path_str(&good),
    ]);
    assert!(ok.status.success());
    let public = written.split("public key ").nth(1).unwrap().trim();
    assert!(String::from_utf8_lossy(&ok.stdout).contains(public));
    let wrong = kaimeng(&[
        "key-inspect",
        path_str(&key),
        "--password-file",
        path_str(&bad),
    ]);
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr)
            .to_lowercase()
            .contains("password"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
    std::fs::write(&key, "{\"version\": 1}").unwrap();
    let broken = kaimeng(&[
        "key-inspect",
        path_str(&key),
        "--password-file",
        path_str(&good),
    ]);
    assert!(!broken.status.success());
}
