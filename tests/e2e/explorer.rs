//! The explorer in a real `kaimeng dev` process: an existing data directory is backfilled when
//! the indexes are first switched on, and an index killed with `kill -9` at any moment resumes
//! from its stored height, so that every address's history is complete and counted once.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use alloy_primitives::Address;
use serde_json::{Value, json};

use crate::node::*;

/// GETs `path` from the node; returns the status and the body.
fn http_get(port: u16, path: &str) -> (u16, String) {
    let (status, _, body) = http_get_with_head(port, path);
    (status, body)
}

/// The explorer's page of `sender`'s transaction with `nonce` on the shard served at `port`,
/// found through the search box (`address:nonce`).
pub(crate) fn tx_page_by_nonce(port: u16, sender: Address, nonce: u64) -> String {
    let (status, head, body) =
        http_get_with_head(port, &format!("/explorer/search?q={sender}:{nonce}"));
    assert_eq!(status, 303, "{body}");
    let location = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("location: ")
                .or_else(|| l.strip_prefix("Location: "))
        })
        .expect("a redirect names its target")
        .trim()
        .to_string();
    let (status, page) = http_get(port, &location);
    assert_eq!(status, 200, "{page}");
    page
}

/// GETs `path`; returns the status, the head and the body.
fn http_get_with_head(port: u16, path: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (status, head.to_string(), body.to_string())
}

/// Waits (bounded) until shard 0's index has caught up with `height`.
fn wait_indexed(node: &DevNode, height: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = http_get(node.port, "/explorer/api/status");
        assert_eq!(status, 200, "{body}");
        let json: Value = serde_json::from_str(&body).unwrap();
        if json["chains"][0]["indexed"]
            .as_u64()
            .is_some_and(|i| i >= height)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the index did not reach block {height}: {body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The history total the address page states.
fn history_total(node: &DevNode, address: Address) -> u64 {
    let (status, body) = http_get(node.port, &format!("/explorer/s/0/address/{address}"));
    assert_eq!(status, 200, "{body}");
    body.split("data-total=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no history total on the address page: {body}"))
}

/// Sends `count` transfers from dev account 0 to `to`, from `nonce` on; returns the block of
/// the last one, once final.
fn send(node: &DevNode, nonce: u64, count: u64, to: Address) -> u64 {
    let mut last = Value::Null;
    for n in nonce..nonce + count {
        last = node.result(
            "eth_sendRawTransaction",
            json!([signed_transfer(31337, n, to, 1)]),
        );
    }
    let receipt = node.receipt(last.as_str().unwrap());
    u64::from_str_radix(
        receipt["blockNumber"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
        16,
    )
    .unwrap()
}

#[test]
fn an_existing_directory_is_backfilled_and_a_killed_index_resumes_counting_each_once() {
    let dir = temp_dir();
    let data = path_str(dir.path());
    let sender: Address = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        .parse()
        .unwrap();
    let to: Address = "0x00000000000000000000000000000000000e0001"
        .parse()
        .unwrap();

    // A chain written with the explorer off.
    let mut node = DevNode::start(&["--validators", "1", "--data-dir", data, "--no-explorer"]);
    let (status, _) = http_get(node.port, "/explorer/");
    assert_ne!(status, 200, "the explorer is off");
    let height = send(&node, 0, 40, to);
    node.kill();
    assert!(
        !dir.path().join("explorer").exists(),
        "nothing indexed while off"
    );

    // Switched on: the node backfills the directory it finds.
    let mut node = DevNode::start(&["--validators", "1", "--data-dir", data]);
    wait_indexed(&node, height);
    assert_eq!(history_total(&node, to), 40);
    assert_eq!(history_total(&node, sender), 40);

    // Killed while it indexes a burst, then restarted: nothing lost, nothing counted twice.
    let height = send(&node, 40, 200, to);
    node.kill();
    let node = DevNode::start(&["--validators", "1", "--data-dir", data]);
    wait_indexed(&node, height);
    assert_eq!(history_total(&node, to), 240);
    assert_eq!(history_total(&node, sender), 240);
    // The last page holds what is left after 9 full pages.
    let (status, body) = http_get(node.port, &format!("/explorer/s/0/address/{to}?page=10"));
    assert_eq!(status, 200);
    assert_eq!(body.matches("<tr data-tx=").count(), 15);
    let (status, _) = http_get(node.port, &format!("/explorer/s/0/address/{to}?page=11"));
    assert_eq!(status, 404);
}

#[test]
fn the_home_page_reports_finality_latency_under_consensus() {
    let node = DevNode::start(&[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, body) = http_get(node.port, "/explorer/api/status");
        let json: Value = serde_json::from_str(&body).unwrap();
        let finality = &json["chains"][0]["finality"];
        if finality["blocks"].as_u64().is_some_and(|b| b >= 3) {
            let p50: f64 = finality["p50"].as_str().unwrap().parse().unwrap();
            let p99: f64 = finality["p99"].as_str().unwrap().parse().unwrap();
            assert!(p50 <= p99 && p99 < 30_000.0, "{finality}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no finality latency reported: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, body) = http_get(node.port, "/explorer/");
    assert_eq!(status, 200);
    assert!(body.contains("id=\"finality-p50-0\""), "{body}");
}

#[test]
fn pages_share_the_rpc_rate_limit_and_the_indexes_can_be_switched_off() {
    let dir = temp_dir();
    let data = path_str(dir.path());
    // 10 tokens a second per client, and a page costs 10: after one page the client's
    // budget is spent, for pages and RPC calls alike.
    let node = DevNode::start(&[
        "--validators",
        "1",
        "--data-dir",
        data,
        "--no-explorer-index",
        "--rpc-rate-limit",
        "10",
    ]);
    std::thread::sleep(Duration::from_millis(1_100)); // the bucket refills to full
    let (status, body) = http_get(node.port, "/explorer/");
    assert_eq!(status, 200, "{body}");
    // From here the bucket refills at 10 tokens a second: a second page needs a full second,
    // and RPC calls get at most 10 per second since the page (plus one for rounding). A busy
    // machine may be slow between requests, so the limits are checked against the time taken.
    let spent = Instant::now();
    let (status, body) = http_get(node.port, "/explorer/");
    assert!(
        status == 429 || spent.elapsed() >= Duration::from_secs(1),
        "a second page within a second is over the limit: {status} {body}"
    );
    if status == 429 {
        assert!(body.contains("rate limit"), "{body}");
    }
    let answered = (0..20)
        .filter(|_| node.rpc("eth_chainId", json!([]))["error"]["code"] != -32005)
        .count();
    let allowed = (spent.elapsed().as_secs_f64() * 10.0).ceil() as usize + 1;
    assert!(
        answered <= allowed,
        "the page spent the RPC's budget too: {answered} of 20 calls answered within {:?}",
        spent.elapsed()
    );
    // With the indexes off, the pages that need them say so, and nothing is written.
    std::thread::sleep(Duration::from_millis(1_100)); // the bucket refills to full
    let (status, body) = http_get(node.port, "/explorer/s/0/tokens");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("switched the explorer"), "{body}");
    assert!(!dir.path().join("explorer").exists(), "no index directory");
}
