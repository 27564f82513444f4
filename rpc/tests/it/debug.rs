//! `debug_traceTransaction`, `debug_traceBlockByNumber`, `debug_traceBlockByHash` and
//! `debug_traceCall` through the node's RPC module on a real shard, with the `callTracer` and
//! the `prestateTracer`, over `tests/contracts/CallTree.sol` (CREATE, CALL with value,
//! DELEGATECALL and a caught revert in one transaction), and their errors.

use std::sync::Arc;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, hex, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use jsonrpsee::RpcModule;
use kaimeng_genesis::{DevOptions, GenesisSpec, dev_accounts};
use kaimeng_rpc::server::rpc_module;
use kaimeng_rpc::{DevSigner, RpcConfig};
use kaimeng_shards::{ShardChain, StoredBlock};
use serde_json::{Value, json};

struct Node {
    runtime: tokio::runtime::Runtime,
    module: RpcModule<()>,
    chain: Arc<ShardChain>,
    keys: Vec<PrivateKeySigner>,
    _dir: tempfile::TempDir,
}

fn artifact(name: &str) -> Value {
    let text = match name {
        "CallTree" => include_str!("../../../tests/contracts/out/CallTree.json"),
        "CallLeaf" => include_str!("../../../tests/contracts/out/CallLeaf.json"),
        _ => unreachable!(),
    };
    serde_json::from_str(text).unwrap()
}

fn code_of(name: &str, field: &str) -> Bytes {
    hex::decode(artifact(name)[field].as_str().unwrap())
        .unwrap()
        .into()
}

fn selector(signature: &str) -> [u8; 4] {
    keccak256(signature)[..4].try_into().unwrap()
}

/// `run(v)` of CallTree.
fn run_call(v: u64) -> Bytes {
    let mut data = selector("run(uint256)").to_vec();
    data.extend_from_slice(&U256::from(v).to_be_bytes::<32>());
    data.into()
}

fn set_call(v: u64) -> Bytes {
    let mut data = selector("set(uint256)").to_vec();
    data.extend_from_slice(&U256::from(v).to_be_bytes::<32>());
    data.into()
}

fn word(v: u64) -> Value {
    json!(format!(
        "0x{}",
        hex::encode(U256::from(v).to_be_bytes::<32>())
    ))
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
        let accounts = dev_accounts(4);
        let keys = accounts
            .iter()
            .map(|a| PrivateKeySigner::from_bytes(&a.private_key).unwrap())
            .collect();
        let config = RpcConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            limits: Default::default(),
            dev_signer: DevSigner::new(&[]),
            fee_recipient: Address::repeat_byte(9),
            status: kaimeng_rpc::node_status::standalone(),
        };
        let module = runtime.block_on(async { rpc_module(chain.clone(), &config).unwrap() });
        Node {
            runtime,
            module,
            chain,
            keys,
            _dir: dir,
        }
    }

    fn send(&self, from: usize, to: TxKind, value: u64, input: Bytes) -> B256 {
        let key = &self.keys[from];
        let tx = TxEip1559 {
            chain_id: self.chain.config().chain_id,
            nonce: self.chain.pending_nonce(&key.address()).unwrap(),
            gas_limit: 1_000_000,
            max_fee_per_gas: 10_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to,
            value: U256::from(value),
            access_list: Default::default(),
            input,
        };
        let signature = key.sign_hash_sync(&tx.signature_hash()).unwrap();
        let raw = TxEnvelope::from(tx.into_signed(signature)).encoded_2718();
        self.chain.submit_raw(&raw).unwrap()
    }

    fn seal(&self) -> Arc<StoredBlock> {
        let ts = self.chain.head().header.timestamp + 1;
        let proposed = self
            .chain
            .propose(ts, Address::repeat_byte(9), 100)
            .unwrap();
        self.chain.finalize(proposed).unwrap()
    }

    /// The result of `method`, or its error as (code, message).
    fn rpc(&self, method: &str, params: Value) -> Result<Value, (i64, String)> {
        let request = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let (response, _) = self
            .runtime
            .block_on(self.module.raw_json_request(&request.to_string(), 1))
            .unwrap();
        let response: Value = serde_json::from_str(response.get()).unwrap();
        match response.get("error") {
            Some(error) => Err((
                error["code"].as_i64().unwrap(),
                error["message"].as_str().unwrap().to_owned(),
            )),
            None => Ok(response["result"].clone()),
        }
    }

    fn address(&self, i: usize) -> Address {
        self.keys[i].address()
    }
}

