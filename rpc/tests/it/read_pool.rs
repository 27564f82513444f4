//! The read pool as the RPC uses it: the methods that execute or scan are refused with -32005
//! when the pool is full, answer again once it has room, survive a job that panics; and
//! `net_*`/`eth_syncing` report what the node's [`NodeStatus`] says.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{B256, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use jsonrpsee::RpcModule;
use kaimeng_genesis::{DevOptions, GenesisSpec, dev_accounts};
use kaimeng_rpc::server::rpc_module_with_pool;
use kaimeng_rpc::{DevSigner, NodeStatus, ReadPool, RpcConfig, SyncProgress};
use kaimeng_shards::ShardChain;
use parking_lot::Mutex;
use serde_json::{Value, json};

/// Stores 42 at memory 0 and logs it with topic 1; deploys empty code.
const LOGGING_INIT: [u8; 13] = [
    0x60, 0x2a, 0x60, 0x00, 0x52, 0x60, 0x01, 0x60, 0x20, 0x60, 0x00, 0xa1, 0x00,
];
/// Returns the word 42: what `eth_call` without `to` answers.
const RETURN_42: &str = "0x602a60005260206000f3";

struct Fixture {
    module: RpcModule<()>,
    reads: Arc<ReadPool>,
    /// The transaction of block 1 that logged.
    logged: B256,
    chain: Arc<ShardChain>,
    _dir: tempfile::TempDir,
}

fn sign_create(key: &PrivateKeySigner, chain_id: u64, input: &[u8]) -> Vec<u8> {
    let tx = TxEip1559 {
        chain_id,
        nonce: 0,
        gas_limit: 200_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Create,
        value: U256::ZERO,
        access_list: Default::default(),
        input: input.to_vec().into(),
    };
    let signature = key.sign_hash_sync(&tx.signature_hash()).unwrap();
    TxEnvelope::from(tx.into_signed(signature)).encoded_2718()
}

impl Fixture {
    /// A shard whose block 1 holds a contract creation that logs, served with a read pool of
    /// `threads` threads and `queue` places, and `status` as the node's status.
    fn new(threads: usize, queue: usize, status: Arc<dyn NodeStatus>) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let genesis = GenesisSpec::dev(&DevOptions {
            validators: 1,
            ..DevOptions::default()
        });
        let store = kaimeng_shards::open_store(dir.path(), &Default::default()).unwrap();
        let chain = Arc::new(ShardChain::open(store, &genesis, 0).unwrap());
        let accounts = dev_accounts(2);
        let key = PrivateKeySigner::from_bytes(&accounts[0].private_key).unwrap();
        let logged = chain
            .submit_raw(&sign_create(&key, chain.config().chain_id, &LOGGING_INIT))
            .unwrap();
        let proposed = chain.propose(1, accounts[1].address, 1_000).unwrap();
        chain.finalize(proposed).unwrap();
        let config = RpcConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            limits: Default::default(),
            dev_signer: DevSigner::new(&[]),
            fee_recipient: accounts[1].address,
            status,
        };
        let reads = Arc::new(ReadPool::new(threads, queue).unwrap());
        let module = rpc_module_with_pool(chain.clone(), &config, reads.clone()).unwrap();
        Fixture {
            module,
            reads,
            logged,
            chain,
            _dir: dir,
        }
    }

    /// The whole response to `method(params)`.
    async fn call(&self, method: &str, params: Value) -> Value {
        let request = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let (response, _) = self
            .module
            .raw_json_request(&request.to_string(), 1)
            .await
            .unwrap();
        serde_json::from_str(response.get()).unwrap()
    }

    async fn result(&self, method: &str, params: Value) -> Value {
        let response = self.call(method, params.clone()).await;
        assert!(
            response.get("error").is_none(),
            "{method}({params}): {response}"
        );
        response["result"].clone()
    }

    /// Every pooled method, each with params it answers with a result when the pool has room.
    async fn pooled_calls(&self) -> Vec<(&'static str, Value)> {
        let filter = self
            .result("eth_newFilter", json!([{"fromBlock": "0x0"}]))
            .await;
        vec![
            ("eth_call", json!([{"data": RETURN_42}, "latest"])),
            (
                "eth_estimateGas",
                json!([{"to": "0x00000000000000000000000000000000000000aa"}]),
            ),
            (
                "eth_getLogs",
                json!([{"fromBlock": "0x0", "toBlock": "latest"}]),
            ),
            ("eth_getFilterChanges", json!([filter])),
            ("eth_getFilterLogs", json!([filter])),
            (
                "debug_traceTransaction",
                json!([self.logged, {"tracer": "callTracer"}]),
            ),
        ]
    }

    /// Occupies every place of the pool with a job that blocks until the returned sender is
    /// dropped; returns once every thread is inside one.
    fn fill_pool(&self, threads: usize, queue: usize) -> mpsc::Sender<()> {
        let (release_tx, release) = mpsc::channel::<()>();
        let release = Arc::new(std::sync::Mutex::new(release));
        let (started_tx, started) = mpsc::channel();
        for _ in 0..threads + queue {
            let release = release.clone();
            let started = started_tx.clone();
            drop(tokio::spawn(self.reads.run(move || {
                let _ = started.send(());
                // Wait for the sender to go; the lock only makes the receiver shareable.
                while release
                    .lock()
                    .unwrap()
                    .recv_timeout(Duration::from_millis(5))
                    == Err(mpsc::RecvTimeoutError::Timeout)
                {}
                Ok(())
            })));
        }
        for _ in 0..threads {
            started.recv_timeout(Duration::from_secs(10)).unwrap();
        }
        release_tx
    }
}

