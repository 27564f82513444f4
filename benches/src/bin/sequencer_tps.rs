//! Soft-confirmed transfers per second of the rollup sequencer, end to end through its
//! JSON-RPC: HTTP clients on loopback send pre-signed transfers to `rollup_sendTransaction`,
//! and a transfer counts once its answer says "accepted", which the sequencer gives only after
//! checking the signature, applying it to the soft ledger and syncing its journal to disk.
//!
//! The same run measures what a soft confirmation is made of on one core (a signature check, a
//! ledger update), and the state transition per transfer when a batch closes, on every core
//! (the rate at which batches can follow). Shard 0 is not involved: the sequencer's core and RPC run in-process
//! on a state with the senders already funded.
//!
//! ```text
//! cargo run --profile dev -p kaimeng-benches --features sequencer --bin sequencer_tps -- \
//!     --transfers 40000 --senders 512 --concurrency 256
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::HttpClientBuilder;
use jsonrpsee::rpc_params;
use kaimeng::sequencer::core::{Base, Core, Settings};
use kaimeng::sequencer::wire::TxRequest;
use kaimeng_rollup::journal::Journal;
use kaimeng_rollup::soft::SoftLedger;
use kaimeng_rollup::stf::{ChunkConfig, L2State};
use kaimeng_rollup::tx::Transfer;
use kaimeng_rollup::{Account, L1Address, L2Op, SigningKey};
use serde_json::Value;

const CHAIN: u64 = 31337;

#[derive(Parser, Debug)]
struct Args {
    /// Transfers to send.
    #[arg(long, default_value_t = 40_000)]
    transfers: usize,
    /// L2 accounts sending (each sends its transfers in nonce order).
    #[arg(long, default_value_t = 512)]
    senders: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Directory for the journal (a real disk: the journal is fsynced).
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
}

