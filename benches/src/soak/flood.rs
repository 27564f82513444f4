//! The flood: `--senders` accounts, funded at setup, each sending transactions with a gas limit
//! of `--gas-limit`, signed as they go (a soak is too long to pre-sign), in batches of `--batch`
//! from `--concurrency` workers paced to `--rate` in all. With `--workload burn` (the default)
//! each calls a contract that logs once and then loops until less than 10,000 gas is left, so
//! it uses nearly its whole gas limit (two 15M-gas transactions fill a 30M-gas block); with
//! `transfer` each is a 0-wei transfer to its sender, which uses 21,000 gas whatever its limit.
//!
//! A refused transaction's nonce is used again: a full pool rolls the sender back to it, and a
//! nonce error moves the sender to the nonce the node names. So senders never leave gaps of
//! their own making, and the node sees an honest client that simply sends more than fits.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use anyhow::{Context, bail};
use jsonrpsee::core::client::{BatchResponse, ClientT};
use jsonrpsee::core::params::BatchRequestBuilder;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use serde::Serialize;
use tokio::sync::watch;

use super::heads::Progress;
use super::{Args, Workload};

const GWEI: u128 = 1_000_000_000;
/// Fee cap and tip of every soak transaction. The dev genesis's base fee floor is 1 gwei; full
/// blocks of burners raise the base fee until it passes the cap, then the pool holds them until
/// it falls again, which keeps what a confirmed burner costs near 15M gas x 2 gwei = 0.03 ETH.
const MAX_FEE: u128 = 2 * GWEI;
const TIP: u128 = GWEI;
/// Setup sends at most this many funding transfers before waiting for them (the pool queues a
/// sender at most 1,024 nonces ahead).
const FUNDING_CHUNK: usize = 500;
const FUNDING_BATCH: usize = 100;
/// Creation code of the burner: copies out and returns the runtime below.
///
/// Runtime: `PUSH1 32 PUSH1 0 LOG0` (one 32-byte log, so `logs` subscribers get notifications),
/// then `JUMPDEST PUSH2 10000 GAS GT PUSH1 5 JUMPI STOP`: loops while more than 10,000 gas is
/// left, and stops successfully (a transaction that ran out of gas would lose its log).
const BURNER_INIT: [u8; 26] = [
    0x60, 0x0f, 0x80, 0x60, 0x0b, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3, // init
    0x60, 0x20, 0x60, 0x00, 0xa0, 0x5b, 0x61, 0x27, 0x10, 0x5a, 0x11, 0x60, 0x05, 0x57, 0x00,
];
const BURNER_CODE: &str = "0x60206000a05b6127105a1160055700";
/// How often progress is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// The signer of soak sender `index`: `keccak256("kaimeng-soak-sender" ‖ seed ‖ index ‖ attempt)`.
pub fn sender_key(seed: u64, index: u64) -> PrivateKeySigner {
    (0u64..)
        .find_map(|attempt| {
            let mut preimage = b"kaimeng-soak-sender".to_vec();
            preimage.extend_from_slice(&seed.to_be_bytes());
            preimage.extend_from_slice(&index.to_be_bytes());
            preimage.extend_from_slice(&attempt.to_be_bytes());
            PrivateKeySigner::from_bytes(&keccak256(preimage)).ok()
        })
        .expect("some attempt is a valid key")
}

/// A signed transaction: its nonce and `0x`-hex envelope.
struct Signed {
    nonce: u64,
    raw_hex: String,
}

/// What a transaction does.
struct Call {
    to: TxKind,
    value: U256,
    gas_limit: u64,
    input: Bytes,
}

fn sign(
    signer: &PrivateKeySigner,
    chain_id: u64,
    nonce: u64,
    call: Call,
) -> anyhow::Result<Signed> {
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: call.gas_limit,
        max_fee_per_gas: MAX_FEE,
        max_priority_fee_per_gas: TIP,
        to: call.to,
        value: call.value,
        access_list: Default::default(),
        input: call.input,
    };
    let signature = signer.sign_hash_sync(&tx.signature_hash())?;
    let raw = tx.into_signed(signature).encoded_2718();
    Ok(Signed {
        nonce,
        raw_hex: alloy_primitives::hex::encode_prefixed(raw),
    })
}

