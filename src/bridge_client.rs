//! The rollup bridge on shard 0 as seen through a node's JSON-RPC: its views, its events, the
//! published data of committed batches, the L2 state rebuilt from that data alone, and signed
//! calls to it. `kaimeng l2` and the sequencer both use it.
//!
//! Logs are read in windows of [`LOG_WINDOW`] blocks, so a long chain never asks a node for
//! one unbounded range.

use std::time::{Duration, Instant};

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolEvent, sol};
use anyhow::{Context, anyhow, bail};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use kaimeng_genesis::BRIDGE_ADDRESS;
use kaimeng_rollup::bridge_calls::{fp_from_word, word_of_fp};
use kaimeng_rollup::rebuild::Rebuilder;
use kaimeng_rollup::stf::L2State;
use kaimeng_rollup::{DepositOp, ForcedExitOp, Fp, L1Address, PriorityOp, PublicKey};
use serde_json::{Value, json};

sol! {
    event Deposit(uint64 indexed requestId, uint32 indexed account, address indexed l1, bytes32 l2PublicKey, uint64 amount, bytes32 queueHashAfter, uint64 expiry);
    event ForcedWithdrawalRequested(uint64 indexed requestId, uint32 indexed account, address indexed l1, bytes32 queueHashAfter, uint64 expiry);
    event BatchCommitted(uint64 indexed batchNumber, bytes32 finalRoot, bytes32 finalQueueHash, uint64 priorityCount, uint256 withdrawalCount);
    function commitBatch(uint64 batchNumber, bytes[] chunkData, bytes32[] chunkRoots, bytes32[] chunkQueues) external;
    event BatchVerified(uint64 indexed batchNumber, bytes32 finalRoot, bytes32 finalQueueHash, bytes claims);
    function verifyBatch(uint64 batchNumber, bytes[] chunkData, bytes32[] chunkRoots, bytes32[] chunkQueues, bytes[] proofs, bytes claims) external;
    function decideBatches(uint64 lastBatch, bytes[] claims, uint32 steps) external;
    function decision() external view returns (uint64 lastBatch, uint32 steps, uint32 nextStep);
    function executeBatch(uint64 batchNumber) external;
    function revertBatches(uint64 newLastCommitted) external;
    function claimWithdrawal(address to) external;
    function requestForcedWithdrawal(uint32 account) external returns (uint64 requestId);
    function exit(uint32 account, bytes32 keyCommitment, address l1, uint64 balance, uint32 nonce, bytes32[32] siblings) external;
    function sequencer() external view returns (address);
    function lastCommitted() external view returns (uint64);
    function lastVerified() external view returns (uint64);
    function lastExecuted() external view returns (uint64);
    function lastDecided() external view returns (uint64);
    function lastExecutedRoot() external view returns (bytes32);
    function committedTail() external view returns (uint64);
    function exodus() external view returns (bool);
    function exited(uint32 account) external view returns (bool);
    function deposit(bytes32 l2PublicKey) external payable returns (uint64 requestId, uint32 account);
    function head() external view returns (uint64);
    function tail() external view returns (uint64);
    function claimable(address who) external view returns (uint256);
    struct PriorityRequest { bytes32 queueHashAfter; uint64 expiry; address l1; uint32 account; uint64 amount; uint8 kind; }
    function request(uint64 requestId) external view returns (PriorityRequest memory);
}

/// The rollup's fee account, as the bridge fixes it (`FEE_ACCOUNT()`).
pub const FEE_ACCOUNT: u32 = 0;
/// Blocks per `eth_getLogs` request.
pub const LOG_WINDOW: u64 = 5_000;

/// A shard-0 node's RPC, for the bridge.
#[derive(Clone, Debug)]
pub struct BridgeClient {
    client: HttpClient,
}

/// The bridge as one block shows it ([`BridgeClient::state`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BridgeState {
    /// The block read.
    pub block: u64,
    /// Whether the bridge is in exodus mode.
    pub exodus: bool,
    /// Its last committed batch.
    pub committed: u64,
    /// Its last verified batch.
    pub verified: u64,
    /// Its last batch whose IPA claims were decided (ADR 0114).
    pub decided: u64,
    /// Its last executed batch.
    pub executed: u64,
    /// The claim decision under way, split into steps, if any.
    pub deciding: Option<Deciding>,
    /// Whether the sender asked about has transactions in the pool not in a block yet.
    pub sender_pending: bool,
}