fn standalone() -> Arc<dyn NodeStatus> {
    kaimeng_rpc::node_status::standalone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pooled_methods_answer_with_results() {
    let f = Fixture::new(2, 4, standalone());
    let word = format!("0x{:064x}", 42);
    assert_eq!(
        f.result("eth_call", json!([{"data": RETURN_42}, "latest"]))
            .await,
        json!(word)
    );
    let transfer = json!({"to": "0x00000000000000000000000000000000000000aa"});
    let direct = f
        .chain
        .estimate_gas(&serde_json::from_value(transfer.clone()).unwrap(), 1, None)
        .unwrap();
    assert!(direct >= 21_000);
    assert_eq!(
        f.result("eth_estimateGas", json!([transfer])).await,
        json!(format!("{direct:#x}"))
    );
    let logs = f
        .result(
            "eth_getLogs",
            json!([{"fromBlock": "0x0", "toBlock": "latest"}]),
        )
        .await;
    assert_eq!(logs.as_array().unwrap().len(), 1, "{logs}");
    assert_eq!(logs[0]["transactionHash"], json!(f.logged));
    let filter = f
        .result("eth_newFilter", json!([{"fromBlock": "0x0"}]))
        .await;
    assert_eq!(
        f.result("eth_getFilterLogs", json!([filter])).await,
        logs,
        "the filter's own range"
    );
    assert_eq!(
        f.result("eth_getFilterChanges", json!([filter])).await,
        json!([]),
        "nothing new since it was installed"
    );
    let frame = f
        .result(
            "debug_traceTransaction",
            json!([f.logged, {"tracer": "callTracer"}]),
        )
        .await;
    assert_eq!(frame["type"], json!("CREATE"), "{frame}");
    // Errors of the work itself still reach the caller with their own codes.
    let reverted = f
        .call("eth_call", json!([{"data": "0x60006000fd"}, "latest"]))
        .await;
    assert_eq!(reverted["error"]["code"], json!(3), "{reverted}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_pool_refuses_every_pooled_method_at_once_and_others_still_answer() {
    let (threads, queue) = (2, 1);
    let f = Fixture::new(threads, queue, standalone());
    let calls = f.pooled_calls().await;
    let release = f.fill_pool(threads, queue);
    for (method, params) in &calls {
        let answer = tokio::time::timeout(Duration::from_secs(5), f.call(method, params.clone()))
            .await
            .unwrap_or_else(|_| panic!("{method} waited on a full pool instead of refusing"));
        assert_eq!(answer["error"]["code"], json!(-32005), "{method}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("busy") && message.contains("read_threads"),
            "{method}: {message}"
        );
    }
    // Methods that only look things up do not need the pool.
    assert_eq!(f.result("eth_blockNumber", json!([])).await, json!("0x1"));

    drop(release);
    for (method, params) in &calls {
        // The blocked jobs end on their own schedule; the pool has room again within moments.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let answer = f.call(method, params.clone()).await;
            if answer.get("result").is_some() {
                break;
            }
            assert_eq!(answer["error"]["code"], json!(-32005), "{method}: {answer}");
            assert!(tokio::time::Instant::now() < deadline, "{method}: {answer}");
            tokio::task::yield_now().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_panics_leaves_the_pool_serving() {
    let f = Fixture::new(1, 0, standalone());
    for _ in 0..3 {
        let error = f
            .reads
            .run(|| -> kaimeng_rpc::error::RpcResult<()> { panic!("a read job panics") })
            .await
            .unwrap_err();
        assert_eq!(error.code(), -32603);
        let word = format!("0x{:064x}", 42);
        assert_eq!(
            f.result("eth_call", json!([{"data": RETURN_42}, "latest"]))
                .await,
            json!(word),
            "the pool's one thread still runs calls"
        );
    }
}

/// A node status the test sets.
#[derive(Default)]
struct FakeStatus {
    peers: Mutex<u64>,
    sync: Mutex<Option<SyncProgress>>,
}

impl NodeStatus for FakeStatus {
    fn peer_count(&self) -> u64 {
        *self.peers.lock()
    }
    fn listening(&self) -> bool {
        true
    }
    fn sync_progress(&self) -> Option<SyncProgress> {
        *self.sync.lock()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn net_and_syncing_report_the_node_status() {
    let status = Arc::new(FakeStatus::default());
    *status.peers.lock() = 3;
    *status.sync.lock() = Some(SyncProgress {
        starting_block: 1,
        current_block: 0x10,
        highest_block: 0x2a,
    });
    let f = Fixture::new(1, 0, status.clone());
    assert_eq!(f.result("net_peerCount", json!([])).await, json!("0x3"));
    assert_eq!(f.result("net_listening", json!([])).await, json!(true));
    let syncing = f.result("eth_syncing", json!([])).await;
    assert_eq!(syncing["startingBlock"], json!("0x1"), "{syncing}");
    assert_eq!(syncing["currentBlock"], json!("0x10"), "{syncing}");
    assert_eq!(syncing["highestBlock"], json!("0x2a"), "{syncing}");

    *status.peers.lock() = 0;
    *status.sync.lock() = None;
    assert_eq!(f.result("net_peerCount", json!([])).await, json!("0x0"));
    assert_eq!(f.result("eth_syncing", json!([])).await, json!(false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_a_network_has_no_peers_and_does_not_listen() {
    let f = Fixture::new(1, 0, standalone());
    assert_eq!(f.result("net_peerCount", json!([])).await, json!("0x0"));
    assert_eq!(f.result("net_listening", json!([])).await, json!(false));
    assert_eq!(f.result("eth_syncing", json!([])).await, json!(false));
}