fn client(url: &str) -> anyhow::Result<HttpClient> {
    HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(30))
        .max_request_size(64 << 20)
        .max_response_size(64 << 20)
        .build(url)
        .with_context(|| format!("HTTP client for {url}"))
}

fn hex_u64(value: &str) -> anyhow::Result<u64> {
    u64::from_str_radix(value.trim_start_matches("0x"), 16)
        .with_context(|| format!("not a hex number: {value}"))
}

async fn nonce(client: &HttpClient, address: Address, tag: &str) -> anyhow::Result<u64> {
    let n: String = client
        .request("eth_getTransactionCount", rpc_params![address, tag])
        .await?;
    hex_u64(&n)
}

/// Sends `txs` in one batch; one `Ok` or the node's error message per transaction.
async fn send_batch(client: &HttpClient, txs: &[Signed]) -> Vec<Result<(), String>> {
    let mut batch = BatchRequestBuilder::new();
    for tx in txs {
        if let Err(err) = batch.insert("eth_sendRawTransaction", rpc_params![&tx.raw_hex]) {
            return vec![Err(err.to_string()); txs.len()];
        }
    }
    match client.batch_request::<B256>(batch).await {
        Ok(answers) => collect_answers(answers, txs.len()),
        Err(err) => vec![Err(err.to_string()); txs.len()],
    }
}

fn collect_answers(answers: BatchResponse<'_, B256>, n: usize) -> Vec<Result<(), String>> {
    let mut out: Vec<_> = answers
        .into_iter()
        .map(|a| a.map(|_| ()).map_err(|e| e.message().to_owned()))
        .collect();
    out.resize(n, Err("no answer".to_owned()));
    out
}

/// What setup leaves for the flood.
pub struct Setup {
    client: HttpClient,
    chain_id: u64,
    senders: Vec<PrivateKeySigner>,
    /// The burner's address (`--workload burn`).
    burner: Option<Address>,
}

