//! The methods indexers and simulators call (`debug_getRaw*`, `eth_getStorageValues`,
//! `eth_createAccessList`, `eth_simulateV1`, `txpool_contentFrom`, `txpool_inspect`) and the
//! execution-apis error codes (ADR 0090), through the node's real module over a shard on
//! RocksDB; results are checked against the spec's schemas (`spec_schema`).
//!
//! The fixture: block 1 deploys `COUNTER` (each call adds one to slot 0, logs the new value
//! with topic 0x2a and returns it; a call with calldata reverts with 0xdead), block 2 calls it
//! once (slot 0 = 1) and makes a legacy transfer; the pool holds one pending and one queued
//! transaction of account 3.

use std::sync::Arc;

use alloy_consensus::{
    Header, ReceiptEnvelope, SignableTransaction, TxEip1559, TxEnvelope, TxLegacy, proofs,
};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, address, hex};
use alloy_rlp::Decodable;
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use jsonrpsee::RpcModule;
use kaimeng_genesis::{DevOptions, GenesisSpec, dev_accounts};
use kaimeng_rpc::server::rpc_module;
use kaimeng_rpc::{DevSigner, RpcConfig};
use kaimeng_shards::ShardChain;
use serde_json::{Value, json};

use crate::spec_schema::assert_matches;

/// Runtime of the counter contract (see the module doc).
const COUNTER_RUNTIME: &str =
    "36601f57600054600101806000558060005250602a60206000a160206000f35b61dead60005260206000fd";

struct Node {
    runtime: tokio::runtime::Runtime,
    module: RpcModule<()>,
    chain: Arc<ShardChain>,
    keys: Vec<PrivateKeySigner>,
    counter: Address,
    /// Raw bytes of every transaction sent, by hash.
    raw: Vec<(B256, Vec<u8>)>,
    _dir: tempfile::TempDir,
}

fn sign_1559(
    key: &PrivateKeySigner,
    chain_id: u64,
    nonce: u64,
    to: TxKind,
    input: Vec<u8>,
) -> Vec<u8> {
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 200_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        value: U256::ZERO,
        access_list: Default::default(),
        input: input.into(),
    };
    let signature = key.sign_hash_sync(&tx.signature_hash()).unwrap();
    TxEnvelope::from(tx.into_signed(signature)).encoded_2718()
}

fn sign_legacy(
    key: &PrivateKeySigner,
    chain_id: u64,
    nonce: u64,
    to: Address,
    value: u64,
) -> Vec<u8> {
    let tx = TxLegacy {
        chain_id: Some(chain_id),
        nonce,
        gas_price: 10_000_000_000,
        gas_limit: 21_000,
        to: TxKind::Call(to),
        value: U256::from(value),
        input: Default::default(),
    };
    let signature = key.sign_hash_sync(&tx.signature_hash()).unwrap();
    TxEnvelope::from(tx.into_signed(signature)).encoded_2718()
}

