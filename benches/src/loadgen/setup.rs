//! The unmeasured setup phase: deploy KaiToken from the funder, give every sender ETH and
//! tokens, and wait until all of it is confirmed and checked.
//!
//! All setup transactions come from the funder with consecutive nonces; they are pre-signed
//! and sent in JSON-RPC batches, one request at a time so they reach the node in nonce order.
//! Rejected ones (say, a pool limit per account) are resent after a short pause; "already
//! known" and "nonce too low" on a resend mean an earlier send got in.

use std::time::{Duration, Instant};

use alloy_primitives::{Address, TxKind, U256};
use alloy_signer_local::PrivateKeySigner;
use anyhow::{Context, bail, ensure};

use super::{
    config::{MAX_BATCH, RunConfig},
    keys::{sender_keys, signer_from_secret},
    rpc::{Node, RpcError},
    token::{TokenArtifact, balance_of_calldata, decode_balance, transfer_calldata},
    tracker::Tracker,
    txs::{Call, FeeParams, SignedTx, sign},
};

/// 10^9 tokens of 18 decimals.
const SUPPLY: U256 = u256(1_000_000_000 * 10u128.pow(18));
/// 1000 tokens per sender (each measured transfer moves one base unit).
const TOKENS_PER_SENDER: U256 = u256(1_000 * 10u128.pow(18));
const DEPLOY_GAS: u64 = 3_000_000;
const ETH_TRANSFER_GAS: u64 = 21_000;
const TOKEN_FUNDING_GAS: u64 = 100_000;
/// Funding covers this many times the fee cap at setup time (base fees move during setup).
const FEE_MARGIN: u64 = 4;
const RESEND_PAUSE: Duration = Duration::from_millis(250);
/// Attempts at reading the senders' balances after setup.
const FUNDING_CHECKS: u32 = 3;

const fn u256(value: u128) -> U256 {
    U256::from_limbs([value as u64, (value >> 64) as u64, 0, 0])
}

/// Accounts and contract ready for the measured phase.
pub struct Prepared {
    pub token: Address,
    pub senders: Vec<PrivateKeySigner>,
}

/// Wei each sender receives for `txs_per_sender` transfers under `fees`.
pub fn eth_per_sender(txs_per_sender: usize, gas_limit: u64, fees: FeeParams) -> U256 {
    fees.max_cost(gas_limit) * U256::from(txs_per_sender as u64) * U256::from(FEE_MARGIN)
}

/// Deploys the token and funds the senders; returns once the node confirms all of it.
pub async fn prepare(
    config: &RunConfig,
    node: &Node,
    artifact: &TokenArtifact,
) -> anyhow::Result<Prepared> {
    let deadline = Instant::now() + config.setup_timeout;
    let funder = signer_from_secret(&config.funder_key)
        .map_err(anyhow::Error::msg)
        .context("--key")?;
    let chain_id = node.chain_id().await?;
    let base_fee = node.latest_base_fee().await?;
    let fees = FeeParams::from_base_fee(chain_id, base_fee, config.tip_wei, config.max_fee_wei);
    let senders = sender_keys(config.seed, config.senders);
    let eth_each = eth_per_sender(config.txs_per_sender(), config.gas_limit, fees);
    ensure!(
        SUPPLY >= TOKENS_PER_SENDER * U256::from(senders.len()),
        "too many senders for the token supply"
    );

    let funder_nonce = node.nonces(&[funder.address()]).await?[0];
    let needed = eth_each * U256::from(senders.len())
        + fees.max_cost(DEPLOY_GAS + senders.len() as u64 * (ETH_TRANSFER_GAS + TOKEN_FUNDING_GAS));
    let balance = node.balance(funder.address()).await?;
    ensure!(
        balance >= needed,
        "funder {} holds {balance} wei, setup needs {needed}",
        funder.address()
    );

    let token = funder.address().create(funder_nonce);
    let txs = setup_transactions(
        &funder,
        funder_nonce,
        artifact,
        &senders,
        token,
        eth_each,
        fees,
    )?;
    eprintln!(
        "setup: chain {chain_id}, base fee {base_fee} wei; deploying KaiToken at {token} and funding {} senders ({} txs)",
        senders.len(),
        txs.len()
    );
    let hashes: Vec<_> = txs.iter().map(|tx| tx.hash).collect();
    let tracker = Tracker::start(&config.ws, node.clone(), &hashes, false).await?;
    send_until_accepted(node, &txs, deadline).await?;
    let tracked = tracker.finish(vec![true; hashes.len()], deadline).await?;
    ensure!(
        tracked.complete,
        "setup: {} of {} transactions unconfirmed after --setup-timeout",
        tracked.matcher.remaining(),
        hashes.len()
    );

    let deploy = node
        .receipt(hashes[0])
        .await?
        .context("setup: no receipt for the token deployment")?;
    ensure!(
        deploy.get("status").and_then(|s| s.as_str()) == Some("0x1"),
        "token deployment reverted: {deploy}"
    );
    // A node that prunes old states can fail a read whose "latest" block moved on; retry.
    let mut attempts = 0;
    while let Err(err) = check_funded(node, token, &senders, eth_each).await {
        attempts += 1;
        if attempts == FUNDING_CHECKS || err.downcast_ref::<RpcError>().is_none() {
            return Err(err.context("setup: checking the senders' balances"));
        }
    }
    eprintln!("setup: done");
    Ok(Prepared { token, senders })
}

