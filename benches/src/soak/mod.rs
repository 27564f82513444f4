//! The soak's load: a flood of large-gas-limit transactions at a fixed rate for a fixed time,
//! WebSocket clients that subscribe and then read very slowly or never, and one client that
//! reads `newHeads` promptly and counts what gets confirmed. `benches/soak.sh` runs it against a
//! fresh `kaimeng dev` and samples the node's resident memory meanwhile.

pub mod filters;
pub mod flood;
pub mod heads;
pub mod readers;
pub mod ws;

use std::time::Duration;

use alloy_primitives::B256;
use anyhow::Context;
use clap::Parser;
use serde::Serialize;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    Burn,
    Transfer,
}

/// Account 0 of the `test test ... junk` mnemonic, funded by every dev genesis.
pub const DEV_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

#[derive(Parser, Debug, Clone)]
#[command(
    name = "soak",
    about = "Floods a node with transactions and stalls WebSocket subscribers for a fixed time"
)]
pub struct Args {
    /// JSON-RPC over HTTP.
    #[arg(long, default_value = "http://127.0.0.1:8545")]
    pub rpc: String,
    /// WebSocket URL (default: the RPC's host and port).
    #[arg(long)]
    pub ws: Option<String>,
    /// How long to flood, in seconds.
    #[arg(long, default_value_t = 600)]
    pub duration: u64,
    /// Transactions offered per second.
    #[arg(long, default_value_t = 300)]
    pub rate: u64,
    /// Gas limit of every flood transaction.
    #[arg(long, default_value_t = 15_000_000)]
    pub gas_limit: u64,
    /// `burn`: each transaction calls a contract that logs once and loops until its gas is
    /// nearly gone, so two 15M-gas ones fill a 30M-gas block; `transfer`: a 0-wei transfer to
    /// its sender (21,000 gas used whatever the limit).
    #[arg(long, value_enum, default_value_t = Workload::Burn)]
    pub workload: Workload,
    /// Sending accounts, funded at setup from `--key`.
    #[arg(long, default_value_t = 2_000)]
    pub senders: usize,
    /// Transactions per `eth_sendRawTransaction` batch.
    #[arg(long, default_value_t = 50)]
    pub batch: usize,
    /// Batches in flight.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Clients that subscribe to newHeads, logs and newPendingTransactions and never read.
    #[arg(long, default_value_t = 25)]
    pub never_readers: usize,
    /// Clients that subscribe to the same and read `--slow-read-bytes` bytes a second.
    #[arg(long, default_value_t = 25)]
    pub slow_readers: usize,
    #[arg(long, default_value_t = 1_024)]
    pub slow_read_bytes: usize,
    /// Clients that send `eth_getBlockByNumber("latest", true)` at `--flooder-rate` a second
    /// and never read the answers.
    #[arg(long, default_value_t = 0)]
    pub request_flooders: usize,
    #[arg(long, default_value_t = 5_000)]
    pub flooder_rate: u64,
    /// Polling filters of each kind (pending transactions, blocks, logs) installed at the start
    /// and never polled.
    #[arg(long, default_value_t = 1_000)]
    pub idle_filters: usize,
    /// Seed of the sender keys.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The funding account's secret key.
    #[arg(long, default_value = DEV_KEY, env = "SOAK_KEY", hide_env_values = true)]
    pub key: String,
    /// With never-readers, the flood goes on past `--duration` until each never-reader's
    /// connection must have overflowed the node's bound (judged by what the prompt reader was
    /// sent) and the node's grace has passed, for at most this many seconds more.
    #[arg(long, default_value_t = 240)]
    pub max_extension: u64,
    /// Give up setting up after this many seconds.
    #[arg(long, default_value_t = 300)]
    pub setup_timeout: u64,
}

impl Args {
    pub fn ws_url(&self) -> anyhow::Result<String> {
        if let Some(ws) = &self.ws {
            return Ok(ws.clone());
        }
        let rest = self
            .rpc
            .strip_prefix("http://")
            .context("--rpc must start with http:// (or give --ws)")?;
        Ok(format!("ws://{rest}"))
    }

    pub fn funder(&self) -> anyhow::Result<B256> {
        self.key.parse().context("--key is not 32 bytes of hex")
    }
}

