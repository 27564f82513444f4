//! Bad input gets a clear error and changes nothing.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

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

/// A TCP connection to `port` from the loopback address `127.0.0.<from>`: each test of the
/// per-address rate limit talks from its own address.
fn connect_from(port: u16, from: u8) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let stream = runtime
        .block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(SocketAddr::from((Ipv4Addr::new(127, 0, 0, from), 0)))?;
            socket
                .connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
                .await
        })
        .expect("connect from a loopback address")
        .into_std()
        .unwrap();
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
}

fn call(id: u64) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": "eth_blockNumber", "params": []}).to_string()
}

/// Reads one HTTP/1.1 response with a Content-Length: status and body.
fn read_response(reader: &mut impl BufRead) -> (u16, String) {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut length = 0;
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let header = line.trim_end().to_ascii_lowercase();
        if header.is_empty() {
            break;
        }
        if let Some(value) = header.strip_prefix("content-length:") {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (status, String::from_utf8(body).unwrap())
}

/// Writes every body as a request on one keep-alive connection (pipelined, one burst), then
/// reads the responses.
fn pipelined(stream: TcpStream, bodies: &[String]) -> Vec<(u16, Value)> {
    let mut burst = String::new();
    for body in bodies {
        burst.push_str(&format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
    }
    stream
        .try_clone()
        .unwrap()
        .write_all(burst.as_bytes())
        .unwrap();
    let mut reader = BufReader::new(stream);
    bodies
        .iter()
        .map(|_| {
            let (status, body) = read_response(&mut reader);
            (status, serde_json::from_str(&body).unwrap())
        })
        .collect()
}

/// Sends `messages` as masked WebSocket text frames in one write and reads as many answers.
fn websocket_burst(mut stream: TcpStream, messages: &[String]) -> Vec<Value> {
    stream
        .write_all(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.contains(" 101 "), "no upgrade: {line}");
    while line.trim() != "" {
        line.clear();
        reader.read_line(&mut line).unwrap();
    }
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut burst = Vec::new();
    for message in messages {
        assert!(message.len() < 126);
        burst.extend_from_slice(&[0x81, 0x80 | message.len() as u8]);
        burst.extend_from_slice(&mask);
        burst.extend(message.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    }
    stream.write_all(&burst).unwrap();
    messages
        .iter()
        .map(|_| {
            let mut head = [0u8; 2];
            reader.read_exact(&mut head).unwrap();
            let len = match head[1] & 0x7f {
                126 => {
                    let mut n = [0u8; 2];
                    reader.read_exact(&mut n).unwrap();
                    u16::from_be_bytes(n) as usize
                }
                n => n as usize,
            };
            let mut payload = vec![0; len];
            reader.read_exact(&mut payload).unwrap();
            serde_json::from_slice(&payload).unwrap()
        })
        .collect()
}

const REFUSAL: &str = "rate limit exceeded: at most 10 requests per second per client address";

fn assert_refused(response: &Value) {
    assert_eq!(error(response), (-32005, REFUSAL.to_string()));
}

/// The review's finding: 100 calls on one keep-alive HTTP connection all passed a limit of 10.
/// The limit is per client address, over HTTP (one connection or many) and WebSocket alike.
#[test]
fn the_rate_limit_holds_per_client_address_over_http_and_websocket() {
    let node = DevNode::start(&["--validators", "1", "--rpc-rate-limit", "10"]);
    let calls: Vec<String> = (0..=10).map(call).collect();

    let keep_alive = pipelined(connect_from(node.port, 2), &calls);
    for (status, response) in &keep_alive[..10] {
        assert_eq!(*status, 200);
        assert!(response.get("result").is_some(), "{response}");
    }
    assert_refused(&keep_alive[10].1);

    // A new connection per call, connected beforehand so the calls are a burst.
    let connections: Vec<TcpStream> = (0..=10).map(|_| connect_from(node.port, 3)).collect();
    let fresh: Vec<Value> = connections
        .into_iter()
        .zip(&calls)
        .map(|(stream, body)| pipelined(stream, std::slice::from_ref(body)).remove(0).1)
        .collect();
    for response in &fresh[..10] {
        assert!(response.get("result").is_some(), "{response}");
    }
    assert_refused(&fresh[10]);

    // WebSocket calls are answered concurrently: exactly one of the eleven is refused.
    let ws = websocket_burst(connect_from(node.port, 4), &calls);
    let refused: Vec<&Value> = ws.iter().filter(|r| r.get("error").is_some()).collect();
    assert_eq!(refused.len(), 1, "{ws:?}");
    assert_refused(refused[0]);

    let help = std::process::Command::new(env!("CARGO_BIN_EXE_kaimeng"))
        .args(["dev", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(help.contains("per client IP address"), "{help}");
}

/// An id that is not a string, an unsigned integer or null, and a body that is not UTF-8, got a
/// bare `null` (and vanished from a batch); an oversized chunked body got HTTP 500.
#[test]
fn bad_ids_bad_utf8_and_oversized_chunked_bodies_get_json_rpc_errors() {
    let node = DevNode::start(&["--validators", "1"]);
    let object_id = r#"{"jsonrpc":"2.0","id":{},"method":"eth_blockNumber"}"#.to_string();
    let (status, response) = pipelined(connect_from(node.port, 5), &[object_id.clone()]).remove(0);
    assert_eq!(status, 200);
    assert_eq!(error(&response).0, -32600, "{response}");
    assert!(response["id"].is_null(), "{response}");

    let batch = format!("[{object_id},{}]", call(7));
    let (_, response) = pipelined(connect_from(node.port, 5), &[batch]).remove(0);
    let entries = response.as_array().unwrap_or_else(|| panic!("{response}"));
    assert_eq!(entries.len(), 2, "{response}");
    assert!(
        entries
            .iter()
            .any(|e| e["id"] == 7 && e.get("result").is_some()),
        "{response}"
    );
    assert!(
        entries
            .iter()
            .any(|e| e["id"].is_null() && e["error"]["code"] == -32600),
        "{response}"
    );

    let mut not_utf8 =
        br#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[""#.to_vec();
    not_utf8.extend_from_slice(b"\xff\"]}");
    let response: Value = serde_json::from_str(&http_post(node.port, &not_utf8)).unwrap();
    assert_eq!(error(&response).0, -32600, "{response}");
    assert!(response["id"].is_null(), "{response}");

    // 10 MB, chunked (no Content-Length).
    let mut stream = connect_from(node.port, 5);
    let mut writer = stream.try_clone().unwrap();
    let sending = std::thread::spawn(move || {
        let mut body = String::from(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        );
        let chunk = "0".repeat(1024 * 1024);
        let prefix = r#"{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x"#;
        body.push_str(&format!("{:x}\r\n{prefix}\r\n", prefix.len()));
        for _ in 0..10 {
            body.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
        }
        body.push_str("3\r\n\"]}\r\n0\r\n\r\n");
        // The server may answer and close before reading everything.
        let _ = writer.write_all(body.as_bytes());
    });
    let (status, body) = read_response(&mut BufReader::new(&mut stream));
    let _ = sending.join();
    assert_eq!(status, 413, "{body}");
    let (code, message) = error(&serde_json::from_str(&body).unwrap());
    assert_eq!(code, -32007);
    assert!(message.contains("5242880 bytes"), "{message}");
    assert_eq!(node.result("eth_blockNumber", json!([])), json!("0x0"));
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
fn a_shard_port_in_use_stops_the_network_cleanly_with_a_clear_error() {
    // Shard 1 of node 0 would listen on port + 1, which another process holds: the validators
    // already started are stopped and the process exits with an error, not an abort.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = taken.local_addr().unwrap().port() - 1;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kaimeng"))
        .args(["dev", "--shards", "2", "--port", &base.to_string()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{}", base + 1)),
        "{stderr}"
    );
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