/// A claim decision under way on the bridge (ADR 0114): calls continue it until it ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deciding {
    /// Its last batch.
    pub last_batch: u64,
    /// The steps it was split into.
    pub steps: u32,
    /// The step the next call takes.
    pub next_step: u32,
}

/// A priority request read from the bridge's events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// Its id (position in the queue).
    pub id: u64,
    /// The operation it asks for.
    pub op: PriorityOp,
}

impl BridgeClient {
    /// A client of the node at `rpc`.
    pub fn new(rpc: &str) -> anyhow::Result<Self> {
        let client = HttpClientBuilder::default()
            .request_timeout(Duration::from_secs(60))
            .build(rpc)
            .map_err(|e| anyhow!("--rpc {rpc}: {e}"))?;
        Ok(Self { client })
    }

    async fn request<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        params: jsonrpsee::core::params::ArrayParams,
    ) -> anyhow::Result<T> {
        self.client
            .request(method, params)
            .await
            .map_err(|e| anyhow!("{method}: {e}"))
    }

    /// Shard 0's chain id.
    pub async fn chain_id(&self) -> anyhow::Result<u64> {
        let id: U256 = self.request("eth_chainId", rpc_params![]).await?;
        Ok(id.to())
    }

    /// Shard 0's rollup settings (`kaimeng_rollup`), or `None` from a node that does not
    /// serve the method.
    pub async fn rollup_info(&self) -> anyhow::Result<Option<crate::rollup_rpc::RollupInfo>> {
        match self.client.request("kaimeng_rollup", rpc_params![]).await {
            Ok(info) => Ok(Some(info)),
            Err(jsonrpsee::core::ClientError::Call(error))
                if error.code() == jsonrpsee::types::error::METHOD_NOT_FOUND_CODE =>
            {
                Ok(None)
            }
            Err(error) => Err(anyhow!("kaimeng_rollup: {error}")),
        }
    }

    /// The latest block number.
    pub async fn block_number(&self) -> anyhow::Result<u64> {
        let n: U256 = self.request("eth_blockNumber", rpc_params![]).await?;
        Ok(n.to())
    }

    /// Calls a view of the bridge at the latest block.
    pub async fn view<C: SolCall>(&self, call: C) -> anyhow::Result<C::Return> {
        let data = Bytes::from(call.abi_encode());
        let out: Bytes = self
            .request(
                "eth_call",
                rpc_params![json!({"to": BRIDGE_ADDRESS, "data": data}), "latest"],
            )
            .await?;
        C::abi_decode_returns(&out).map_err(|e| anyhow!("the bridge's answer: {e}"))
    }

    /// What the sequencer's pipeline reads every tick, in two round trips and at one block:
    /// the latest block number, then the bridge's exodus flag and marks and whether `sender`
    /// has transactions in the pool, as one JSON-RPC batch. One block means the marks agree
    /// with each other.
    pub async fn state(&self, sender: Address) -> anyhow::Result<BridgeState> {
        let block = self.block_number().await?;
        let at = format!("{block:#x}");
        let view = |data: Vec<u8>| {
            rpc_params![
                json!({"to": BRIDGE_ADDRESS, "data": Bytes::from(data)}),
                at.clone()
            ]
        };
        let mut batch = jsonrpsee::core::params::BatchRequestBuilder::new();
        for data in [
            exodusCall {}.abi_encode(),
            lastCommittedCall {}.abi_encode(),
            lastVerifiedCall {}.abi_encode(),
            lastDecidedCall {}.abi_encode(),
            lastExecutedCall {}.abi_encode(),
            decisionCall {}.abi_encode(),
        ] {
            batch.insert("eth_call", view(data))?;
        }
        batch.insert("eth_getTransactionCount", rpc_params![sender, at.clone()])?;
        batch.insert("eth_getTransactionCount", rpc_params![sender, "pending"])?;
        let answers: Vec<Value> = self
            .client
            .batch_request::<Value>(batch)
            .await
            .map_err(|e| anyhow!("reading the bridge's state: {e}"))?
            .into_ok()
            .map_err(|mut errors| {
                anyhow!(
                    "reading the bridge's state: {}",
                    errors.next().map_or_else(String::new, |e| e.to_string())
                )
            })?
            .collect();
        let [
            exodus,
            committed,
            verified,
            decided,
            executed,
            decision,
            nonce,
            pending,
        ] = answers.as_slice()
        else {
            bail!(
                "reading the bridge's state: {} answers to 8 calls",
                answers.len()
            );
        };
        let word = |answer: &Value, what: &str| -> anyhow::Result<Bytes> {
            serde_json::from_value(answer.clone()).with_context(|| format!("the bridge's {what}"))
        };
        let mark = |answer: &Value, what: &str| -> anyhow::Result<u64> {
            lastCommittedCall::abi_decode_returns(&word(answer, what)?)
                .map_err(|e| anyhow!("the bridge's {what}: {e}"))
        };
        let count = |answer: &Value| -> anyhow::Result<U256> {
            serde_json::from_value(answer.clone()).context("a transaction count")
        };
        Ok(BridgeState {
            block,
            exodus: exodusCall::abi_decode_returns(&word(exodus, "exodus")?)
                .map_err(|e| anyhow!("the bridge's exodus: {e}"))?,
            committed: mark(committed, "lastCommitted")?,
            verified: mark(verified, "lastVerified")?,
            decided: mark(decided, "lastDecided")?,
            executed: mark(executed, "lastExecuted")?,
            deciding: {
                let d = decisionCall::abi_decode_returns(&word(decision, "decision")?)
                    .map_err(|e| anyhow!("the bridge's decision: {e}"))?;
                (d.steps > 0).then_some(Deciding {
                    last_batch: d.lastBatch,
                    steps: d.steps,
                    next_step: d.nextStep,
                })
            },
            sender_pending: count(pending)? > count(nonce)?,
        })
    }

    /// The bridge's logs with `topic` in blocks `from..=to`, in windows.
    pub async fn logs(&self, topic: B256, from: u64, to: u64) -> anyhow::Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut start = from;
        while start <= to {
            let end = to.min(start + LOG_WINDOW - 1);
            let logs: Vec<Value> = self
                .request(
                    "eth_getLogs",
                    rpc_params![json!({
                        "address": BRIDGE_ADDRESS,
                        "fromBlock": format!("{start:#x}"),
                        "toBlock": format!("{end:#x}"),
                        "topics": [topic],
                    })],
                )
                .await?;
            out.extend(logs);
            start = end + 1;
        }
        Ok(out)
    }

    /// The IPA claims the last verification of each batch in `numbers` took as given, from the
    /// `BatchVerified` events in blocks `0..=to` (one scan for them all).
    pub async fn verified_claims(
        &self,
        numbers: std::ops::RangeInclusive<u64>,
        to: u64,
    ) -> anyhow::Result<std::collections::BTreeMap<u64, Vec<u8>>> {
        let mut claims = std::collections::BTreeMap::new();
        for log in self.logs(BatchVerified::SIGNATURE_HASH, 0, to).await? {
            let (topics, data) = log_data(&log)?;
            let event =
                BatchVerified::decode_raw_log(topics, &data).context("a BatchVerified event")?;
            if numbers.contains(&event.batchNumber) {
                claims.insert(event.batchNumber, event.claims.to_vec());
            }
        }
        Ok(claims)
    }

    /// The priority requests (deposits and forced withdrawals) emitted in blocks `from..=to`,
    /// by id.
    pub async fn requests(&self, from: u64, to: u64) -> anyhow::Result<Vec<Request>> {
        let mut requests = Vec::new();
        for log in self.logs(Deposit::SIGNATURE_HASH, from, to).await? {
            let (topics, data) = log_data(&log)?;
            let event = Deposit::decode_raw_log(topics, &data).context("a Deposit event")?;
            let public_key = PublicKey::from_bytes(&event.l2PublicKey.0)
                .ok_or_else(|| anyhow!("deposit {}: not an L2 key", event.requestId))?;
            requests.push(Request {
                id: event.requestId,
                op: PriorityOp::Deposit(DepositOp {
                    to: event.account,
                    l1_address: L1Address(event.l1.0.0),
                    public_key,
                    amount: event.amount,
                }),
            });
        }
        for log in self
            .logs(ForcedWithdrawalRequested::SIGNATURE_HASH, from, to)
            .await?
        {
            let (topics, data) = log_data(&log)?;
            let event = ForcedWithdrawalRequested::decode_raw_log(topics, &data)
                .context("a ForcedWithdrawalRequested event")?;
            requests.push(Request {
                id: event.requestId,
                op: PriorityOp::ForcedExit(ForcedExitOp {
                    account: event.account,
                    l1_address: L1Address(event.l1.0.0),
                }),
            });
        }
        requests.sort_by_key(|r| r.id);
        Ok(requests)
    }

    /// The L2 accounts the bridge bound to `l1` (from its deposit events).
    pub async fn owned_accounts(&self, l1: Address) -> anyhow::Result<Vec<u32>> {
        let latest = self.block_number().await?;
        let mut accounts = Vec::new();
        for request in self.requests(0, latest).await? {
            if let PriorityOp::Deposit(d) = request.op
                && d.l1_address == L1Address(l1.0.0)
                && !accounts.contains(&d.to)
            {
                accounts.push(d.to);
            }
        }
        Ok(accounts)
    }

    /// The commits of batches 1 to `last`, read from their transactions' input.
    pub async fn commits(&self, last: u64) -> anyhow::Result<Vec<commitBatchCall>> {
        let latest = self.block_number().await?;
        let mut hashes = vec![None; last as usize];
        for log in self.logs(BatchCommitted::SIGNATURE_HASH, 0, latest).await? {
            let (topics, data) = log_data(&log)?;
            let event =
                BatchCommitted::decode_raw_log(topics, &data).context("a BatchCommitted event")?;
            if let Some(slot) = event
                .batchNumber
                .checked_sub(1)
                .and_then(|i| hashes.get_mut(i as usize))
            {
                *slot = log["transactionHash"].as_str().map(str::to_string);
            }
        }
        let mut commits = Vec::with_capacity(hashes.len());
        for (i, hash) in hashes.into_iter().enumerate() {
            let hash = hash.ok_or_else(|| anyhow!("batch {} has no commit log", i + 1))?;
            let tx: Value = self
                .request("eth_getTransactionByHash", rpc_params![hash.clone()])
                .await?;
            let input: Bytes = serde_json::from_value(tx["input"].clone())
                .with_context(|| format!("the input of {hash}"))?;
            let commit = commitBatchCall::abi_decode(&input)
                .map_err(|e| anyhow!("batch {}: its commit is not a direct call: {e}", i + 1))?;
            if commit.batchNumber != i as u64 + 1 {
                bail!(
                    "batch {}: its commit log's transaction {hash} commits batch {}",
                    i + 1,
                    commit.batchNumber
                );
            }
            commits.push(commit);
        }
        Ok(commits)
    }

    /// The L2 state after batches 1 to `last`, rebuilt from shard 0's published data alone
    /// (every chunk's root checked against the committed one); with the chunks replayed.
    pub async fn rebuild(&self, last: u64) -> anyhow::Result<(Rebuilder, usize)> {
        let (rebuilder, chunks, _) = self.rebuild_keeping(last, 0).await?;
        Ok((rebuilder, chunks))
    }

    /// [`Self::rebuild`], also keeping the state as it was after batch `keep` (at most
    /// `last`; 0 is the empty state).
    pub async fn rebuild_keeping(
        &self,
        last: u64,
        keep: u64,
    ) -> anyhow::Result<(Rebuilder, usize, L2State)> {
        let latest = self.block_number().await?;
        let deposits = self
            .requests(0, latest)
            .await?
            .into_iter()
            .filter_map(|r| match r.op {
                PriorityOp::Deposit(d) => Some(d),
                PriorityOp::ForcedExit(_) => None,
            });
        let mut rebuilder = Rebuilder::new(deposits, FEE_ACCOUNT);
        let mut kept = rebuilder.state().clone();
        let mut chunks = 0;
        for (batch, commit) in (1..).zip(self.commits(last).await?.iter()) {
            for ((data, root), queue) in commit
                .chunkData
                .iter()
                .zip(&commit.chunkRoots)
                .zip(&commit.chunkQueues)
            {
                rebuilder
                    .apply_chunk(
                        data,
                        field(root, "chunk root")?,
                        field(queue, "queue hash")?,
                    )
                    .with_context(|| format!("batch {batch}"))?;
                chunks += 1;
            }
            if batch == keep {
                kept = rebuilder.state().clone();
            }
        }
        Ok((rebuilder, chunks, kept))
    }

    /// The state at the last executed batch, checked against the bridge's executed root; with
    /// that batch's number and the chunks replayed.
    pub async fn rebuild_executed(&self) -> anyhow::Result<(Rebuilder, u64, usize)> {
        let executed = self.view(lastExecutedCall {}).await?;
        let (rebuilder, chunks) = self.rebuild(executed).await?;
        let root = self.view(lastExecutedRootCall {}).await?;
        if B256::from(word_of_fp(rebuilder.state().root())) != root {
            bail!("the rebuilt state does not reach the bridge's last executed root {root}");
        }
        Ok((rebuilder, executed, chunks))
    }

    /// Whether `who` has transactions in the pool not yet in a block.
    pub async fn has_pending(&self, who: Address) -> anyhow::Result<bool> {
        let pending: U256 = self
            .request("eth_getTransactionCount", rpc_params![who, "pending"])
            .await?;
        let latest: U256 = self
            .request("eth_getTransactionCount", rpc_params![who, "latest"])
            .await?;
        Ok(pending > latest)
    }

    /// Signs and sends a call to the bridge from `signer` and waits for its receipt. The gas
    /// limit is estimated (so a call the bridge refuses fails here with its reason).
    pub async fn send(
        &self,
        signer: &PrivateKeySigner,
        input: Vec<u8>,
        value: U256,
    ) -> anyhow::Result<Value> {
        self.send_with_gas(signer, input, value, None).await
    }

    /// [`BridgeClient::send`] with the gas limit given, if it is, instead of estimated: for
    /// calls whose gas the caller bounds and whose estimate would cost the RPC node several
    /// runs of a proof check.
    pub async fn send_with_gas(
        &self,
        signer: &PrivateKeySigner,
        input: Vec<u8>,
        value: U256,
        gas: Option<u64>,
    ) -> anyhow::Result<Value> {
        let from = signer.address();
        let nonce: U256 = self
            .request("eth_getTransactionCount", rpc_params![from, "pending"])
            .await?;
        let chain_id = self.chain_id().await?;
        let gas_price: U256 = self.request("eth_gasPrice", rpc_params![]).await?;
        let input = Bytes::from(input);
        let gas_limit = match gas {
            Some(gas) => gas,
            None => {
                let estimate: U256 = self
                    .request(
                        "eth_estimateGas",
                        rpc_params![json!({
                            "from": from, "to": BRIDGE_ADDRESS, "data": input, "value": value
                        })],
                    )
                    .await?;
                // A quarter more than estimated, within what a transaction may take (a call
                // near the cap needs no more than its estimate).
                (estimate.to::<u64>().saturating_mul(5) / 4 + 20_000)
                    .min(kaimeng_shards::tx::MAX_TX_GAS)
            }
        };
        let tx = TxEip1559 {
            chain_id,
            nonce: nonce.to(),
            gas_limit,
            max_fee_per_gas: gas_price.to::<u128>().saturating_mul(2),
            max_priority_fee_per_gas: 1,
            to: TxKind::Call(BRIDGE_ADDRESS),
            value,
            access_list: Default::default(),
            input,
        };
        let signature = alloy_signer::SignerSync::sign_hash_sync(signer, &tx.signature_hash())
            .map_err(|e| anyhow!("signing: {e}"))?;
        let raw = Bytes::from(TxEnvelope::from(tx.into_signed(signature)).encoded_2718());
        let hash: B256 = self
            .request("eth_sendRawTransaction", rpc_params![raw])
            .await?;
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let receipt: Value = self
                .request("eth_getTransactionReceipt", rpc_params![hash])
                .await?;
            if !receipt.is_null() {
                return Ok(receipt);
            }
            if Instant::now() > deadline {
                bail!("transaction {hash} not final after 120 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A bridge word as a field element.
pub fn field(word: &B256, what: &'static str) -> anyhow::Result<Fp> {
    fp_from_word(&word.0, what).map_err(|e| anyhow!("{e}"))
}

/// A field element as a bridge word.
pub fn word(value: Fp) -> B256 {
    B256::from(word_of_fp(value))
}

/// A log's topics and data.
pub fn log_data(log: &Value) -> anyhow::Result<(Vec<B256>, Bytes)> {
    let topics = serde_json::from_value(log["topics"].clone()).context("log topics")?;
    let data = serde_json::from_value(log["data"].clone()).context("log data")?;
    Ok((topics, data))
}