impl Node {
    fn new() -> Node {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let genesis = GenesisSpec::dev(&DevOptions {
            validators: 1,
            ..DevOptions::default()
        });
        let store = kaimeng_shards::open_store(dir.path(), &Default::default()).unwrap();
        let chain = Arc::new(ShardChain::open(store, &genesis, 0).unwrap());
        let chain_id = chain.config().chain_id;
        let accounts = dev_accounts(4);
        let keys: Vec<PrivateKeySigner> = accounts
            .iter()
            .map(|a| PrivateKeySigner::from_bytes(&a.private_key).unwrap())
            .collect();
        let mut raw = Vec::new();
        let mut submit = |bytes: Vec<u8>| {
            let hash = chain.submit_raw(&bytes).expect("fixture transaction");
            raw.push((hash, bytes));
        };
        let runtime_code = hex::decode(COUNTER_RUNTIME).unwrap();
        let mut init = vec![
            0x60,
            runtime_code.len() as u8,
            0x80,
            0x60,
            0x0b,
            0x60,
            0x00,
            0x39,
            0x60,
            0x00,
            0xf3,
        ];
        init.extend_from_slice(&runtime_code);
        submit(sign_1559(&keys[0], chain_id, 0, TxKind::Create, init));
        let counter = keys[0].address().create(0);
        let seal = |at: u64| {
            let proposed = chain.propose(at, keys[2].address(), 1_000).unwrap();
            chain.finalize(proposed).unwrap()
        };
        seal(1);
        submit(sign_1559(
            &keys[0],
            chain_id,
            1,
            TxKind::Call(counter),
            vec![],
        ));
        submit(sign_legacy(&keys[1], chain_id, 0, keys[2].address(), 5));
        let block2 = seal(2);
        assert_eq!(
            block2.txs.len(),
            2,
            "block 2 holds the call and the transfer"
        );
        // Pooled: account 3's nonce 0 is pending, its nonce 5 is queued (a gap).
        submit(sign_legacy(&keys[3], chain_id, 0, keys[0].address(), 7));
        submit(sign_legacy(&keys[3], chain_id, 5, keys[0].address(), 9));
        let config = RpcConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            limits: Default::default(),
            dev_signer: DevSigner::new(&accounts.iter().map(|a| a.private_key).collect::<Vec<_>>()),
            fee_recipient: keys[2].address(),
            status: kaimeng_rpc::node_status::standalone(),
        };
        let module =
            runtime.block_on(async { rpc_module(chain.clone(), &config).expect("module") });
        Node {
            runtime,
            module,
            chain,
            keys,
            counter,
            raw,
            _dir: dir,
        }
    }

    /// The whole response object of `method(params)`.
    fn request(&self, method: &str, params: Value) -> Value {
        let text =
            json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
        let (response, _) = self
            .runtime
            .block_on(self.module.raw_json_request(&text, 1))
            .expect("a JSON-RPC request");
        serde_json::from_str(response.get()).unwrap()
    }

    fn ok(&self, method: &str, params: Value) -> Value {
        let response = self.request(method, params.clone());
        assert!(
            response.get("error").is_none(),
            "{method}({params}) failed: {response}"
        );
        response["result"].clone()
    }

    /// The error of `method(params)`: (code, message).
    fn err(&self, method: &str, params: Value) -> (i64, String) {
        let response = self.request(method, params.clone());
        let error = response
            .get("error")
            .unwrap_or_else(|| panic!("{method}({params}) did not fail: {response}"));
        (
            error["code"].as_i64().unwrap(),
            format!(
                "{} {}",
                error["message"],
                error.get("data").unwrap_or(&Value::Null)
            ),
        )
    }

    fn raw_of(&self, hash: B256) -> &[u8] {
        &self.raw.iter().find(|(h, _)| *h == hash).unwrap().1
    }
}

fn bytes(value: &Value) -> Vec<u8> {
    hex::decode(value.as_str().expect("a hex string")).unwrap()
}

fn word(n: u64) -> String {
    format!("{:#066x}", n)
}

// ---- debug_getRaw* ----------------------------------------------------------------------------

#[test]
fn raw_header_and_block_decode_to_the_blocks_served() {
    let node = Node::new();
    for tag in [
        json!("0x0"),
        json!("0x1"),
        json!("0x2"),
        json!("latest"),
        json!("earliest"),
    ] {
        let served = node.ok("eth_getBlockByNumber", json!([tag, false]));
        let header = Header::decode(&mut &bytes(&node.ok("debug_getRawHeader", json!([tag])))[..])
            .expect("RLP header");
        assert_eq!(
            format!("{:#x}", header.hash_slow()),
            served["hash"],
            "{tag}"
        );
        let raw_block = bytes(&node.ok("debug_getRawBlock", json!([tag])));
        let block =
            alloy_consensus::Block::<TxEnvelope>::decode(&mut &raw_block[..]).expect("RLP block");
        assert_eq!(block.header, header, "{tag}: the block's header");
        let hashes: Vec<String> = block
            .body
            .transactions
            .iter()
            .map(|tx| format!("{:#x}", tx.tx_hash()))
            .collect();
        assert_eq!(json!(hashes), served["transactions"], "{tag}: transactions");
        assert_eq!(
            proofs::calculate_transaction_root(&block.body.transactions),
            header.transactions_root,
            "{tag}: transactions root"
        );
        assert_eq!(block.body.withdrawals.as_ref().map(|w| w.len()), Some(0));
    }
    // By hash too (geth takes a number, a tag or a hash).
    let hash = node.chain.header(1).unwrap().unwrap().hash;
    assert_eq!(
        node.ok("debug_getRawHeader", json!([hash])),
        node.ok("debug_getRawHeader", json!(["0x1"]))
    );
}

