//! `kaimeng l2`: the rollup from a user's side, against a shard-0 node's RPC alone.
//! - `deposit` derives the user's L2 key from their Ethereum key (ADR 0035: a `personal_sign`
//!   signature, so a browser wallet derives the same key) and deposits to the bridge.
//! - `status` shows an L1 address's L2 accounts at the last executed root, its unexecuted
//!   requests and claimable withdrawals.
//! - `exit` takes an account's funds out in exodus mode with nothing from the sequencer.
//!
//! `status` and `exit` rebuild the L2 state from the bridge's deposit requests and the
//! published data of every executed batch, checking each chunk's root against the committed
//! one and the result against the bridge's last executed root.

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
    function deposit(bytes32 l2PublicKey) external payable returns (uint64 requestId, uint32 account);
    function head() external view returns (uint64);
    function tail() external view returns (uint64);
    function claimable(address who) external view returns (uint256);
    struct PriorityRequest { bytes32 queueHashAfter; uint64 expiry; address l1; uint32 account; uint64 amount; uint8 kind; }
    function request(uint64 requestId) external view returns (PriorityRequest memory);
}

/// The rollup's fee account, as the bridge fixes it.
const FEE_ACCOUNT: u32 = 0;

#[derive(Subcommand, Debug)]
pub enum L2Command {
    /// Print the L2 public key an Ethereum key derives (ADR 0035), as a wallet derives it.
    Key(KeyArgs),
    /// Deposit to the rollup from an Ethereum key, to the L2 key derived from it.
    Deposit(DepositArgs),
    /// An L1 address's L2 accounts, unexecuted requests and claimable withdrawals.
    Status(StatusArgs),
    /// In exodus mode: rebuild the L2 state from shard 0's published data and exit an account
    /// with a proof of its leaf against the last executed root.
    Exit(ExitArgs),
}

#[derive(Args, Debug)]
pub struct KeyArgs {
    /// Hex private key of the Ethereum account.
    #[arg(long)]
    pub private_key: String,
    /// The chain id the key is derived for (shard 0's `eth_chainId`).
    #[arg(long)]
    pub chain_id: u64,
}

#[derive(Args, Debug)]
pub struct DepositArgs {
    /// JSON-RPC URL of a shard-0 node.
    #[arg(long)]
    pub rpc: String,
    /// Hex private key of the depositing Ethereum account.
    #[arg(long)]
    pub private_key: String,
    /// Amount in gwei (one L2 unit each).
    #[arg(long)]
    pub gwei: u64,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// JSON-RPC URL of a shard-0 node.
    #[arg(long)]
    pub rpc: String,
    /// The L1 address whose L2 accounts to show.
    #[arg(long)]
    pub address: Address,
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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match command {
            L2Command::Key(args) => key(args),
            L2Command::Deposit(args) => deposit(args).await,
            L2Command::Status(args) => status(args).await,
            L2Command::Exit(args) => exit(args).await,
        }
    })
}

fn client_for(rpc: &str) -> anyhow::Result<HttpClient> {
    HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(60))
        .build(rpc)
        .map_err(|e| anyhow!("--rpc {rpc}: {e}"))
}

fn signer_for(private_key: &str) -> anyhow::Result<PrivateKeySigner> {
    private_key
        .parse()
        .map_err(|e| anyhow!("--private-key: {e}"))
}

fn key(args: KeyArgs) -> anyhow::Result<()> {
    let signer = signer_for(&args.private_key)?;
    let l2_key = kaimeng_rollup::keys::derive_l2_key(signer.credential(), args.chain_id);
    println!("{}", B256::from(l2_key.public_key().to_bytes()));
    Ok(())
}

