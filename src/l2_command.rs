//! `kaimeng l2 exit`: takes an account's funds out of the rollup in exodus mode with nothing
//! from the sequencer. It reads the bridge's deposit requests and committed batches from a
//! shard-0 node, rebuilds the L2 state from the published data of every executed batch
//! (checking each chunk's root against the committed one), proves the account's leaf against
//! the last executed root and sends the exit. The balance goes to the account's L1 address;
//! the key given only pays the gas.

use std::time::{Duration, Instant};

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolEvent, sol};
use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use kaimeng_genesis::BRIDGE_ADDRESS;
use kaimeng_rollup::bridge_calls::{fp_from_word, word_of_fp};
use kaimeng_rollup::rebuild::Rebuilder;
use kaimeng_rollup::{DepositOp, Fp, L1Address, PublicKey};
use serde_json::{Value, json};

sol! {
    event Deposit(uint64 indexed requestId, uint32 indexed account, address indexed l1, bytes32 l2PublicKey, uint64 amount, bytes32 queueHashAfter, uint64 expiry);
    event BatchCommitted(uint64 indexed batchNumber, bytes32 finalRoot, bytes32 finalQueueHash, uint64 priorityCount, uint256 withdrawalCount);
    function commitBatch(bytes[] chunkData, bytes32[] chunkRoots, bytes32[] chunkQueues) external;
    function exit(uint32 account, bytes32 keyCommitment, address l1, uint64 balance, uint32 nonce, bytes32[32] siblings) external;
    function lastExecuted() external view returns (uint64);
    function lastExecutedRoot() external view returns (bytes32);
    function exodus() external view returns (bool);
    function exited(uint32 account) external view returns (bool);
}

/// The rollup's fee account, as the bridge fixes it.
const FEE_ACCOUNT: u32 = 0;

#[derive(Subcommand, Debug)]
pub enum L2Command {
    /// In exodus mode: rebuild the L2 state from shard 0's published data and exit an account
    /// with a proof of its leaf against the last executed root.
    Exit(ExitArgs),
}

#[derive(Args, Debug)]
pub struct ExitArgs {
    /// JSON-RPC URL of a shard-0 node.
    #[arg(long)]
    pub rpc: String,
    /// The L2 account index to exit.
    #[arg(long)]
    pub account: u32,
    /// Hex private key of the account that sends the exit and pays its gas (the balance goes
    /// to the L2 account's own L1 address).
    #[arg(long)]
    pub private_key: String,
}

pub fn run(command: L2Command) -> anyhow::Result<()> {
    let L2Command::Exit(args) = command;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(exit(args))
}

async fn exit(args: ExitArgs) -> anyhow::Result<()> {
    let signer: PrivateKeySigner = args
        .private_key
        .parse()
        .map_err(|e| anyhow!("--private-key: {e}"))?;
    let client = HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(60))
        .build(&args.rpc)
        .map_err(|e| anyhow!("--rpc {}: {e}", args.rpc))?;
    let started = Instant::now();
    if !call_view::<exodusCall>(&client, exodusCall {}).await? {
        bail!("the bridge is not in exodus mode; withdraw through the sequencer instead");
    }
    if call_view::<exitedCall>(
        &client,
        exitedCall {
            account: args.account,
        },
    )
    .await?
    {
        bail!("account {} has already exited", args.account);
    }

    // What shard 0 published: the deposit requests and every executed batch's commit.
    let deposits = deposits(&client).await?;
    let executed = call_view::<lastExecutedCall>(&client, lastExecutedCall {}).await?;
    let commits = commits(&client, executed).await?;
    let mut rebuilder = Rebuilder::new(deposits, FEE_ACCOUNT);
    let mut chunks = 0;
    for (batch, commit) in commits.iter().enumerate() {
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
                .with_context(|| format!("batch {}", batch + 1))?;
            chunks += 1;
        }
    }
    let state = rebuilder.state();
    let root = call_view::<lastExecutedRootCall>(&client, lastExecutedRootCall {}).await?;
    if B256::from(word_of_fp(state.root())) != root {
        bail!("the rebuilt state does not reach the bridge's last executed root {root}");
    }
    let rebuilt = started.elapsed();

    let account = state.account(args.account);
    if account.balance == 0 {
        bail!(
            "account {} holds nothing at the last executed root",
            args.account
        );
    }
    let exit = exitCall {
        account: args.account,
        keyCommitment: B256::from(word_of_fp(account.key_commitment())),
        l1: Address::from(account.l1_address.0),
        balance: account.balance,
        nonce: account.nonce,
        siblings: state
            .proof(args.account)
            .siblings
            .map(|sibling| B256::from(word_of_fp(sibling))),
    };
    let receipt = send(&client, &signer, exit.abi_encode()).await?;
    if receipt["status"] != "0x1" {
        bail!("the exit transaction failed: {receipt}");
    }
    println!(
        "rebuilt the L2 state from {executed} executed batch(es), {chunks} chunk(s), in {} ms; \
         account {} exited with {} units to {}; transaction {} in block {} ({} gas); total {} ms",
        rebuilt.as_millis(),
        args.account,
        account.balance,
        Address::from(account.l1_address.0),
        receipt["transactionHash"].as_str().unwrap_or_default(),
        receipt["blockNumber"].as_str().unwrap_or_default(),
        receipt["gasUsed"].as_str().unwrap_or_default(),
        started.elapsed().as_millis()
    );
    Ok(())
}