#[test]
fn raw_receipts_are_the_eip2718_receipts_of_the_block() {
    let node = Node::new();
    let raw = node.ok("debug_getRawReceipts", json!(["0x2"]));
    assert_matches("RawReceipts", &raw);
    let receipts: Vec<ReceiptEnvelope> = raw
        .as_array()
        .unwrap()
        .iter()
        .map(|r| ReceiptEnvelope::decode_2718(&mut &bytes(r)[..]).expect("EIP-2718 receipt"))
        .collect();
    let served = node.ok("eth_getBlockReceipts", json!(["0x2"]));
    assert_eq!(receipts.len(), 2);
    for (receipt, json) in receipts.iter().zip(served.as_array().unwrap()) {
        assert_eq!(
            format!("{:#x}", receipt.cumulative_gas_used()),
            json["cumulativeGasUsed"]
        );
        assert_eq!(receipt.logs().len(), json["logs"].as_array().unwrap().len());
        assert_eq!(format!("{:#x}", receipt.tx_type() as u8), json["type"]);
    }
    let mut kinds: Vec<u8> = receipts.iter().map(|r| r.tx_type() as u8).collect();
    kinds.sort();
    assert_eq!(kinds, [0, 2], "a legacy and an EIP-1559 receipt");
    let header = node.chain.header(2).unwrap().unwrap().header;
    assert_eq!(
        proofs::calculate_receipt_root(&receipts),
        header.receipts_root
    );
    assert_eq!(node.ok("debug_getRawReceipts", json!(["0x0"])), json!([]));
}

#[test]
fn raw_transactions_are_the_bytes_that_were_sent() {
    let node = Node::new();
    for (hash, raw) in &node.raw {
        assert_eq!(
            bytes(&node.ok("debug_getRawTransaction", json!([hash]))),
            *raw,
            "{hash}"
        );
    }
    let pooled = node.raw.last().unwrap().0;
    assert_eq!(
        node.raw_of(pooled),
        &bytes(&node.ok("debug_getRawTransaction", json!([pooled])))[..]
    );
    // geth answers an unknown hash with empty bytes.
    assert_eq!(
        node.ok("debug_getRawTransaction", json!([B256::repeat_byte(7)])),
        json!("0x")
    );
}

#[test]
fn raw_methods_refuse_missing_blocks_and_malformed_params() {
    let node = Node::new();
    for method in [
        "debug_getRawHeader",
        "debug_getRawBlock",
        "debug_getRawReceipts",
    ] {
        let (code, message) = node.err(method, json!(["0x64"]));
        assert_eq!(
            (code, message.contains("header not found")),
            (-32000, true),
            "{method}"
        );
        let (code, _) = node.err(method, json!([B256::repeat_byte(9)]));
        assert_eq!(code, -32000, "{method} of an unknown hash");
        let (code, _) = node.err(method, json!(["2"]));
        assert_eq!(code, -32602, "{method} with a number without 0x");
    }
    let (code, _) = node.err("debug_getRawTransaction", json!(["0x1234"]));
    assert_eq!(code, -32602);
    // The execution-apis test: a hash without its 0x prefix is invalid params.
    let unprefixed = "1000000000000000000000000000000000000000000000000000000000000001";
    let (code, message) = node.err("debug_getRawTransaction", json!([unprefixed]));
    assert_eq!(
        (code, message.contains("without 0x")),
        (-32602, true),
        "{message}"
    );
}

// ---- txpool ------------------------------------------------------------------------------------