/// What one soak run did, printed as one JSON object.
#[derive(Debug, Serialize)]
pub struct Report {
    pub duration_secs: f64,
    pub bound: BoundReport,
    pub idle_filters_installed: u64,
    pub flood: flood::FloodReport,
    pub chain: heads::HeadsReport,
    pub readers: readers::ReadersReport,
}

/// Sets up, then runs the flood, the readers and the heads counter side by side for
/// `--duration` seconds, or longer while the never-readers' bound is not yet tested
/// ([`flood_length`]).
pub async fn run(args: &Args) -> anyhow::Result<Report> {
    let ws = args.ws_url()?;
    let setup = flood::setup(args).await.context("setting up the senders")?;
    eprintln!(
        "soak: {} senders funded; flooding {} tx/s ({:?}, gas limit {}) for {} s with {} never-reading and {} slow WebSocket subscribers",
        args.senders,
        args.rate,
        args.workload,
        args.gas_limit,
        args.duration,
        args.never_readers,
        args.slow_readers
    );
    let idle_filters_installed = filters::install_idle(&args.rpc, args.idle_filters)
        .await
        .context("installing idle filters")?;
    let started = std::time::Instant::now();
    let readers = readers::start(&ws, args)
        .await
        .context("starting readers")?;
    let heads = heads::start(&args.rpc).await.context("reading the head")?;
    let (stop_flood, flood_stops) = tokio::sync::watch::channel(false);
    let control = async {
        let bound = flood_length(args, &readers).await;
        let _ = stop_flood.send(true);
        bound
    };
    let (flood, bound) = tokio::join!(
        flood::run(args, setup, flood_stops, heads.progress()),
        control
    );
    let flood = flood?;
    let chain = heads.finish().await;
    let readers = readers.finish().await;
    Ok(Report {
        duration_secs: started.elapsed().as_secs_f64(),
        bound,
        idle_filters_installed,
        flood,
        chain,
        readers,
    })
}

/// Whether the flood sent enough to test the node's bound on a client that never reads.
#[derive(Debug, Default, Serialize)]
pub struct BoundReport {
    /// What one never-reader's connection can absorb before the node's bound is full
    /// ([`readers::never_reader_capacity`]); 0 without never-readers.
    pub never_reader_capacity_bytes: u64,
    /// What the prompt reader had been sent when the flood stopped.
    pub prompt_bytes_at_stop: u64,
    /// Seconds the flood ran past `--duration`.
    pub extension_secs: f64,
    /// The capacity was passed and the node's grace ran out before the flood stopped, so
    /// every never-reader must have been cut off.
    pub tested: bool,
}

/// The node's grace for a notification waiting for room (`SLOW_SUBSCRIBER_GRACE` in
/// `rpc/src/eth/subscribe.rs`), with a margin.
const CUT_OFF_AFTER_FULL: Duration = Duration::from_secs(10 + 5);

/// Waits out `--duration`, then, with never-readers, until the prompt reader has been sent more
/// than a never-reader's connection holds and the grace has passed since, at most
/// `--max-extension` seconds more. A flood's notifications come mostly at the offered rate
/// (pending transactions), so this rarely extends it; it keeps the check independent of how
/// fast the machine confirms.
async fn flood_length(args: &Args, readers: &readers::Readers) -> BoundReport {
    let started = tokio::time::Instant::now();
    let duration = Duration::from_secs(args.duration);
    if args.never_readers == 0 {
        tokio::time::sleep(duration).await;
        return BoundReport::default();
    }
    let capacity = readers::never_reader_capacity();
    let limit = started + duration + Duration::from_secs(args.max_extension);
    let mut passed_at = None;
    loop {
        let now = tokio::time::Instant::now();
        if passed_at.is_none() && readers.prompt_bytes() > capacity {
            passed_at = Some(now);
        }
        let done = passed_at.is_some_and(|at| now >= at + CUT_OFF_AFTER_FULL);
        if now >= limit || (now >= started + duration && done) {
            let extension = now.saturating_duration_since(started + duration);
            return BoundReport {
                never_reader_capacity_bytes: capacity,
                prompt_bytes_at_stop: readers.prompt_bytes(),
                extension_secs: extension.as_secs_f64(),
                tested: done,
            };
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