fn key(i: usize) -> SigningKey {
    kaimeng_benches::l2_keys::l2_key(i as u64)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let senders = args.senders.max(2);
    let per_sender = args.transfers.div_ceil(senders);
    let total = per_sender * senders;

    // Account 0 is the fee account; senders are 1..=senders, each funded.
    let keys: Vec<SigningKey> = (0..=senders).map(key).collect();
    let mut base = L2State::new();
    for (i, k) in keys.iter().enumerate() {
        base.set_account(
            i as u32,
            Account {
                public_key: Some(k.public_key()),
                l1_address: L1Address([i as u8; 20]),
                balance: 1 << 50,
                nonce: 0,
            },
        );
    }

    // Pre-signed transfers, round-robin over senders (client-side work, not timed).
    let started = Instant::now();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let signed: Vec<Vec<TxRequest>> = std::thread::scope(|scope| {
        let keys = &keys;
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (1..=senders)
                        .filter(|s| s % threads == t)
                        .map(|s| {
                            let to = if s == senders { 1 } else { s + 1 } as u32;
                            (0..per_sender)
                                .map(|nonce| {
                                    TxRequest::from_transfer(
                                        Transfer {
                                            from: s as u32,
                                            to,
                                            amount: 1,
                                            fee: 1,
                                            nonce: nonce as u32,
                                        }
                                        .sign(&keys[s], CHAIN),
                                    )
                                })
                                .collect::<Vec<_>>()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("signing thread"))
            .collect()
    });
    eprintln!(
        "signed {total} transfers in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // What a transfer costs: a signature check on one core, and the state transition at batch
    // close (signatures checked in a batch, tree hashed level by level, on every core).
    let sample: Vec<L2Op> = (1..=senders.min(200))
        .map(|s| {
            L2Op::Transfer(
                Transfer {
                    from: s as u32,
                    to: 1,
                    amount: 1,
                    fee: 1,
                    nonce: 0,
                }
                .sign(&keys[s], CHAIN),
            )
        })
        .collect();
    let t = Instant::now();
    for op in &sample {
        let pk = keys[match op {
            L2Op::Transfer(t) => t.tx.from as usize,
            _ => unreachable!(),
        }]
        .public_key();
        assert!(SoftLedger::signature_ok(op, &pk, CHAIN));
    }
    let verify_us = t.elapsed().as_secs_f64() * 1e6 / sample.len() as f64;
    let items: Vec<_> = sample
        .iter()
        .map(|op| {
            let (message, sig) = SoftLedger::signed_parts(op, CHAIN).expect("signed");
            let from = match op {
                L2Op::Transfer(t) => t.tx.from as usize,
                _ => unreachable!(),
            };
            (keys[from].public_key(), message, sig)
        })
        .collect();
    let t = Instant::now();
    assert!(kaimeng_rollup::schnorr::verify_batch(&items));
    let batch_us = t.elapsed().as_secs_f64() * 1e6 / items.len() as f64;
    let mut tree = base.clone();
    let t = Instant::now();
    tree.apply_batch(
        ChunkConfig {
            chain_id: CHAIN,
            fee_account: 0,
            slots: 29,
        },
        &sample,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let tree_ms = t.elapsed().as_secs_f64() * 1e3 / sample.len() as f64;

    let dir = match &args.dir {
        Some(dir) => tempfile::tempdir_in(dir)?,
        None => tempfile::tempdir_in(".")?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (elapsed, mut latencies, accepted) = runtime.block_on(async {
        let (journal, recovered) = Journal::open(dir.path().join("journal"))?;
        let settings = Settings {
            chain_id: CHAIN,
            slots: 29,
            max_chunks: 16,
            chunks_per_proof: 8,
            decide_every: 32,
            decide_wait: Duration::from_secs(600),
            decide_step_gas: 12_000_000,
            max_wait: Duration::from_secs(3600),
            min_fee: 1,
            chunk_k: 16,
            keep_executed: 100_000,
            compact_after_ops: 100_000,
        };
        let (core, _) = Core::open(
            settings,
            journal,
            recovered.records,
            Base::empty(&base),
            Duration::from_secs(60),
        )?;
        core.start_tasks();
        // The public listener as a sequencer serves it, with its default limits (20,000
        // requests per second per client address).
        let limits = kaimeng::sequencer::rpc::PublicLimits::default();
        let (addr, _server) =
            kaimeng::sequencer::rpc::serve("127.0.0.1:0".parse()?, core.clone(), &limits).await?;
        let client = Arc::new(
            HttpClientBuilder::default()
                .max_concurrent_requests(args.concurrency * 2)
                .build(format!("http://{addr}"))?,
        );
        // Each task owns some senders and sends their transfers in nonce order.
        let lanes = args.concurrency.min(senders);
        let mut queues: Vec<Vec<TxRequest>> = vec![Vec::new(); lanes];
        for (s, transfers) in signed.into_iter().enumerate() {
            let lane = &mut queues[s % lanes];
            // Interleave this sender's transfers after the lane's earlier ones.
            lane.extend(transfers);
        }
        let started = Instant::now();
        let tasks: Vec<_> = queues
            .into_iter()
            .map(|queue| {
                let client = client.clone();
                tokio::spawn(async move {
                    let mut latencies = Vec::with_capacity(queue.len());
                    for request in queue {
                        let t = Instant::now();
                        let answer: Value = client
                            .request("rollup_sendTransaction", rpc_params![request])
                            .await
                            .map_err(|e| anyhow::anyhow!("rollup_sendTransaction: {e}"))?;
                        anyhow::ensure!(answer["status"] == "accepted", "{answer}");
                        latencies.push(t.elapsed());
                    }
                    anyhow::Ok(latencies)
                })
            })
            .collect();
        let mut latencies = Vec::with_capacity(total);
        for task in tasks {
            latencies.extend(task.await??);
        }
        let elapsed = started.elapsed();
        let accepted = core.status_view()["accepted"].as_u64().unwrap_or_default();
        anyhow::Ok((elapsed, latencies, accepted))
    })?;
    anyhow::ensure!(accepted as usize == total, "accepted {accepted} of {total}");
    latencies.sort();
    let tps = total as f64 / elapsed.as_secs_f64();
    println!("| transfers | senders | in flight | soft-confirmed TPS | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {total} | {senders} | {} | **{tps:.0}** | {:.2} | {:.2} | {:.2} |",
        args.concurrency,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0)
    );
    println!();
    println!(
        "one core: signature check {verify_us:.0} µs per transfer alone, {batch_us:.0} µs in a \
         batch of {}; every core: batch close (the state transition with its signature checks \
         and tree work) {tree_ms:.2} ms per transfer, {:.0} transfers/s on {} cores",
        items.len(),
        1e3 / tree_ms,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    Ok(())
}