#[test]
fn txpool_content_from_and_inspect_show_one_sender_and_one_line_per_tx() {
    let node = Node::new();
    let sender = node.keys[3].address();
    let from = node.ok("txpool_contentFrom", json!([sender]));
    assert_matches("TxpoolContentFromResult", &from);
    let pending = from["pending"].as_object().unwrap();
    let queued = from["queued"].as_object().unwrap();
    assert_eq!(pending.keys().collect::<Vec<_>>(), ["0"]);
    assert_eq!(queued.keys().collect::<Vec<_>>(), ["5"]);
    assert_eq!(pending["0"]["value"], "0x7");
    assert_eq!(queued["5"]["value"], "0x9");
    assert_eq!(pending["0"]["blockHash"], Value::Null);
    let nobody = node.ok("txpool_contentFrom", json!([node.keys[0].address()]));
    assert_eq!(nobody, json!({"pending": {}, "queued": {}}));

    let inspect = node.ok("txpool_inspect", json!([]));
    let to = node.keys[0].address().to_checksum(None);
    let line = |value: u64| format!("{to}: {value} wei + 21000 gas × 10000000000 wei");
    let key = format!("{sender:#x}");
    assert_eq!(inspect["pending"][&key]["0"], json!(line(7)), "{inspect}");
    assert_eq!(inspect["queued"][&key]["5"], json!(line(9)), "{inspect}");
    let (code, _) = node.err("txpool_contentFrom", json!(["0x12"]));
    assert_eq!(code, -32602);
}

// ---- eth_getStorageValues and storage keys -----------------------------------------------------

#[test]
fn storage_values_read_many_slots_at_a_block() {
    let node = Node::new();
    let counter = node.counter;
    let stranger = address!("c1cadaffffffffffffffffffffffffffffffffff");
    let request = json!({counter.to_string(): ["0x0", "0x1"], stranger.to_string(): [word(1)]});
    let latest = node.ok("eth_getStorageValues", json!([request, "latest"]));
    assert_matches("StorageValues", &latest);
    let of = |result: &Value, address: Address| {
        let object = result.as_object().unwrap();
        object
            .iter()
            .find(|(k, _)| k.parse::<Address>().unwrap() == address)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{address} missing from {result}"))
    };
    assert_eq!(of(&latest, counter), json!([word(1), word(0)]));
    assert_eq!(of(&latest, stranger), json!([word(0)]));
    // Block 1 is before the call.
    let before = node.ok(
        "eth_getStorageValues",
        json!([{counter.to_string(): ["0x0"]}, "0x1"]),
    );
    assert_eq!(of(&before, counter), json!([word(0)]));
    // The block parameter defaults to latest and agrees with eth_getStorageAt.
    let default = node.ok(
        "eth_getStorageValues",
        json!([{counter.to_string(): ["0x0"]}]),
    );
    assert_eq!(
        of(&default, counter)[0],
        node.ok("eth_getStorageAt", json!([counter, "0x0"]))
    );

    let (code, message) = node.err("eth_getStorageValues", json!([{}, "latest"]));
    assert_eq!((code, message.contains("empty request")), (-32602, true));
    let long = format!("0x{}", "0".repeat(65));
    let (code, message) = node.err(
        "eth_getStorageValues",
        json!([{counter.to_string(): [long]}]),
    );
    assert_eq!(
        (code, message.contains("too long")),
        (-32602, true),
        "{message}"
    );
    let (code, _) = node.err(
        "eth_getStorageValues",
        json!([{counter.to_string(): ["0x0"]}, "0x64"]),
    );
    assert_eq!(code, -32000);
    let many: Vec<String> = (0..1025).map(word).collect();
    let (code, message) = node.err("eth_getStorageValues", json!([{counter.to_string(): many}]));
    assert_eq!(
        (code, message.contains("1024")),
        (-32005, true),
        "{message}"
    );
}

#[test]
fn storage_keys_longer_than_32_bytes_or_not_hex_are_invalid_params() {
    let node = Node::new();
    let counter = node.counter;
    let long = format!("0x{}", "0".repeat(65));
    for method in ["eth_getStorageAt"] {
        let (code, message) = node.err(method, json!([counter, long, "latest"]));
        assert_eq!(code, -32602, "{method}: {message}");
        assert!(message.contains("storage key too long"), "{message}");
        let (code, message) = node.err(method, json!([counter, "0xasdf", "latest"]));
        assert_eq!(
            (code, message.contains("invalid hex")),
            (-32602, true),
            "{message}"
        );
    }
    let (code, _) = node.err("eth_getProof", json!([counter, [long], "latest"]));
    assert_eq!(code, -32602);
    // 64 digits with leading zeros, short keys and odd lengths are all slot 0.
    for key in [
        word(0),
        "0x0".to_string(),
        "0x".to_string(),
        "0x000".to_string(),
    ] {
        assert_eq!(
            node.ok("eth_getStorageAt", json!([counter, key])),
            json!(word(1)),
            "{key}"
        );
    }
}