/// Deployment, then an ETH transfer to each sender, then a token transfer to each sender.
fn setup_transactions(
    funder: &PrivateKeySigner,
    first_nonce: u64,
    artifact: &TokenArtifact,
    senders: &[PrivateKeySigner],
    token: Address,
    eth_each: U256,
    fees: FeeParams,
) -> anyhow::Result<Vec<SignedTx>> {
    let deploy = Call {
        to: TxKind::Create,
        value: U256::ZERO,
        input: artifact.deploy_code("KaiToken", "KAI", SUPPLY),
        gas_limit: DEPLOY_GAS,
    };
    let eth = senders.iter().map(|s| Call {
        to: TxKind::Call(s.address()),
        value: eth_each,
        input: Default::default(),
        gas_limit: ETH_TRANSFER_GAS,
    });
    let tokens = senders.iter().map(|s| Call {
        to: TxKind::Call(token),
        value: U256::ZERO,
        input: transfer_calldata(s.address(), TOKENS_PER_SENDER),
        gas_limit: TOKEN_FUNDING_GAS,
    });
    std::iter::once(deploy)
        .chain(eth)
        .chain(tokens)
        .zip(first_nonce..)
        .map(|(call, nonce)| sign(funder, nonce, call, fees).context("signing a setup transaction"))
        .collect()
}

/// Sends in nonce order, one batch at a time, resending rejected transactions until all are in.
async fn send_until_accepted(
    node: &Node,
    txs: &[SignedTx],
    deadline: Instant,
) -> anyhow::Result<()> {
    let mut pending: Vec<usize> = (0..txs.len()).collect();
    let mut first_round = true;
    let mut last_error = String::new();
    while !pending.is_empty() {
        if Instant::now() >= deadline {
            bail!(
                "setup: {} transactions still rejected at --setup-timeout; last error: {last_error}",
                pending.len()
            );
        }
        let mut rejected = Vec::new();
        for chunk in pending.chunks(MAX_BATCH) {
            let batch: Vec<SignedTx> = chunk.iter().map(|&i| txs[i].clone()).collect();
            for (&i, answer) in chunk.iter().zip(node.send_raw(&batch).await) {
                match answer {
                    Ok(()) => {}
                    // On a resend these mean an earlier copy is already in the pool or a block.
                    Err(message) if !first_round && is_already_in(&message) => {}
                    Err(message) => {
                        last_error = message;
                        rejected.push(i);
                    }
                }
            }
        }
        if !rejected.is_empty() {
            eprintln!(
                "setup: {} transactions rejected ({last_error}); resending",
                rejected.len()
            );
            tokio::time::sleep(RESEND_PAUSE).await;
        }
        pending = rejected;
        first_round = false;
    }
    Ok(())
}

fn is_already_in(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("already known") || m.contains("already imported") || m.contains("nonce too low")
}

/// Checks that every sender holds at least `eth_each` wei and its token allowance.
async fn check_funded(
    node: &Node,
    token: Address,
    senders: &[PrivateKeySigner],
    eth_each: U256,
) -> anyhow::Result<()> {
    let addresses: Vec<Address> = senders.iter().map(|s| s.address()).collect();
    let eth = node.balances(&addresses).await?;
    let calls: Vec<_> = addresses.iter().map(|a| balance_of_calldata(*a)).collect();
    let tokens = node.calls(token, &calls).await?;
    for ((address, eth), tokens) in addresses.iter().zip(eth).zip(tokens) {
        ensure!(
            eth >= eth_each,
            "sender {address} holds {eth} wei after setup, expected at least {eth_each}"
        );
        let tokens = decode_balance(&tokens)
            .with_context(|| format!("balanceOf({address}) returned {tokens}"))?;
        ensure!(
            tokens >= TOKENS_PER_SENDER,
            "sender {address} holds {tokens} token units, expected {TOKENS_PER_SENDER}"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loadgen::{keys::sender_key, token::BUILTIN_ARTIFACT};

    #[test]
    fn supply_constants_are_what_their_names_say() {
        let e18 = U256::from(10u64).pow(U256::from(18u64));
        assert_eq!(SUPPLY, U256::from(1_000_000_000u64) * e18);
        assert_eq!(TOKENS_PER_SENDER, U256::from(1_000u64) * e18);
    }

    #[test]
    fn setup_transactions_use_consecutive_nonces_deploy_first() {
        let funder = sender_key(99, 0);
        let senders = vec![sender_key(1, 0), sender_key(1, 1)];
        let fees = FeeParams::from_base_fee(1, 1, 1, None);
        let artifact = TokenArtifact::parse(BUILTIN_ARTIFACT).unwrap();
        let txs = setup_transactions(
            &funder,
            7,
            &artifact,
            &senders,
            Address::ZERO,
            U256::from(1u64),
            fees,
        )
        .unwrap();
        assert_eq!(txs.len(), 1 + 2 * senders.len());
        let mut hashes: Vec<_> = txs.iter().map(|t| t.hash).collect();
        hashes.dedup();
        assert_eq!(hashes.len(), txs.len());
    }

    #[test]
    fn resend_errors_that_mean_the_transaction_is_in() {
        assert!(is_already_in("already known (code -32000)"));
        assert!(is_already_in("Nonce too low"));
        assert!(!is_already_in("insufficient funds for gas * price + value"));
    }

    #[test]
    fn eth_funding_covers_every_transfer_at_the_fee_cap_with_margin() {
        let fees = FeeParams::from_base_fee(1, 10, 1, None); // cap 31 wei
        assert_eq!(
            eth_per_sender(20, 60_000, fees),
            U256::from(31u64 * 60_000 * 20 * FEE_MARGIN)
        );
    }
}