/// A node where block 1 deploys CallTree and block 2 holds a transfer then `run(7)` with 5 wei.
struct Fixture {
    node: Node,
    tree: Address,
    leaf: Address,
    transfer: B256,
    run: B256,
    block: Arc<StoredBlock>,
}

fn fixture() -> Fixture {
    let node = Node::new();
    node.send(0, TxKind::Create, 0, code_of("CallTree", "bytecode"));
    let deployed = node.seal();
    let tree = deployed.receipts[0]
        .contract_address
        .expect("CallTree deployed");
    let leaf = tree.create(1);
    let transfer = node.send(1, TxKind::Call(node.address(2)), 1_000, Bytes::new());
    let run = node.send(0, TxKind::Call(tree), 5, run_call(7));
    let block = node.seal();
    assert_eq!(block.txs.len(), 2);
    assert!(block.receipts.iter().all(|r| r.envelope.status()));
    Fixture {
        node,
        tree,
        leaf,
        transfer,
        run,
        block,
    }
}

fn addr_json(a: Address) -> Value {
    json!(format!("{a:#x}"))
}

fn hex_json(bytes: &[u8]) -> Value {
    json!(format!("0x{}", hex::encode(bytes)))
}

/// The call tree `run(7)` with 5 wei makes, as geth's callTracer reports it.
fn check_run_frames(f: &Fixture, frame: &Value, from: Address) {
    assert_eq!(frame["type"], "CALL", "{frame:#}");
    assert_eq!(frame["from"], addr_json(from));
    assert_eq!(frame["to"], addr_json(f.tree));
    assert_eq!(frame["value"], "0x5");
    assert_eq!(frame["input"], hex_json(&run_call(7)));
    assert_eq!(frame["output"], word(1), "run returns caught = true");
    assert!(frame.get("error").is_none(), "{frame:#}");
    let calls = frame["calls"].as_array().expect("internal calls");
    assert_eq!(calls.len(), 4, "{frame:#}");

    let create = &calls[0];
    assert_eq!(create["type"], "CREATE");
    assert_eq!(create["from"], addr_json(f.tree));
    assert_eq!(create["to"], addr_json(f.leaf));
    assert_eq!(create["input"], hex_json(&code_of("CallLeaf", "bytecode")));
    assert_eq!(
        create["output"],
        hex_json(&code_of("CallLeaf", "deployedBytecode"))
    );

    let call = &calls[1];
    assert_eq!(call["type"], "CALL");
    assert_eq!(call["from"], addr_json(f.tree));
    assert_eq!(call["to"], addr_json(f.leaf));
    assert_eq!(call["value"], "0x5");
    assert_eq!(call["input"], hex_json(&set_call(7)));
    assert!(call.get("error").is_none());

    let delegate = &calls[2];
    assert_eq!(delegate["type"], "DELEGATECALL");
    assert_eq!(delegate["from"], addr_json(f.tree));
    assert_eq!(delegate["to"], addr_json(f.leaf));
    assert_eq!(delegate["input"], hex_json(&set_call(8)));
    assert!(delegate.get("error").is_none());

    let reverted = &calls[3];
    assert_eq!(reverted["type"], "CALL");
    assert_eq!(reverted["from"], addr_json(f.tree));
    assert_eq!(reverted["to"], addr_json(f.leaf));
    assert_eq!(reverted["input"], hex_json(&selector("fail()")));
    assert_eq!(reverted["error"], "execution reverted");
    assert_eq!(reverted["revertReason"], "CallLeaf: refused");

    for frame in calls {
        assert!(
            frame
                .get("calls")
                .is_none_or(|c| c.as_array().unwrap().is_empty()),
            "the leaf makes no calls: {frame:#}"
        );
        assert!(frame["gasUsed"].as_str().unwrap().starts_with("0x"));
    }
}