// ---- error codes for blocks that do not exist (ADR 0090) ---------------------------------------

#[test]
fn get_logs_refuses_reversed_and_future_ranges_and_unknown_hashes() {
    let node = Node::new();
    let (code, message) = node.err(
        "eth_getLogs",
        json!([{"fromBlock": "0x2", "toBlock": "0x1"}]),
    );
    assert_eq!(
        (code, message.contains("invalid block range")),
        (-32602, true),
        "{message}"
    );
    // Reversed beyond the head too (this used to be clamped into an empty answer).
    let (code, _) = node.err(
        "eth_getLogs",
        json!([{"fromBlock": "0x32", "toBlock": "0x2f"}]),
    );
    assert_eq!(code, -32602);
    let (code, message) = node.err(
        "eth_getLogs",
        json!([{"fromBlock": "0x1", "toBlock": "0x38"}]),
    );
    assert_eq!(
        (code, message.contains("beyond current head")),
        (-32602, true),
        "{message}"
    );
    let (code, _) = node.err("eth_getLogs", json!([{"fromBlock": "0x5"}]));
    assert_eq!(code, -32602, "fromBlock past the head, toBlock latest");
    let (code, _) = node.err("eth_getLogs", json!([{"blockHash": B256::repeat_byte(3)}]));
    assert_eq!(code, -32000);
    // A valid range still answers.
    let logs = node.ok(
        "eth_getLogs",
        json!([{"fromBlock": "0x0", "toBlock": "latest"}]),
    );
    assert_eq!(logs.as_array().unwrap().len(), 1);
    assert_matches("Log", &logs[0]);
}

#[test]
fn missing_blocks_are_null_for_getters_and_header_not_found_for_state() {
    let node = Node::new();
    let unknown = B256::repeat_byte(0xde);
    let someone = node.keys[0].address();
    for (method, params) in [
        ("eth_getBlockByNumber", json!(["0x3e8", true])),
        ("eth_getBlockByHash", json!([unknown, true])),
        ("eth_getBlockReceipts", json!(["0x3e8"])),
        ("eth_getTransactionByHash", json!([unknown])),
        ("eth_getTransactionReceipt", json!([unknown])),
        ("eth_getBlockTransactionCountByNumber", json!(["0x3e8"])),
    ] {
        assert_eq!(node.ok(method, params), Value::Null, "{method}");
    }
    let call = json!({"from": someone, "to": node.counter});
    for (method, params) in [
        ("eth_getBalance", json!([someone, "0x3e8"])),
        ("eth_getBalance", json!([someone, unknown])),
        ("eth_getBalance", json!([someone, {"blockHash": unknown}])),
        ("eth_getCode", json!([someone, "0x3e8"])),
        ("eth_getTransactionCount", json!([someone, "0x3e8"])),
        ("eth_getStorageAt", json!([someone, "0x0", "0x3e8"])),
        ("eth_call", json!([call, {"blockHash": unknown}])),
        ("eth_call", json!([call, "0x3e8"])),
        ("eth_estimateGas", json!([call, "0x3e8"])),
        ("eth_createAccessList", json!([call, "0x3e8"])),
        (
            "eth_simulateV1",
            json!([{"blockStateCalls": [{}]}, "0x3e8"]),
        ),
    ] {
        let (code, message) = node.err(method, params.clone());
        assert_eq!(code, -32000, "{method}({params}): {message}");
        assert!(message.contains("header not found"), "{method}: {message}");
    }
    // Malformed numbers and hashes are invalid params.
    for (method, params) in [
        ("eth_getBalance", json!([someone, "2"])),
        ("eth_getBalance", json!([someone, {"blockHash": "0x1234"}])),
        ("eth_getBlockByNumber", json!(["0x", false])),
        ("eth_getBlockByHash", json!(["0x1234", false])),
    ] {
        let (code, _) = node.err(method, params.clone());
        assert_eq!(code, -32602, "{method}({params})");
    }
}

