//! The chain's progress during the soak, polled over HTTP (a subscriber could itself be cut off
//! by the node it measures): the head every 100 ms, the transactions of every new block, and the
//! longest time without a new block (liveness).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::params::BatchRequestBuilder;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

const POLL: Duration = Duration::from_millis(100);
const COUNT_BATCH: u64 = 100;

/// What the flood's progress lines show of the chain.
#[derive(Default)]
pub struct Progress {
    pub head: AtomicU64,
    pub confirmed: AtomicU64,
}

/// The chain over the soak, printed in the report.
#[derive(Debug, Default, Serialize)]
pub struct HeadsReport {
    pub head_start: u64,
    pub head_end: u64,
    pub blocks: u64,
    pub confirmed_txs: u64,
    pub ctps: f64,
    /// The longest time between two new heads seen (100 ms resolution).
    pub longest_head_gap_ms: u64,
    pub rpc_errors: u64,
}

pub struct Heads {
    progress: Arc<Progress>,
    stop: watch::Sender<bool>,
    task: JoinHandle<HeadsReport>,
}

fn hex_u64(value: &str) -> Option<u64> {
    u64::from_str_radix(value.trim_start_matches("0x"), 16).ok()
}

async fn block_number(client: &HttpClient) -> Option<u64> {
    let n: String = client
        .request("eth_blockNumber", rpc_params![])
        .await
        .ok()?;
    hex_u64(&n)
}

/// Transactions in blocks `from..=to`, or `None` if the node did not answer.
async fn count_txs(client: &HttpClient, from: u64, to: u64) -> Option<u64> {
    let mut total = 0;
    let mut start = from;
    while start <= to {
        let end = to.min(start + COUNT_BATCH - 1);
        let mut batch = BatchRequestBuilder::new();
        for n in start..=end {
            batch
                .insert(
                    "eth_getBlockTransactionCountByNumber",
                    rpc_params![format!("0x{n:x}")],
                )
                .ok()?;
        }
        let answers = client.batch_request::<String>(batch).await.ok()?;
        for answer in answers.into_iter() {
            total += hex_u64(&answer.ok()?)?;
        }
        start = end + 1;
    }
    Some(total)
}

/// Starts polling `rpc`.
pub async fn start(rpc: &str) -> anyhow::Result<Heads> {
    let client = HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(30))
        .build(rpc)?;
    let head_start = block_number(&client)
        .await
        .ok_or_else(|| anyhow::anyhow!("eth_blockNumber failed"))?;
    let progress = Arc::new(Progress::default());
    progress.head.store(head_start, Relaxed);
    let (stop, mut stopped) = watch::channel(false);
    let shared = progress.clone();
    let task = tokio::spawn(async move {
        let started = Instant::now();
        let mut report = HeadsReport {
            head_start,
            head_end: head_start,
            ..HeadsReport::default()
        };
        let mut last_new_head = Instant::now();
        let mut ticker = tokio::time::interval(POLL);
        loop {
            tokio::select! {
                _ = stopped.changed() => break,
                _ = ticker.tick() => {}
            }
            let Some(head) = block_number(&client).await else {
                report.rpc_errors += 1;
                continue;
            };
            if head <= report.head_end {
                continue;
            }
            let Some(txs) = count_txs(&client, report.head_end + 1, head).await else {
                report.rpc_errors += 1;
                continue;
            };
            let gap = last_new_head.elapsed().as_millis() as u64;
            report.longest_head_gap_ms = report.longest_head_gap_ms.max(gap);
            last_new_head = Instant::now();
            report.blocks += head - report.head_end;
            report.confirmed_txs += txs;
            report.head_end = head;
            shared.head.store(head, Relaxed);
            shared.confirmed.store(report.confirmed_txs, Relaxed);
        }
        report.ctps = report.confirmed_txs as f64 / started.elapsed().as_secs_f64();
        report
    });
    Ok(Heads {
        progress,
        stop,
        task,
    })
}

impl Heads {
    pub fn progress(&self) -> Arc<Progress> {
        self.progress.clone()
    }

    pub async fn finish(self) -> HeadsReport {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or_default()
    }
}