fn field(word: &B256, what: &'static str) -> anyhow::Result<Fp> {
    fp_from_word(&word.0, what).map_err(|e| anyhow!("{e}"))
}

async fn call_view<C: SolCall>(client: &HttpClient, call: C) -> anyhow::Result<C::Return> {
    let data = Bytes::from(call.abi_encode());
    let out: Bytes = client
        .request(
            "eth_call",
            rpc_params![json!({"to": BRIDGE_ADDRESS, "data": data}), "latest"],
        )
        .await
        .map_err(|e| anyhow!("eth_call to the bridge: {e}"))?;
    C::abi_decode_returns(&out).map_err(|e| anyhow!("the bridge's answer: {e}"))
}

async fn logs(client: &HttpClient, topic: B256) -> anyhow::Result<Vec<Value>> {
    client
        .request(
            "eth_getLogs",
            rpc_params![json!({
                "address": BRIDGE_ADDRESS,
                "fromBlock": "0x0",
                "toBlock": "latest",
                "topics": [topic],
            })],
        )
        .await
        .map_err(|e| anyhow!("eth_getLogs: {e}"))
}

fn log_data(log: &Value) -> anyhow::Result<(Vec<B256>, Bytes)> {
    let topics = serde_json::from_value(log["topics"].clone()).context("log topics")?;
    let data = serde_json::from_value(log["data"].clone()).context("log data")?;
    Ok((topics, data))
}

/// The bridge's deposit requests, in request order.
async fn deposits(client: &HttpClient) -> anyhow::Result<Vec<DepositOp>> {
    let mut deposits = Vec::new();
    for log in logs(client, Deposit::SIGNATURE_HASH).await? {
        let (topics, data) = log_data(&log)?;
        let event = Deposit::decode_raw_log(topics, &data).context("a Deposit event")?;
        let public_key = PublicKey::from_bytes(&event.l2PublicKey.0)
            .ok_or_else(|| anyhow!("deposit {}: not an L2 key", event.requestId))?;
        deposits.push((
            event.requestId,
            DepositOp {
                to: event.account,
                l1_address: L1Address(event.l1.0.0),
                public_key,
                amount: event.amount,
            },
        ));
    }
    deposits.sort_by_key(|(id, _)| *id);
    Ok(deposits.into_iter().map(|(_, deposit)| deposit).collect())
}

/// The commits of batches 1 to `executed`, read from their transactions' input.
async fn commits(client: &HttpClient, executed: u64) -> anyhow::Result<Vec<commitBatchCall>> {
    let mut hashes = vec![None; executed as usize];
    for log in logs(client, BatchCommitted::SIGNATURE_HASH).await? {
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
        let tx: Value = client
            .request("eth_getTransactionByHash", rpc_params![hash.clone()])
            .await
            .map_err(|e| anyhow!("eth_getTransactionByHash {hash}: {e}"))?;
        let input: Bytes = serde_json::from_value(tx["input"].clone())
            .with_context(|| format!("the input of {hash}"))?;
        commits.push(
            commitBatchCall::abi_decode(&input)
                .map_err(|e| anyhow!("batch {}: its commit is not a direct call: {e}", i + 1))?,
        );
    }
    Ok(commits)
}

/// Signs and sends a call to the bridge; waits for its receipt.
async fn send(
    client: &HttpClient,
    signer: &PrivateKeySigner,
    input: Vec<u8>,
) -> anyhow::Result<Value> {
    let from = signer.address();
    let nonce: U256 = client
        .request("eth_getTransactionCount", rpc_params![from, "pending"])
        .await
        .map_err(|e| anyhow!("eth_getTransactionCount: {e}"))?;
    let chain_id: U256 = client
        .request("eth_chainId", rpc_params![])
        .await
        .map_err(|e| anyhow!("eth_chainId: {e}"))?;
    let gas_price: U256 = client
        .request("eth_gasPrice", rpc_params![])
        .await
        .map_err(|e| anyhow!("eth_gasPrice: {e}"))?;
    let tx = TxEip1559 {
        chain_id: chain_id.to(),
        nonce: nonce.to(),
        gas_limit: 1_000_000,
        max_fee_per_gas: gas_price.to::<u128>().saturating_mul(2),
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(BRIDGE_ADDRESS),
        value: U256::ZERO,
        access_list: Default::default(),
        input: input.into(),
    };
    let signature = alloy_signer::SignerSync::sign_hash_sync(signer, &tx.signature_hash())
        .map_err(|e| anyhow!("signing: {e}"))?;
    let raw = Bytes::from(TxEnvelope::from(tx.into_signed(signature)).encoded_2718());
    let hash: B256 = client
        .request("eth_sendRawTransaction", rpc_params![raw])
        .await
        .map_err(|e| anyhow!("eth_sendRawTransaction: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let receipt: Value = client
            .request("eth_getTransactionReceipt", rpc_params![hash])
            .await
            .map_err(|e| anyhow!("eth_getTransactionReceipt: {e}"))?;
        if !receipt.is_null() {
            return Ok(receipt);
        }
        if Instant::now() > deadline {
            bail!("transaction {hash} not final after 120 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