// ---- eth_createAccessList ----------------------------------------------------------------------

#[test]
fn create_access_list_finds_the_slots_and_the_gas_with_them() {
    let node = Node::new();
    let from = node.keys[1].address();
    // The caller and the callee are warm anyway, so only the slot is listed, as geth does.
    let result = node.ok(
        "eth_createAccessList",
        json!([{"from": from, "to": node.counter}, "latest"]),
    );
    assert_matches("AccessListResult", &result);
    assert_eq!(
        result["accessList"],
        json!([{"address": node.counter, "storageKeys": [word(0)]}]),
        "{result}"
    );
    assert!(result.get("error").is_none());
    // The gas is what the call uses with that list attached: a simulation of it agrees.
    let with_list = json!({"from": from, "to": node.counter, "accessList": result["accessList"]});
    let simulated = node.ok(
        "eth_simulateV1",
        json!([{"blockStateCalls": [{"calls": [with_list]}]}, "latest"]),
    );
    assert_eq!(result["gasUsed"], simulated[0]["calls"][0]["gasUsed"]);
    // A contract that calls the counter: the counter and its slot are listed.
    let proxy = address!("00000000000000000000000000000000000c0de1");
    // CALL(gas, counter, 0, 0, 0, 0, 0), then stop.
    let mut code = vec![
        0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x73,
    ];
    code.extend_from_slice(node.counter.as_slice());
    code.extend_from_slice(&[0x5a, 0xf1, 0x00]);
    let overrides = json!({proxy.to_string(): {"code": Bytes::from(code)}});
    let result = node.ok(
        "eth_createAccessList",
        json!([{"from": from, "to": proxy}, "latest", overrides.clone()]),
    );
    // eth_call with the same code override runs the code (a code override of an account that
    // did not exist used to run empty code): the proxy's CALL leaves the counter's answer.
    let returned = node.ok(
        "eth_estimateGas",
        json!([{"from": from, "to": proxy}, "latest", overrides]),
    );
    assert_ne!(returned, json!("0x5208"), "the overridden code ran");
    assert_eq!(
        result["accessList"],
        json!([{"address": node.counter, "storageKeys": [word(0)]}]),
        "{result}"
    );
    // A reverting call still answers, with the error.
    let reverting = node.ok(
        "eth_createAccessList",
        json!([{"from": from, "to": node.counter, "input": "0x01"}]),
    );
    assert_matches("AccessListResult", &reverting);
    assert_eq!(reverting["error"], "execution reverted", "{reverting}");
    // A plain transfer needs nothing.
    let transfer = node.ok(
        "eth_createAccessList",
        json!([{"from": from, "to": node.keys[2].address(), "value": "0x1"}]),
    );
    assert_eq!(transfer, json!({"accessList": [], "gasUsed": "0x5208"}));
}

// ---- eth_simulateV1 ----------------------------------------------------------------------------