/// Waits until `address`'s confirmed nonce reaches `nonce`.
async fn wait_nonce(
    client: &HttpClient,
    address: Address,
    nonce: u64,
    deadline: Instant,
) -> anyhow::Result<()> {
    while self::nonce(client, address, "latest").await? < nonce {
        if Instant::now() > deadline {
            bail!("setup transactions not confirmed within --setup-timeout");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// Deploys the burner (with `--workload burn`), derives the senders and funds each with enough
/// for 128 transactions at the fee cap (the pool checks one transaction's cost against the
/// balance; a confirmed burner spends about that much, and blocks do not take senders evenly).
pub async fn setup(args: &Args) -> anyhow::Result<Setup> {
    let client = client(&args.rpc)?;
    let funder = PrivateKeySigner::from_bytes(&args.funder()?).context("--key")?;
    let chain_id = hex_u64(
        &client
            .request::<String, _>("eth_chainId", rpc_params![])
            .await?,
    )?;
    let deadline = Instant::now() + Duration::from_secs(args.setup_timeout);
    let mut next = nonce(&client, funder.address(), "pending").await?;
    let burner = match args.workload {
        Workload::Transfer => None,
        Workload::Burn => {
            let deploy = Call {
                to: TxKind::Create,
                value: U256::ZERO,
                gas_limit: 100_000,
                input: Bytes::from_static(&BURNER_INIT),
            };
            let tx = sign(&funder, chain_id, next, deploy)?;
            if let Some(Err(err)) = send_batch(&client, &[tx]).await.pop() {
                bail!("deploying the burner: {err}");
            }
            let address = funder.address().create(next);
            next += 1;
            wait_nonce(&client, funder.address(), next, deadline).await?;
            let code: String = client
                .request("eth_getCode", rpc_params![address, "latest"])
                .await?;
            if code != BURNER_CODE {
                bail!("the burner at {address} has code {code}, expected {BURNER_CODE}");
            }
            Some(address)
        }
    };
    let senders: Vec<_> = (0..args.senders as u64)
        .map(|i| sender_key(args.seed, i))
        .collect();
    let amount = U256::from(MAX_FEE) * U256::from(args.gas_limit) * U256::from(128);
    for chunk in senders.chunks(FUNDING_CHUNK) {
        let txs: Vec<Signed> = chunk
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let fund = Call {
                    to: TxKind::Call(s.address()),
                    value: amount,
                    gas_limit: 21_000,
                    input: Bytes::new(),
                };
                sign(&funder, chain_id, next + i as u64, fund)
            })
            .collect::<anyhow::Result<_>>()?;
        for batch in txs.chunks(FUNDING_BATCH) {
            for (tx, answer) in batch.iter().zip(send_batch(&client, batch).await) {
                if let Err(err) = answer {
                    bail!("funding transfer with nonce {} refused: {err}", tx.nonce);
                }
            }
        }
        next += chunk.len() as u64;
        wait_nonce(&client, funder.address(), next, deadline).await?;
    }
    Ok(Setup {
        client,
        chain_id,
        senders,
        burner,
    })
}

/// The flood's counts, printed in the report.
#[derive(Debug, Default, Serialize)]
pub struct FloodReport {
    pub offered_tps: f64,
    pub submitted: u64,
    pub accepted: u64,
    /// Refused because the pool (or the sender's share of it) is full.
    pub refused_pool_full: u64,
    /// Refused for the nonce (the sender moved to the nonce the node named).
    pub refused_nonce: u64,
    pub refused_other: u64,
    pub first_errors: Vec<String>,
}

#[derive(Default)]
struct Counts {
    submitted: AtomicU64,
    accepted: AtomicU64,
    pool_full: AtomicU64,
    nonce: AtomicU64,
    other: AtomicU64,
    first_errors: Mutex<Vec<String>>,
}

impl Counts {
    fn other(&self, message: &str) {
        self.other.fetch_add(1, Relaxed);
        let mut first = self.first_errors.lock().unwrap_or_else(|e| e.into_inner());
        if first.len() < 5 && !first.iter().any(|m| m == message) {
            first.push(message.to_owned());
        }
    }
}

/// The nonce a nonce error names ("... next nonce N ...").
fn named_nonce(message: &str) -> Option<u64> {
    let rest = &message[message.find("next nonce ")? + "next nonce ".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

struct Sender {
    signer: PrivateKeySigner,
    next_nonce: u64,
}

/// One worker: its own senders, `rate` transactions per second in batches, until `stop`.
async fn worker(
    setup: Arc<Setup>,
    mut senders: Vec<Sender>,
    args: Args,
    rate: f64,
    stop: watch::Receiver<bool>,
    counts: Arc<Counts>,
) {
    let batch_every = Duration::from_secs_f64(args.batch as f64 / rate);
    let start = tokio::time::Instant::now();
    let mut cursor = 0;
    for k in 0u32.. {
        if *stop.borrow() {
            return;
        }
        tokio::time::sleep_until(start + batch_every * k).await;
        let mut batch = Vec::with_capacity(args.batch);
        let mut owners = Vec::with_capacity(args.batch);
        for _ in 0..args.batch.min(senders.len()) {
            let i = cursor % senders.len();
            cursor += 1;
            let sender = &mut senders[i];
            let call = Call {
                to: TxKind::Call(setup.burner.unwrap_or(sender.signer.address())),
                value: U256::ZERO,
                gas_limit: args.gas_limit,
                input: Bytes::new(),
            };
            match sign(&sender.signer, setup.chain_id, sender.next_nonce, call) {
                Ok(tx) => {
                    sender.next_nonce += 1;
                    batch.push(tx);
                    owners.push(i);
                }
                Err(err) => counts.other(&format!("signing: {err}")),
            }
        }
        counts.submitted.fetch_add(batch.len() as u64, Relaxed);
        let answers = send_batch(&setup.client, &batch).await;
        for ((tx, i), answer) in batch.iter().zip(owners).zip(answers) {
            let sender = &mut senders[i];
            let message = match answer {
                Ok(()) => {
                    counts.accepted.fetch_add(1, Relaxed);
                    continue;
                }
                Err(message) if message.contains("already known") => {
                    counts.accepted.fetch_add(1, Relaxed);
                    continue;
                }
                Err(message) => message,
            };
            if message.contains("nonce too") {
                counts.nonce.fetch_add(1, Relaxed);
                if let Some(n) = named_nonce(&message) {
                    sender.next_nonce = n;
                }
                continue;
            }
            sender.next_nonce = sender.next_nonce.min(tx.nonce);
            if message.contains("full") || message.contains("too many") {
                counts.pool_full.fetch_add(1, Relaxed);
            } else {
                counts.other(&message);
            }
        }
    }
}

/// Floods until `stop` turns true, printing progress (with the chain's, from `progress`) every 10 s.
pub async fn run(
    args: &Args,
    setup: Setup,
    stop: watch::Receiver<bool>,
    progress: Arc<Progress>,
) -> anyhow::Result<FloodReport> {
    let setup = Arc::new(setup);
    let counts = Arc::new(Counts::default());
    let workers = args.concurrency.clamp(1, args.senders.max(1));
    let mut shares: Vec<Vec<Sender>> = (0..workers).map(|_| Vec::new()).collect();
    for (i, signer) in setup.senders.iter().enumerate() {
        let next_nonce = nonce(&setup.client, signer.address(), "pending").await?;
        shares[i % workers].push(Sender {
            signer: signer.clone(),
            next_nonce,
        });
    }
    let started = Instant::now();
    let rate = args.rate.max(1) as f64 / workers as f64;
    let tasks: Vec<_> = shares
        .into_iter()
        .map(|share| {
            tokio::spawn(worker(
                setup.clone(),
                share,
                args.clone(),
                rate,
                stop.clone(),
                counts.clone(),
            ))
        })
        .collect();
    let printer = {
        let counts = counts.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(PROGRESS_EVERY);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                eprintln!(
                    "soak: {:>4.0} s  submitted {}  accepted {}  pool full {}  nonce {}  other {}  head {}  confirmed {}",
                    started.elapsed().as_secs_f64(),
                    counts.submitted.load(Relaxed),
                    counts.accepted.load(Relaxed),
                    counts.pool_full.load(Relaxed),
                    counts.nonce.load(Relaxed),
                    counts.other.load(Relaxed),
                    progress.head.load(Relaxed),
                    progress.confirmed.load(Relaxed),
                );
            }
        })
    };
    for task in tasks {
        task.await.context("a flood worker panicked")?;
    }
    printer.abort();
    let elapsed = started.elapsed().as_secs_f64();
    let submitted = counts.submitted.load(Relaxed);
    Ok(FloodReport {
        offered_tps: submitted as f64 / elapsed,
        submitted,
        accepted: counts.accepted.load(Relaxed),
        refused_pool_full: counts.pool_full.load(Relaxed),
        refused_nonce: counts.nonce.load(Relaxed),
        refused_other: counts.other.load(Relaxed),
        first_errors: counts
            .first_errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nonce_a_node_names_is_read_from_its_error() {
        assert_eq!(
            named_nonce("nonce too low: next nonce 17, tx nonce 3"),
            Some(17)
        );
        assert_eq!(
            named_nonce("nonce too high: next nonce 4, tx nonce 2000 is more than 1024 ahead"),
            Some(4)
        );
        assert_eq!(named_nonce("txpool is full (200000 transactions)"), None);
    }

    #[test]
    fn sender_keys_are_deterministic_and_distinct() {
        assert_eq!(sender_key(1, 0).address(), sender_key(1, 0).address());
        assert_ne!(sender_key(1, 0).address(), sender_key(1, 1).address());
        assert_ne!(sender_key(1, 0).address(), sender_key(2, 0).address());
    }

    #[test]
    fn signed_transactions_decode_to_what_was_signed() {
        use alloy_consensus::transaction::SignerRecoverable;
        use alloy_consensus::{Transaction, TxEnvelope};
        use alloy_eips::eip2718::Decodable2718;
        let signer = sender_key(1, 0);
        let call = Call {
            to: TxKind::Call(signer.address()),
            value: U256::ZERO,
            gas_limit: 15_000_000,
            input: Bytes::new(),
        };
        let tx = sign(&signer, 31337, 5, call).unwrap();
        let raw = alloy_primitives::hex::decode(&tx.raw_hex).unwrap();
        let envelope = TxEnvelope::decode_2718(&mut raw.as_slice()).unwrap();
        assert_eq!(envelope.nonce(), 5);
        assert_eq!(envelope.gas_limit(), 15_000_000);
        assert_eq!(envelope.chain_id(), Some(31337));
        assert_eq!(envelope.recover_signer().unwrap(), signer.address());
    }
}
