//! A node stopped with SIGTERM or SIGKILL restarts from its data directory unchanged.

use serde_json::json;

use crate::node::*;

fn restart_keeps_everything(kill: bool) {
    let dir = temp_dir();
    let args = ["--data-dir", path_str(dir.path())];
    let mut node = DevNode::start(&args);
    let to: alloy_primitives::Address = "0x00000000000000000000000000000000000000cc"
        .parse()
        .unwrap();
    let mut hashes = Vec::new();
    for nonce in 0..5 {
        let raw = signed_transfer(31337, nonce, to, 1_000 + nonce);
        hashes.push(node.result("eth_sendRawTransaction", json!([raw])));
    }
    let last = node.receipt(hashes[4].as_str().unwrap());
    let head = node.result("eth_getBlockByNumber", json!(["latest", false]));
    let balance = node.result("eth_getBalance", json!([to, head["number"]]));
    if kill {
        node.kill()
    } else {
        node.terminate()
    }

    // Validators keep finalizing (empty blocks when idle), so compare the block we saw, not
    // whatever is latest now: it and everything before it must be back unchanged.
    let node = DevNode::start(&args);
    let again = node.result("eth_getBlockByNumber", json!([head["number"], false]));
    assert_eq!(again["hash"], head["hash"]);
    assert_eq!(again["stateRoot"], head["stateRoot"]);
    assert_eq!(
        node.result("eth_getBalance", json!([to, head["number"]])),
        balance
    );
    assert_eq!(
        node.result("eth_getTransactionReceipt", json!([hashes[4]])),
        last
    );
    // And it keeps going.
    let raw = signed_transfer(31337, 5, to, 1);
    let hash = node.result("eth_sendRawTransaction", json!([raw]));
    node.receipt(hash.as_str().unwrap());
}

#[test]
fn restart_after_sigterm() {
    restart_keeps_everything(false);
}

#[test]
fn restart_after_sigkill() {
    restart_keeps_everything(true);
}