#[test]
fn simulate_chains_blocks_and_calls_on_top_of_the_head() {
    let node = Node::new();
    let (c0, c1, c2) = (
        address!("c000000000000000000000000000000000000000"),
        address!("c100000000000000000000000000000000000000"),
        address!("c200000000000000000000000000000000000000"),
    );
    let head = node.chain.head();
    let payload = json!({"blockStateCalls": [
        {"stateOverrides": {c0.to_string(): {"balance": "0x3e8"}},
         "calls": [{"from": c0, "to": c1, "value": "0x3e8"},
                   {"from": node.keys[1].address(), "to": node.counter},
                   {"from": node.keys[1].address(), "to": node.counter}]},
        {"calls": [{"from": c1, "to": c2, "value": "0x3e8"},
                   {"from": c1, "to": node.counter, "input": "0x01"}]}
    ]});
    let result = node.ok("eth_simulateV1", json!([payload, "latest"]));
    assert_matches("EthSimulateResult", &result);
    let blocks = result.as_array().unwrap();
    assert_eq!(blocks.len(), 2);
    assert_eq!(
        blocks[0]["number"],
        json!(format!("{:#x}", head.number() + 1))
    );
    assert_eq!(
        blocks[1]["number"],
        json!(format!("{:#x}", head.number() + 2))
    );
    assert_eq!(blocks[0]["parentHash"], json!(head.hash));
    assert_eq!(blocks[1]["parentHash"], blocks[0]["hash"]);
    assert_eq!(
        blocks[0]["timestamp"],
        json!(format!("{:#x}", head.header.timestamp + 1))
    );
    let calls = blocks[0]["calls"].as_array().unwrap();
    assert_eq!(calls[0]["status"], "0x1");
    assert_eq!(calls[0]["gasUsed"], "0x5208");
    // The counter was 1; the two calls see each other's writes.
    assert_eq!(calls[1]["returnData"], json!(word(2)));
    assert_eq!(calls[2]["returnData"], json!(word(3)));
    let log = &calls[2]["logs"][0];
    assert_eq!(
        log["address"].as_str().unwrap().parse::<Address>().unwrap(),
        node.counter
    );
    assert_eq!(log["topics"], json!([word(0x2a)]));
    assert_eq!(log["blockHash"], blocks[0]["hash"]);
    assert_eq!(log["transactionHash"], blocks[0]["transactions"][2]);
    assert_eq!(log["logIndex"], "0x1");
    // The second block spends what the first gave c1, and a revert carries its data.
    let calls = blocks[1]["calls"].as_array().unwrap();
    assert_eq!(calls[0]["status"], "0x1", "{result}");
    assert_eq!(calls[1]["status"], "0x0");
    assert_eq!(calls[1]["error"]["code"], 3);
    assert_eq!(calls[1]["returnData"], json!(word(0xdead)));
    let gas: u64 = blocks[1]["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            u64::from_str_radix(c["gasUsed"].as_str().unwrap().trim_start_matches("0x"), 16)
                .unwrap()
        })
        .sum();
    assert_eq!(blocks[1]["gasUsed"], json!(format!("{gas:#x}")));
    // Nothing was written.
    assert_eq!(node.chain.head(), head);
    assert_eq!(
        node.ok("eth_getStorageAt", json!([node.counter, "0x0"])),
        json!(word(1))
    );
    assert_eq!(node.ok("eth_getBalance", json!([c1])), "0x0");
}

#[test]
fn simulate_overrides_full_transactions_and_transfer_logs() {
    let node = Node::new();
    let c0 = address!("c000000000000000000000000000000000000000");
    let c1 = address!("c100000000000000000000000000000000000000");
    let payload = json!({
        "blockStateCalls": [
            {"blockOverrides": {"number": "0x10", "time": "0x100000", "baseFeePerGas": "0x7",
                                "feeRecipient": c1, "gasLimit": "0x2000000"},
             "stateOverrides": {c0.to_string(): {"balance": "0xde0b6b3a7640000"},
                                node.counter.to_string(): {"stateDiff": {word(0): word(41)}}},
             "calls": [{"from": c0, "to": c1, "value": "0x5", "maxFeePerGas": "0x10", "maxPriorityFeePerGas": "0x1"},
                       {"from": c0, "to": node.counter, "maxFeePerGas": "0x10"}]}
        ],
        "traceTransfers": true,
        "validation": true,
        "returnFullTransactions": true
    });
    let result = node.ok("eth_simulateV1", json!([payload]));
    assert_matches("EthSimulateResult", &result);
    let head = node.chain.head().number();
    // Numbers head+1 ..= 0x0f are filled with empty blocks.
    let blocks = result.as_array().unwrap();
    assert_eq!(blocks.len() as u64, 0x10 - head);
    let block = blocks.last().unwrap();
    assert_eq!(block["number"], "0x10");
    assert_eq!(block["timestamp"], "0x100000");
    assert_eq!(block["baseFeePerGas"], "0x7");
    assert_eq!(block["gasLimit"], "0x2000000");
    assert_eq!(
        block["miner"].as_str().unwrap().parse::<Address>().unwrap(),
        c1
    );
    assert!(
        blocks[..blocks.len() - 1]
            .iter()
            .all(|b| b["calls"] == json!([]))
    );
    let txs = block["transactions"].as_array().unwrap();
    assert_eq!(
        txs[0]["from"].as_str().unwrap().parse::<Address>().unwrap(),
        c0
    );
    assert_eq!(txs[0]["nonce"], "0x0");
    assert_eq!(
        txs[1]["nonce"], "0x1",
        "nonces default to the sender's next one"
    );
    let calls = block["calls"].as_array().unwrap();
    // traceTransfers: the value transfer is an ERC-20 Transfer log from 0xeee...e.
    let transfer = &calls[0]["logs"][0];
    assert_eq!(
        transfer["address"].as_str().unwrap().to_lowercase(),
        format!("0x{}", "e".repeat(40))
    );
    assert_eq!(
        transfer["topics"][0],
        "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
    );
    assert_eq!(transfer["data"], json!(word(5)));
    // The stateDiff override set the counter to 41.
    assert_eq!(calls[1]["returnData"], json!(word(42)));
}

