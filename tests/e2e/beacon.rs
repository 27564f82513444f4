//! The beacon chain as its own chain, seen from outside a real `kaimeng dev` network of four
//! validators: every final shard block is crosslinked exactly once, in order, with a quorum
//! certificate; every shard header names a final beacon block by hash, height and epoch; the
//! crosslink RPC refuses malformed queries with a clear message.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::node::*;

const EPOCH: u64 = 8;

fn network() -> DevNode {
    DevNode::start(&["--epoch-length", &EPOCH.to_string(), "--block-time", "200"])
}

fn number(value: &Value) -> u64 {
    u64::from_str_radix(value.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

fn block_at(node: &DevNode, height: u64) -> Value {
    node.result(
        "eth_getBlockByNumber",
        json!([format!("0x{height:x}"), false]),
    )
}

/// Crosslinks of shard 0 in every final beacon block, oldest first.
fn all_crosslinks(node: &DevNode) -> Vec<Value> {
    let mut out = Vec::new();
    let mut from = 0;
    loop {
        let to = from + 255;
        let links = node.result(
            "kaimeng_crosslinks",
            json!([{"fromHeight": from, "toHeight": to, "shard": 0}]),
        );
        out.extend(links.as_array().unwrap().iter().cloned());
        if node
            .result("kaimeng_getBeaconBlock", json!([to + 1]))
            .is_null()
        {
            return out;
        }
        from = to + 1;
    }
}

#[test]
fn every_final_shard_block_is_crosslinked_once_in_order_with_a_quorum_certificate() {
    let node = network();
    for nonce in 0..3 {
        let raw = signed_transfer(31337, nonce, alloy_primitives::Address::repeat_byte(7), 1);
        let hash = node.result("eth_sendRawTransaction", json!([raw]));
        node.receipt(hash.as_str().unwrap());
    }
    // Wait (bounded) until the crosslinks reach past two shard epochs.
    let deadline = Instant::now() + Duration::from_secs(60);
    let links = loop {
        let links = all_crosslinks(&node);
        if links
            .last()
            .is_some_and(|l| l["toHeight"].as_u64().unwrap() > 2 * EPOCH + 1)
        {
            break links;
        }
        assert!(
            Instant::now() < deadline,
            "crosslinks stopped at {:?}",
            links.last()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut next = 1;
    let mut beacon_height = 0;
    for link in &links {
        let (from, to) = (
            link["fromHeight"].as_u64().unwrap(),
            link["toHeight"].as_u64().unwrap(),
        );
        assert_eq!(
            from, next,
            "crosslinks skip or repeat a shard block: {link}"
        );
        assert!(to >= from, "{link}");
        // A run never spans two shard epochs.
        assert_eq!((from - 1) / EPOCH, (to - 1) / EPOCH, "{link}");
        assert_eq!(link["shardEpoch"].as_u64().unwrap(), (to - 1) / EPOCH);
        let headers = link["headers"].as_array().unwrap();
        assert_eq!(headers.len() as u64, to - from + 1);
        for (offset, hash) in headers.iter().enumerate() {
            assert_eq!(
                block_at(&node, from + offset as u64)["hash"],
                *hash,
                "crosslinked header {} differs from the shard's block",
                from + offset as u64
            );
        }
        // Four validators: a quorum is three distinct signers.
        let signers = link["signers"].as_array().unwrap();
        assert!(signers.len() >= 3, "{link}");
        let height = link["beaconHeight"].as_u64().unwrap();
        assert!(height >= beacon_height, "crosslinks out of beacon order");
        beacon_height = height;
        next = to + 1;
    }
}

#[test]
fn every_shard_header_names_a_final_beacon_block_by_hash_height_and_epoch() {
    let node = network();
    let deadline = Instant::now() + Duration::from_secs(60);
    while number(&node.result("eth_blockNumber", json!([]))) < EPOCH + 2 {
        assert!(Instant::now() < deadline, "shard 0 does not advance");
        std::thread::sleep(Duration::from_millis(50));
    }
    let head = number(&node.result("eth_blockNumber", json!([])));
    let mut last_reference = 0;
    for height in 1..=head {
        let block = block_at(&node, height);
        let extra = alloy_primitives::hex::decode(block["extraData"].as_str().unwrap()).unwrap();
        assert_eq!(&extra[..7], b"kaimeng", "{block}");
        let beacon_height = u64::from_be_bytes(extra[7..15].try_into().unwrap());
        let beacon_epoch = u64::from_be_bytes(extra[15..23].try_into().unwrap());
        let beacon = node.result("kaimeng_getBeaconBlock", json!([beacon_height]));
        assert_eq!(
            beacon["hash"], block["parentBeaconBlockRoot"],
            "shard block {height} names beacon block {beacon_height}"
        );
        assert!(
            beacon_height >= last_reference,
            "shard block {height} goes back on the beacon chain"
        );
        last_reference = beacon_height;
        // The epoch it names is the one that beacon height belongs to.
        let record = node.result("kaimeng_getBeaconEpoch", json!([beacon_epoch]));
        let next = node.result("kaimeng_getBeaconEpoch", json!([beacon_epoch + 1]));
        assert!(record["startHeight"].as_u64().unwrap() <= beacon_height.max(1));
        if !next.is_null() {
            assert!(beacon_height < next["startHeight"].as_u64().unwrap());
        }
        assert_eq!(
            number(&block["gasLimit"]),
            record["gasLimit"].as_u64().unwrap()
        );
    }
}

#[test]
fn malformed_crosslink_queries_are_refused_with_what_was_wrong() {
    let node = network();
    let error = |params: Value| {
        let response = node.rpc("kaimeng_crosslinks", params);
        assert_eq!(response["error"]["code"], json!(-32602), "{response}");
        response["error"]["message"].as_str().unwrap().to_owned()
    };
    assert!(error(json!([{"fromHeight": 5, "toHeight": 2}])).contains("after toHeight"));
    assert!(error(json!([{"fromHeight": 0, "toHeight": 10_000}])).contains("at most 256"));
    assert!(error(json!([{"shard": 9}])).contains("no shard 9"));
    assert!(error(json!([{"form": 1}])).contains("unknown field"));
    assert!(error(json!(["zero"])).contains("kaimeng_crosslinks takes one object"));
    let response = node.rpc("kaimeng_getBeaconBlock", json!(["x"]));
    assert_eq!(response["error"]["code"], json!(-32602), "{response}");
    // A height past the head is no block, not an error.
    assert!(
        node.result("kaimeng_getBeaconBlock", json!([1u64 << 40]))
            .is_null()
    );
    assert!(
        node.result("kaimeng_getBeaconEpoch", json!([1u64 << 40]))
            .is_null()
    );
}
