//! `kaimeng l2`: the rollup from a user's side, against a shard-0 node's RPC and (for L2
//! transactions) a sequencer's.
//! - `deposit` derives the user's L2 key from their Ethereum key (ADR 0035: a `personal_sign`
//!   signature, so a browser wallet derives the same key) and deposits to the bridge.
//! - `status` shows an L1 address's L2 accounts at the last executed root, its unexecuted
//!   requests and claimable withdrawals.
//! - `exit` takes an account's funds out in exodus mode with nothing from the sequencer.
//! - `transfer` and `withdraw` sign with the derived L2 key and go to a sequencer's RPC; they
//!   return at its soft confirmation, or with `--wait` when the batch is executed on shard 0.
//!
//! `status` and `exit` rebuild the L2 state from the bridge's deposit requests and the
//! published data of every executed batch, checking each chunk's root against the committed
//! one and the result against the bridge's last executed root.

use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256, U256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolEvent};
use anyhow::{anyhow, bail};
use clap::{Args, Subcommand};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use kaimeng_rollup::L1Address;
use kaimeng_rollup::tx::{Transfer, Withdraw};
use serde_json::Value;

use crate::bridge_client::{
    BridgeClient, Deposit, claimWithdrawalCall, claimableCall, depositCall, exitCall, exitedCall,
    exodusCall, headCall, log_data, requestCall, tailCall, word,
};
use crate::sequencer::wire::TxRequest;

#[derive(Subcommand, Debug)]
pub enum L2Command {
    /// Print the L2 public key an Ethereum key derives (ADR 0035), as a wallet derives it.
    Key(KeyArgs),
    /// Deposit to the rollup from an Ethereum key, to the L2 key derived from it.
    Deposit(DepositArgs),
    /// An L1 address's L2 accounts, unexecuted requests and claimable withdrawals.
    Status(StatusArgs),
    /// Transfer on L2 (signed with the L2 key derived from an Ethereum key), via a sequencer.
    Transfer(TransferArgs),
    /// Withdraw from L2 to the account's L1 address, via a sequencer.
    Withdraw(WithdrawArgs),
    /// Claim the withdrawals executed for an Ethereum key's address on shard 0.
    Claim(ClaimArgs),
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
pub struct L2TxArgs {
    /// JSON-RPC URL of the sequencer.
    #[arg(long)]
    pub sequencer: String,
    /// Hex private key of the Ethereum account whose derived L2 key signs.
    #[arg(long)]
    pub private_key: String,
    /// The L2 account to debit.
    #[arg(long)]
    pub from: u32,
    /// Amount in L2 units (gwei).
    #[arg(long)]
    pub amount: u64,
    /// Fee in L2 units (default: the sequencer's quote).
    #[arg(long)]
    pub fee: Option<u16>,
    /// Wait until the batch holding it is executed on shard 0.
    #[arg(long)]
    pub wait: bool,
}

#[derive(Args, Debug)]
pub struct TransferArgs {
    #[command(flatten)]
    pub tx: L2TxArgs,
    /// The L2 account to credit.
    #[arg(long)]
    pub to: u32,
}

#[derive(Args, Debug)]
pub struct WithdrawArgs {
    #[command(flatten)]
    pub tx: L2TxArgs,
}

#[derive(Args, Debug)]
pub struct ClaimArgs {
    /// JSON-RPC URL of a shard-0 node.
    #[arg(long)]
    pub rpc: String,
    /// Hex private key of the L1 account whose withdrawals to claim (it pays the gas).
    #[arg(long)]
    pub private_key: String,
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
            L2Command::Claim(args) => claim(args).await,
            L2Command::Transfer(args) => l2_transaction(args.tx, Some(args.to)).await,
            L2Command::Withdraw(args) => l2_transaction(args.tx, None).await,
        }
    })
}