#[test]
fn trace_transaction_with_the_call_tracer_reports_every_internal_call() {
    let f = fixture();
    let frame = f
        .node
        .rpc(
            "debug_traceTransaction",
            json!([f.run, {"tracer": "callTracer", "tracerConfig": {"withLog": true}}]),
        )
        .unwrap();
    check_run_frames(&f, &frame, f.node.address(0));
    // The gas the trace reports is the receipt's.
    assert_eq!(
        frame["gasUsed"],
        json!(format!("{:#x}", f.block.receipts[1].gas_used))
    );
    // withLog: the Ran event on the top frame, as the receipt has it.
    let logs = frame["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 1);
    let receipt_log = &f.block.receipts[1].envelope.logs()[0];
    assert_eq!(logs[0]["address"], addr_json(receipt_log.address));
    assert_eq!(logs[0]["data"], hex_json(&receipt_log.data.data));

    // onlyTopCall leaves the internal calls out.
    let top = f
        .node
        .rpc(
            "debug_traceTransaction",
            json!([f.run, {"tracer": "callTracer", "tracerConfig": {"onlyTopCall": true}}]),
        )
        .unwrap();
    assert!(
        top.get("calls")
            .is_none_or(|c| c.as_array().unwrap().is_empty())
    );
    assert_eq!(top["gasUsed"], frame["gasUsed"]);
}

#[test]
fn trace_block_by_number_and_by_hash_list_every_transaction_in_order() {
    let f = fixture();
    let options = json!({"tracer": "callTracer"});
    let by_number = f
        .node
        .rpc(
            "debug_traceBlockByNumber",
            json!([format!("{:#x}", f.block.number()), options]),
        )
        .unwrap();
    let by_hash = f
        .node
        .rpc("debug_traceBlockByHash", json!([f.block.hash(), options]))
        .unwrap();
    let latest = f
        .node
        .rpc("debug_traceBlockByNumber", json!(["latest", options]))
        .unwrap();
    assert_eq!(by_number, by_hash);
    assert_eq!(by_number, latest);
    let traces = by_number.as_array().unwrap();
    assert_eq!(traces.len(), 2);
    assert_eq!(traces[0]["txHash"], json!(f.transfer));
    assert_eq!(traces[1]["txHash"], json!(f.run));
    let transfer = &traces[0]["result"];
    assert_eq!(transfer["type"], "CALL");
    assert_eq!(transfer["from"], addr_json(f.node.address(1)));
    assert_eq!(transfer["to"], addr_json(f.node.address(2)));
    assert_eq!(transfer["value"], "0x3e8");
    assert_eq!(transfer["gasUsed"], "0x5208");
    check_run_frames(&f, &traces[1]["result"], f.node.address(0));
    // Each entry is what debug_traceTransaction gives.
    let single = f
        .node
        .rpc("debug_traceTransaction", json!([f.run, options]))
        .unwrap();
    assert_eq!(traces[1]["result"], single);

    // A block with no transactions traces to an empty list.
    f.node.seal();
    let empty = f
        .node
        .rpc("debug_traceBlockByNumber", json!(["latest", options]))
        .unwrap();
    assert_eq!(empty, json!([]));
}

#[test]
fn the_prestate_tracer_reports_the_accounts_before_and_in_diff_mode_what_changed() {
    let f = fixture();
    let sender = f.node.address(0);
    let pre = f
        .node
        .rpc(
            "debug_traceTransaction",
            json!([f.run, {"tracer": "prestateTracer"}]),
        )
        .unwrap();
    let accounts = pre.as_object().unwrap();
    // The tree as it was: its code and nonce 1, before it created the leaf.
    let tree = &pre[format!("{:#x}", f.tree)];
    assert_eq!(
        tree["code"],
        hex_json(&code_of("CallTree", "deployedBytecode"))
    );
    assert_eq!(tree["nonce"], 1);
    // The sender before the transaction: its nonce after the deployment only.
    assert_eq!(pre[format!("{sender:#x}")]["nonce"], 1);
    // The leaf did not exist before: geth leaves it out.
    assert!(!accounts.contains_key(&format!("{:#x}", f.leaf)), "{pre:#}");

    let diff = f
        .node
        .rpc(
            "debug_traceTransaction",
            json!([f.run, {"tracer": "prestateTracer", "tracerConfig": {"diffMode": true}}]),
        )
        .unwrap();
    let leaf = format!("{:#x}", f.leaf);
    let tree = format!("{:#x}", f.tree);
    assert!(diff["pre"].get(&leaf).is_none(), "{diff:#}");
    let post_leaf = &diff["post"][&leaf];
    assert_eq!(post_leaf["balance"], "0x5");
    assert_eq!(
        post_leaf["code"],
        hex_json(&code_of("CallLeaf", "deployedBytecode"))
    );
    assert_eq!(post_leaf["storage"][B256::ZERO.to_string()], word(7));
    // The tree's slot 0 (stored, written by DELEGATECALL) and slot 1 (leaf) changed.
    let slot0 = B256::ZERO.to_string();
    let slot1 = B256::with_last_byte(1).to_string();
    assert_eq!(diff["post"][&tree]["storage"][&slot0], word(8));
    let leaf_word = json!(format!("{:#x}", B256::left_padding_from(f.leaf.as_slice())));
    assert_eq!(diff["post"][&tree]["storage"][&slot1], leaf_word);
    assert_eq!(diff["post"][&tree]["nonce"], 2);
    assert_eq!(diff["pre"][&tree]["nonce"], 1);
    assert_eq!(diff["post"][format!("{sender:#x}")]["nonce"], 2, "{diff:#}");
}

#[test]
fn trace_call_runs_a_call_on_a_blocks_state_with_state_overrides() {
    let f = fixture();
    let stranger = Address::repeat_byte(0x42);
    let request = json!({
        "from": stranger,
        "to": f.tree,
        "value": "0x5",
        "data": run_call(7),
    });
    // The stranger has nothing: with an override it can pay the 5 wei.
    let overridden = f
        .node
        .rpc(
            "debug_traceCall",
            json!([request, "latest", {
                "tracer": "callTracer",
                "stateOverrides": {format!("{stranger:#x}"): {"balance": "0xde0b6b3a7640000"}},
            }]),
        )
        .unwrap();
    let mut f_after = f;
    // After the block, the tree has made one leaf: the next is at nonce 2.
    f_after.leaf = f_after.tree.create(2);
    check_run_frames(&f_after, &overridden, stranger);

    // Without the override the value transfer cannot be paid.
    let refused = f_after
        .node
        .rpc(
            "debug_traceCall",
            json!([request, "latest", {"tracer": "callTracer"}]),
        )
        .unwrap_err();
    assert_eq!(refused.0, -32000, "{refused:?}");
    assert!(refused.1.contains("insufficient funds"), "{refused:?}");

    // On the state before the deployment (block 0) the tree has no code: no internal calls.
    let rich = f_after.node.address(3);
    let early = f_after
        .node
        .rpc(
            "debug_traceCall",
            json!([{"from": rich, "to": f_after.tree, "data": run_call(7)}, "0x0", {"tracer": "callTracer"}]),
        )
        .unwrap();
    assert!(
        early
            .get("calls")
            .is_none_or(|c| c.as_array().unwrap().is_empty())
    );
    assert!(early.get("output").is_none_or(|o| o == "0x"), "{early:#}");

    // The prestate tracer on a call: the tree as of the latest block.
    let pre = f_after
        .node
        .rpc(
            "debug_traceCall",
            json!([{"from": rich, "to": f_after.tree, "data": run_call(1)}, "latest", {"tracer": "prestateTracer"}]),
        )
        .unwrap();
    assert_eq!(pre[format!("{:#x}", f_after.tree)]["nonce"], 2);
    assert_eq!(
        pre[format!("{:#x}", f_after.tree)]["storage"][B256::ZERO.to_string()],
        word(8)
    );
}

#[test]
fn the_struct_logger_runs_when_no_tracer_is_named() {
    let f = fixture();
    let trace = f
        .node
        .rpc("debug_traceTransaction", json!([f.transfer]))
        .unwrap();
    assert_eq!(trace["failed"], false);
    assert_eq!(trace["gas"], 21_000);
    assert_eq!(trace["structLogs"], json!([]));
    let trace = f
        .node
        .rpc(
            "debug_traceTransaction",
            json!([f.run, {"disableStack": true}]),
        )
        .unwrap();
    let logs = trace["structLogs"].as_array().unwrap();
    assert!(logs.iter().any(|l| l["op"] == "DELEGATECALL"));
    assert!(logs.iter().any(|l| l["op"] == "CREATE"));
    assert!(logs.iter().all(|l| l.get("stack").is_none()));
}

#[test]
fn tracing_errors_name_what_is_wrong() {
    let f = fixture();
    let call = json!({"tracer": "callTracer"});
    let unknown = B256::repeat_byte(0xab);
    let (code, message) = f
        .node
        .rpc("debug_traceTransaction", json!([unknown, call]))
        .unwrap_err();
    assert_eq!(code, -32001);
    assert!(message.contains("not found"), "{message}");

    let beyond = format!("{:#x}", f.block.number() + 10);
    let (code, message) = f
        .node
        .rpc("debug_traceBlockByNumber", json!([beyond, call]))
        .unwrap_err();
    assert_eq!(code, -32000);
    assert!(message.contains("not found"), "{message}");
    let (code, message) = f
        .node
        .rpc("debug_traceBlockByHash", json!([unknown, call]))
        .unwrap_err();
    assert_eq!(code, -32000);
    assert!(message.contains("not found"), "{message}");
    let (code, _) = f
        .node
        .rpc("debug_traceCall", json!([{"to": f.tree}, unknown, call]))
        .unwrap_err();
    assert_eq!(code, -32000);
    let (code, message) = f
        .node
        .rpc("debug_traceBlockByNumber", json!(["0x0", call]))
        .unwrap_err();
    assert_eq!(code, -32000);
    assert!(message.contains("genesis"), "{message}");

    // Invalid parameters: -32602.
    for (method, params) in [
        ("debug_traceBlockByNumber", json!(["0xzz", call])),
        ("debug_traceBlockByNumber", json!(["newest", call])),
        ("debug_traceBlockByHash", json!(["0x1234", call])),
        (
            "debug_traceTransaction",
            json!([f.run, {"tracer": "fooTracer"}]),
        ),
        (
            "debug_traceTransaction",
            json!([f.run, {"tracer": "callTracer", "tracerConfig": {"onlyTopCall": "yes"}}]),
        ),
        (
            "debug_traceTransaction",
            json!([f.run, {"tracer": "prestateTracer", "tracerConfig": {"diffMode": 3}}]),
        ),
        ("debug_traceTransaction", json!([f.run, "callTracer"])),
        ("debug_traceCall", json!([{"to": "0x12"}, "latest", call])),
        (
            "debug_traceCall",
            json!([{"to": f.tree}, "latest", {"tracer": "callTracer", "stateOverrides": 7}]),
        ),
    ] {
        let (code, message) = f.node.rpc(method, params.clone()).unwrap_err();
        assert_eq!(code, -32602, "{method} {params}: {message}");
    }

    // Tracers geth has and this node does not: -32004, naming the ones it has.
    for tracer in ["4byteTracer", "function() { return {}; }"] {
        let (code, message) = f
            .node
            .rpc("debug_traceTransaction", json!([f.run, {"tracer": tracer}]))
            .unwrap_err();
        assert_eq!(code, -32004, "{tracer}: {message}");
        assert!(message.contains("callTracer"), "{message}");
    }
}
