//! The load generator: confirmed ERC-20 transfers per second (CTPS) and submit-to-confirmation
//! latency of an Ethereum JSON-RPC node, measured from outside like a user would.
//!
//! A run has two phases. Setup (not measured) deploys KaiToken and funds the senders
//! ([`setup`]). The measured phase pre-signs every transfer ([`plan`], [`txs`]), starts the
//! confirmation [`tracker`] on `newHeads`, submits at the target pace ([`submit`]) and turns
//! both records into a [`report::Report`].

pub mod config;
pub mod keys;
pub mod matcher;
pub mod plan;
pub mod post;
pub mod report;
pub mod rpc;
pub mod setup;
pub mod submit;
pub mod token;
pub mod tracker;
pub mod txs;

#[cfg(test)]
mod anvil_tests;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use alloy_primitives::{TxKind, U256};
use anyhow::{Context, ensure};

use self::{
    config::{ConfirmWith, RunConfig, Workload},
    report::{Report, RunShape},
    rpc::Node,
    setup::Prepared,
    submit::{Pace, submit_all},
    token::{TokenArtifact, transfer_calldata},
    tracker::Tracker,
    txs::{Call, FeeParams, SignedTx, sign},
};

/// Per-request timeout of the HTTP client.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs setup and the measured phase against the node in `config`.
pub async fn run(config: &RunConfig) -> anyhow::Result<Report> {
    let artifact = match &config.artifact {
        Some(path) => {
            let json = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            TokenArtifact::parse(&json).with_context(|| format!("artifact {}", path.display()))?
        }
        None => {
            TokenArtifact::parse(token::BUILTIN_ARTIFACT).context("built-in KaiToken artifact")?
        }
    };
    let node = Node::connect(&config.rpc, REQUEST_TIMEOUT)?;
    let prepared = setup::prepare(config, &node, &artifact).await?;
    measure(config, &node, &prepared).await
}

async fn measure(config: &RunConfig, node: &Node, prepared: &Prepared) -> anyhow::Result<Report> {
    let chain_id = node.chain_id().await?;
    let base_fee = node.latest_base_fee().await?;
    let fees = FeeParams::from_base_fee(chain_id, base_fee, config.tip_wei, config.max_fee_wei);
    let addresses: Vec<_> = prepared.senders.iter().map(|s| s.address()).collect();
    let nonces = node.nonces(&addresses).await?;
    let balances = node.balances(&addresses).await?;
    let need = fees.max_cost(config.gas_limit) * U256::from(config.txs_per_sender() as u64);
    if let Some((address, balance)) = addresses.iter().zip(&balances).find(|(_, b)| **b < need) {
        anyhow::bail!(
            "sender {address} holds {balance} wei but its transfers may cost {need}; lower --max-fee-wei"
        );
    }

    let started_signing = Instant::now();
    let txs = sign_transfers(config, prepared, &nonces, fees)?;
    eprintln!(
        "measure: signed {} transfers in {:.2} s (base fee {base_fee} wei, fee cap {} wei); submitting",
        txs.len(),
        started_signing.elapsed().as_secs_f64(),
        fees.max_fee_per_gas
    );

    let hashes: Vec<_> = txs.iter().map(|tx| tx.hash).collect();
    // Block fetches get their own connection pool so they do not queue behind submissions.
    let tracker_node = Node::connect(&config.rpc, REQUEST_TIMEOUT)?;
    let receipts = config.confirm_with == ConfirmWith::Receipts;
    let tracker = Tracker::start(&config.ws, tracker_node, &hashes, receipts).await?;
    let pace = Pace {
        rate: config.rate,
        concurrency: config.concurrency,
        batch: config.batch,
    };
    let submitted = submit_all(&config.rpc, Arc::new(txs), pace).await;
    let first_sent = submitted
        .first_sent()
        .context("no transaction was submitted")?;
    eprintln!(
        "measure: submitted in {:.2} s ({} rejected); waiting for confirmations",
        submitted
            .finished_at
            .saturating_duration_since(first_sent)
            .as_secs_f64(),
        submitted.failed()
    );
    let tracked = tracker
        .finish(submitted.accepted.clone(), first_sent + config.timeout)
        .await?;

    let shape = RunShape {
        label: config.label.clone(),
        senders: config.senders,
        txs: config.txs,
        rate: config.rate.unwrap_or(0),
        concurrency: config.concurrency,
        batch: config.batch,
    };
    Ok(Report::build(
        shape,
        &submitted,
        &tracked.matcher,
        receipts,
        !tracked.complete,
    ))
}

/// Signs every measured transfer in submission order.
fn sign_transfers(
    config: &RunConfig,
    prepared: &Prepared,
    nonces: &[u64],
    fees: FeeParams,
) -> anyhow::Result<Vec<SignedTx>> {
    ensure!(
        nonces.len() == prepared.senders.len(),
        "node returned {} nonces for {} senders",
        nonces.len(),
        prepared.senders.len()
    );
    plan::transfers(config.senders, config.txs)
        .into_iter()
        .map(|t| {
            let call = match config.workload {
                Workload::Erc20 => Call {
                    to: TxKind::Call(prepared.token),
                    value: U256::ZERO,
                    input: transfer_calldata(
                        prepared.senders[t.recipient].address(),
                        U256::from(1u64),
                    ),
                    gas_limit: config.gas_limit,
                },
                Workload::SelfTransfer => Call {
                    to: TxKind::Call(prepared.senders[t.sender].address()),
                    value: U256::ZERO,
                    input: Default::default(),
                    gas_limit: config.gas_limit,
                },
            };
            sign(
                &prepared.senders[t.sender],
                nonces[t.sender] + t.nonce_offset,
                call,
                fees,
            )
            .context("signing a transfer")
        })
        .collect()
}