async fn deposit(args: DepositArgs) -> anyhow::Result<()> {
    let signer = signer_for(&args.private_key)?;
    let client = client_for(&args.rpc)?;
    let chain_id: U256 = client
        .request("eth_chainId", rpc_params![])
        .await
        .map_err(|e| anyhow!("eth_chainId: {e}"))?;
    let l2_key = kaimeng_rollup::keys::derive_l2_key(signer.credential(), chain_id.to());
    let public_key = B256::from(l2_key.public_key().to_bytes());
    let value = U256::from(args.gwei) * U256::from(1_000_000_000u64);
    let receipt = send(
        &client,
        &signer,
        depositCall {
            l2PublicKey: public_key,
        }
        .abi_encode(),
        value,
    )
    .await?;
    if receipt["status"] != "0x1" {
        bail!("the deposit failed (the bridge refused it): {receipt}");
    }
    let event = receipt["logs"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|log| {
            let (topics, data) = log_data(log).ok()?;
            Deposit::decode_raw_log(topics, &data).ok()
        })
        .ok_or_else(|| anyhow!("the deposit's receipt has no Deposit event"))?;
    println!(
        "deposited {} units from {} to L2 account {} (key {public_key}); request {}, \
         to be processed before unix time {}",
        event.amount,
        signer.address(),
        event.account,
        event.requestId,
        event.expiry
    );
    Ok(())
}

async fn status(args: StatusArgs) -> anyhow::Result<()> {
    let client = client_for(&args.rpc)?;
    let (rebuilder, executed, _) = rebuild(&client).await?;
    let state = rebuilder.state();
    let owner = L1Address(args.address.0.0);
    let exodus = call_view::<exodusCall>(&client, exodusCall {}).await?;
    println!(
        "{}: {executed} executed batch(es){}",
        args.address,
        if exodus {
            "; the bridge is in EXODUS mode"
        } else {
            ""
        }
    );
    for index in owned_accounts(&client, args.address).await? {
        let account = state.account(index);
        if account.l1_address == owner {
            println!(
                "  L2 account {index}: balance {} units, nonce {} (at the last executed root)",
                account.balance, account.nonce
            );
        } else {
            println!("  L2 account {index}: not yet executed");
        }
    }
    let head = call_view::<headCall>(&client, headCall {}).await?;
    let tail = call_view::<tailCall>(&client, tailCall {}).await?;
    for id in head..tail {
        let request = call_view::<requestCall>(&client, requestCall { requestId: id }).await?;
        if request.l1 == args.address {
            let kind = if request.kind == 3 {
                "deposit"
            } else {
                "forced withdrawal"
            };
            println!(
                "  request {id}: {kind} of account {}, {} units, not yet executed (expires at \
                 unix time {})",
                request.account, request.amount, request.expiry
            );
        }
    }
    let claimable =
        call_view::<claimableCall>(&client, claimableCall { who: args.address }).await?;
    println!("  claimable on shard 0: {claimable} wei");
    Ok(())
}

/// The L2 accounts the bridge bound to `l1` (from its deposit events).
async fn owned_accounts(client: &HttpClient, l1: Address) -> anyhow::Result<Vec<u32>> {
    let mut accounts = Vec::new();
    for log in logs(client, Deposit::SIGNATURE_HASH).await? {
        let (topics, data) = log_data(&log)?;
        let event = Deposit::decode_raw_log(topics, &data).context("a Deposit event")?;
        if event.l1 == l1 && !accounts.contains(&event.account) {
            accounts.push(event.account);
        }
    }
    Ok(accounts)
}

/// The L2 state rebuilt from what shard 0 published, checked against the bridge's last executed
/// root; with the number of executed batches and chunks replayed.
async fn rebuild(client: &HttpClient) -> anyhow::Result<(Rebuilder, u64, usize)> {
    let deposits = deposits(client).await?;
    let executed = call_view::<lastExecutedCall>(client, lastExecutedCall {}).await?;
    let commits = commits(client, executed).await?;
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
    let root = call_view::<lastExecutedRootCall>(client, lastExecutedRootCall {}).await?;
    if B256::from(word_of_fp(rebuilder.state().root())) != root {
        bail!("the rebuilt state does not reach the bridge's last executed root {root}");
    }
    Ok((rebuilder, executed, chunks))
}

async fn exit(args: ExitArgs) -> anyhow::Result<()> {
    let signer = signer_for(&args.private_key)?;
    let client = client_for(&args.rpc)?;
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
    let (rebuilder, executed, chunks) = rebuild(&client).await?;
    let state = rebuilder.state();
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
    let receipt = send(&client, &signer, exit.abi_encode(), U256::ZERO).await?;
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
    value: U256,
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
        value,
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