#[test]
fn simulate_refuses_what_the_spec_refuses_with_its_codes() {
    let node = Node::new();
    let c0 = address!("c000000000000000000000000000000000000000");
    let c1 = address!("c100000000000000000000000000000000000000");
    let one = |calls: Value, extra: Value| {
        let mut payload = json!({"blockStateCalls": [{"calls": calls}]});
        payload
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!([payload, "latest"])
    };
    let cases: Vec<(i64, Value)> = vec![
        // Not enough balance for the value.
        (
            -38014,
            one(json!([{"from": c0, "to": c1, "value": "0x3e8"}]), json!({})),
        ),
        // Validation: the nonce must be the sender's (fees high enough to pass the base fee).
        (
            -38011,
            one(
                json!([{"from": node.keys[0].address(), "to": c1, "nonce": "0x5", "maxFeePerGas": "0x174876e800"}]),
                json!({"validation": true}),
            ),
        ),
        (
            -38010,
            one(
                json!([{"from": node.keys[0].address(), "to": c1, "nonce": "0x0", "maxFeePerGas": "0x174876e800"}]),
                json!({"validation": true}),
            ),
        ),
        // Validation: a fee below the base fee.
        (
            -38012,
            json!([{"blockStateCalls": [{"blockOverrides": {"baseFeePerGas": "0xa"},
            "calls": [{"from": node.keys[0].address(), "to": c1, "maxFeePerGas": "0x1"}]}], "validation": true}]),
        ),
        (
            -38013,
            one(
                json!([{"from": node.keys[0].address(), "to": c1, "gas": "0x0"}]),
                json!({}),
            ),
        ),
        (
            -38015,
            json!([{"blockStateCalls": [{"blockOverrides": {"gasLimit": "0x5208"},
            "calls": [{"from": c0, "to": c1}, {"from": c0, "to": c1, "gas": "0x5208"}]}]}]),
        ),
        (
            -38020,
            json!([{"blockStateCalls": [{"blockOverrides": {"number": "0x9a"}}, {"blockOverrides": {"number": "0x90"}}]}]),
        ),
        (
            -38021,
            json!([{"blockStateCalls": [{"blockOverrides": {"time": "0x300"}}, {"blockOverrides": {"time": "0x200"}}]}]),
        ),
        (-38026, json!([{"blockStateCalls": vec![json!({}); 257]}])),
        (
            -38026,
            json!([{"blockStateCalls": [{"blockOverrides": {"number": "0x1000"}}]}]),
        ),
        (
            -32602,
            json!([{"blockStateCalls": [{"stateOverrides": {c0.to_string(): {"movePrecompileToAddress": c1}}}]}]),
        ),
        (-32602, json!([{"blockStateCalls": "nope"}])),
    ];
    for (expected, params) in cases {
        let (code, message) = node.err("eth_simulateV1", params.clone());
        assert_eq!(code, expected, "{params}: {message}");
    }
    // A halting call is a failed call, not a failed request.
    let halting = node.ok(
        "eth_simulateV1",
        json!([{"blockStateCalls": [{"stateOverrides": {c1.to_string(): {"code": "0xfe"}},
            "calls": [{"from": c0, "to": c1, "gas": "0x10000"}]}]}]),
    );
    assert_matches("EthSimulateResult", &halting);
    assert_eq!(halting[0]["calls"][0]["status"], "0x0");
    assert_eq!(halting[0]["calls"][0]["error"]["code"], -32015);
    assert_eq!(halting[0]["calls"][0]["gasUsed"], "0x10000");
}
