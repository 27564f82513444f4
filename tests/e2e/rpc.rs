//! The standard methods answer as Ethereum clients expect.

use serde_json::json;

use crate::node::*;

#[test]
fn identity_methods_answer() {
    let node = DevNode::start(&[]);
    assert_eq!(node.result("eth_chainId", json!([])), json!("0x7a69"));
    assert_eq!(node.result("net_version", json!([])), json!("31337"));
    assert_eq!(node.result("net_listening", json!([])), json!(true));
    assert_eq!(node.result("eth_syncing", json!([])), json!(false));
    assert!(
        node.result("web3_clientVersion", json!([]))
            .as_str()
            .unwrap()
            .starts_with("kaimeng/")
    );
    assert_eq!(
        node.result("web3_sha3", json!(["0x68656c6c6f20776f726c64"])),
        json!("0x47173285a8d7341e5e972fc677286384f802f8ef42a5ec5f03bbfa254cb01fad")
    );
    let accounts = node.result("eth_accounts", json!([]));
    assert_eq!(accounts.as_array().unwrap().len(), 10);
}

#[test]
fn a_sent_transaction_is_mined_with_a_receipt_and_indexed() {
    let node = DevNode::start(&[]);
    let to = "0x00000000000000000000000000000000000000aa";
    let raw = signed_transfer(31337, 0, to.parse().unwrap(), 12345);
    let hash = node.result("eth_sendRawTransaction", json!([raw]));
    let receipt = node.receipt(hash.as_str().unwrap());
    assert_eq!(receipt["status"], json!("0x1"));
    assert_eq!(receipt["gasUsed"], json!("0x5208"));
    assert_eq!(
        node.result("eth_getBalance", json!([to, "latest"])),
        json!("0x3039")
    );
    let block = node.result(
        "eth_getBlockByNumber",
        json!([receipt["blockNumber"], true]),
    );
    assert_eq!(block["transactions"][0]["hash"], hash);
    assert_eq!(
        node.result("eth_getTransactionByHash", json!([hash]))["blockHash"],
        block["hash"]
    );
    assert_eq!(
        node.result("eth_getBlockTransactionCountByHash", json!([block["hash"]])),
        json!("0x1")
    );
    assert_eq!(
        node.result(
            "eth_getTransactionCount",
            json!(["0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "pending"])
        ),
        json!("0x1")
    );
    let receipts = node.result("eth_getBlockReceipts", json!([receipt["blockNumber"]]));
    assert_eq!(receipts[0]["transactionHash"], hash);
}

#[test]
fn eth_send_transaction_signs_with_dev_keys() {
    let node = DevNode::start(&[]);
    let from = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";
    let hash = node.result("eth_sendTransaction", json!([{"from": from, "to": "0x00000000000000000000000000000000000000bb", "value": "0x10"}]));
    let receipt = node.receipt(hash.as_str().unwrap());
    assert_eq!(receipt["from"], json!(from));
    let sig = node.result("eth_sign", json!([from, "0xdeadbeef"]));
    assert_eq!(sig.as_str().unwrap().len(), 2 + 130);
}