fn sequencer_client(url: &str) -> anyhow::Result<HttpClient> {
    HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(60))
        .build(url)
        .map_err(|e| anyhow!("--sequencer {url}: {e}"))
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
    let bridge = BridgeClient::new(&args.rpc)?;
    let l2_key = kaimeng_rollup::keys::derive_l2_key(signer.credential(), bridge.chain_id().await?);
    let public_key = B256::from(l2_key.public_key().to_bytes());
    let value = U256::from(args.gwei) * U256::from(1_000_000_000u64);
    let call = depositCall {
        l2PublicKey: public_key,
    };
    let receipt = bridge.send(&signer, call.abi_encode(), value).await?;
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
    let bridge = BridgeClient::new(&args.rpc)?;
    let (rebuilder, executed, _) = bridge.rebuild_executed().await?;
    let state = rebuilder.state();
    let owner = L1Address(args.address.0.0);
    let exodus = bridge.view(exodusCall {}).await?;
    println!(
        "{}: {executed} executed batch(es){}",
        args.address,
        if exodus {
            "; the bridge is in EXODUS mode"
        } else {
            ""
        }
    );
    for index in bridge.owned_accounts(args.address).await? {
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
    let head = bridge.view(headCall {}).await?;
    let tail = bridge.view(tailCall {}).await?;
    for id in head..tail {
        let request = bridge.view(requestCall { requestId: id }).await?;
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
    let claimable = bridge.view(claimableCall { who: args.address }).await?;
    println!("  claimable on shard 0: {claimable} wei");
    Ok(())
}

async fn claim(args: ClaimArgs) -> anyhow::Result<()> {
    let signer = signer_for(&args.private_key)?;
    let bridge = BridgeClient::new(&args.rpc)?;
    let who = signer.address();
    let claimable = bridge.view(claimableCall { who }).await?;
    if claimable.is_zero() {
        bail!("nothing is claimable for {who}");
    }
    let call = claimWithdrawalCall { to: who };
    let receipt = bridge.send(&signer, call.abi_encode(), U256::ZERO).await?;
    if receipt["status"] != "0x1" {
        bail!("the claim failed: {receipt}");
    }
    println!(
        "claimed {claimable} wei to {who}; transaction {}",
        receipt["transactionHash"].as_str().unwrap_or_default()
    );
    Ok(())
}

async fn exit(args: ExitArgs) -> anyhow::Result<()> {
    let signer = signer_for(&args.private_key)?;
    let bridge = BridgeClient::new(&args.rpc)?;
    let started = Instant::now();
    if !bridge.view(exodusCall {}).await? {
        bail!("the bridge is not in exodus mode; withdraw through the sequencer instead");
    }
    if bridge
        .view(exitedCall {
            account: args.account,
        })
        .await?
    {
        bail!("account {} has already exited", args.account);
    }

    // What shard 0 published: the deposit requests and every executed batch's commit.
    let (rebuilder, executed, chunks) = bridge.rebuild_executed().await?;
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
        keyCommitment: word(account.key_commitment()),
        l1: Address::from(account.l1_address.0),
        balance: account.balance,
        nonce: account.nonce,
        siblings: state.proof(args.account).siblings.map(word),
    };
    let receipt = bridge.send(&signer, exit.abi_encode(), U256::ZERO).await?;
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
        quantity(&receipt["blockNumber"]),
        quantity(&receipt["gasUsed"]),
        started.elapsed().as_millis()
    );
    Ok(())
}

/// A JSON-RPC hex quantity in decimal (as given if it is not one).
fn quantity(value: &Value) -> String {
    let text = value.as_str().unwrap_or_default();
    text.strip_prefix("0x")
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .map_or_else(|| text.to_string(), |n| n.to_string())
}

/// Signs a transfer (`to` given) or a withdrawal with the L2 key `--private-key` derives and
/// submits it to the sequencer.
async fn l2_transaction(args: L2TxArgs, to: Option<u32>) -> anyhow::Result<()> {
    let signer = signer_for(&args.private_key)?;
    let sequencer = sequencer_client(&args.sequencer)?;
    let call = |method: &'static str, params| {
        let sequencer = sequencer.clone();
        async move {
            sequencer
                .request::<Value, _>(method, params)
                .await
                .map_err(|e| anyhow!("{method}: {e}"))
        }
    };
    let status = call("rollup_status", rpc_params![]).await?;
    let chain_id = status["chainId"]
        .as_u64()
        .ok_or_else(|| anyhow!("rollup_status has no chainId: {status}"))?;
    let key = kaimeng_rollup::keys::derive_l2_key(signer.credential(), chain_id);
    let account = call("rollup_getAccount", rpc_params![args.from]).await?;
    if account["publicKey"].as_str() != Some(&B256::from(key.public_key().to_bytes()).to_string()) {
        bail!(
            "L2 account {} is not bound to the key {} derives (deposit to it first)",
            args.from,
            signer.address()
        );
    }
    let nonce = account["soft"]["nonce"]
        .as_u64()
        .ok_or_else(|| anyhow!("rollup_getAccount has no soft nonce: {account}"))?
        as u32;
    let fee = match args.fee {
        Some(fee) => fee,
        None => {
            let quote = call("rollup_feeQuote", rpc_params![]).await?;
            let kind = if to.is_some() { "transfer" } else { "withdraw" };
            quote[kind]
                .as_u64()
                .and_then(|f| u16::try_from(f).ok())
                .ok_or_else(|| anyhow!("rollup_feeQuote has no {kind} fee: {quote}"))?
        }
    };
    let request = match to {
        Some(to) => TxRequest::from_transfer(
            Transfer {
                from: args.from,
                to,
                amount: args.amount,
                fee,
                nonce,
            }
            .sign(&key, chain_id),
        ),
        None => TxRequest::from_withdraw(
            Withdraw {
                from: args.from,
                amount: args.amount,
                fee,
                nonce,
            }
            .sign(&key, chain_id),
        ),
    };
    let started = Instant::now();
    let accepted = call("rollup_sendTransaction", rpc_params![request]).await?;
    let hash = accepted["hash"].as_str().unwrap_or_default().to_string();
    println!(
        "{} accepted (soft-confirmed in {} ms): {hash}, nonce {nonce}, fee {fee}",
        if to.is_some() {
            "transfer"
        } else {
            "withdrawal"
        },
        started.elapsed().as_millis()
    );
    if args.wait {
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let tx = call("rollup_getTransaction", rpc_params![hash.clone()]).await?;
            if tx["status"] == "executed" {
                println!(
                    "executed on shard 0 in batch {} after {} ms",
                    tx["batch"],
                    started.elapsed().as_millis()
                );
                break;
            }
            if Instant::now() > deadline {
                bail!("{hash} not executed after 600 s (status {})", tx["status"]);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    Ok(())
}
