//! A sustained heavy-read load on one JSON-RPC node: `--workers` clients each loop over
//! `eth_call` of a counting loop (about 26 gas per iteration, `--call-iterations` of them, no
//! contract needed: the code runs as a creation) and `eth_getLogs` (every log of the last
//! `--recent-blocks` blocks, and a bloom scan of the last 10,000 blocks for a topic nobody
//! emits), until `--seconds` pass or SIGINT/SIGTERM. A call refused as busy (-32005) is retried
//! after `--busy-backoff-ms`, as a polite client would, so the node's read pool stays full
//! without the load turning into a flood of refusals.
//!
//! Prints one JSON line: calls answered per kind, busy refusals, other errors, latency
//! percentiles of the answered calls. `benches/read-load.sh` runs it beside the load generator.
//!
//! `cargo run --release -p kaimeng-benches --features loadgen --bin readload -- --rpc URL`

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use jsonrpsee::core::ClientError;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use serde_json::{Value, json};

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8545")]
    rpc: String,
    /// Clients sending at once, each waiting for its answer before the next call.
    #[arg(long, default_value_t = 32)]
    workers: usize,
    /// Stop after this many seconds (0: only on SIGINT/SIGTERM).
    #[arg(long, default_value_t = 0)]
    seconds: u64,
    /// Loop iterations of each `eth_call` (about 26 gas each).
    #[arg(long, default_value_t = 200_000)]
    call_iterations: u32,
    /// `eth_getLogs` without a filter over this many of the newest blocks.
    #[arg(long, default_value_t = 20)]
    recent_blocks: u64,
    /// What to send: `both` alternates eth_call and the two eth_getLogs; `call` or `logs` only
    /// one of them.
    #[arg(long, default_value = "both", value_parser = ["both", "call", "logs"])]
    mix: String,
    /// Pause of a worker after a busy refusal, in milliseconds.
    #[arg(long, default_value_t = 100)]
    busy_backoff_ms: u64,
}

/// The creation code of the counting loop: `n` from `iterations` down to 0, then STOP.
fn loop_code(iterations: u32) -> String {
    let n = iterations.clamp(1, 0x00ff_ffff).to_be_bytes();
    // PUSH3 n; JUMPDEST; PUSH1 1; SWAP1; SUB; DUP1; PUSH1 4; JUMPI; STOP
    format!(
        "0x62{:02x}{:02x}{:02x}5b600190038060045700",
        n[1], n[2], n[3]
    )
}

#[derive(Clone, Copy)]
enum Kind {
    Call,
    RecentLogs,
    ScanLogs,
}

#[derive(Default)]
struct Tally {
    answered: [u64; 3],
    busy: u64,
    errors: u64,
    first_error: Option<String>,
    latencies_ms: Vec<f64>,
}

async fn head(client: &HttpClient) -> anyhow::Result<u64> {
    let hex: String = client.request("eth_blockNumber", rpc_params![]).await?;
    Ok(u64::from_str_radix(hex.trim_start_matches("0x"), 16)?)
}

async fn worker(
    client: HttpClient,
    args: Arc<Args>,
    stop: Arc<AtomicBool>,
    first: usize,
) -> anyhow::Result<Tally> {
    let call = json!({"data": loop_code(args.call_iterations)});
    let kinds: &[Kind] = match args.mix.as_str() {
        "call" => &[Kind::Call],
        "logs" => &[Kind::RecentLogs, Kind::ScanLogs],
        _ => &[Kind::Call, Kind::RecentLogs, Kind::Call, Kind::ScanLogs],
    };
    let mut tally = Tally::default();
    let mut next = first;
    while !stop.load(Ordering::Relaxed) {
        let kind = kinds[next % kinds.len()];
        let started = Instant::now();
        let answer: Result<Value, ClientError> = match kind {
            Kind::Call => {
                client
                    .request("eth_call", rpc_params![call.clone(), "latest"])
                    .await
            }
            Kind::RecentLogs => {
                let to = head(&client).await?;
                let from = to.saturating_sub(args.recent_blocks.saturating_sub(1));
                let filter =
                    json!({"fromBlock": format!("{from:#x}"), "toBlock": format!("{to:#x}")});
                client.request("eth_getLogs", rpc_params![filter]).await
            }
            Kind::ScanLogs => {
                let to = head(&client).await?;
                let from = to.saturating_sub(9_999);
                let filter = json!({
                    "fromBlock": format!("{from:#x}"), "toBlock": format!("{to:#x}"),
                    "topics": [format!("0x{}", "ab".repeat(32))],
                });
                client.request("eth_getLogs", rpc_params![filter]).await
            }
        };
        match answer {
            Ok(_) => {
                tally.answered[kind as usize] += 1;
                tally
                    .latencies_ms
                    .push(started.elapsed().as_secs_f64() * 1000.0);
                next += 1;
            }
            Err(ClientError::Call(error)) if error.code() == -32005 => {
                tally.busy += 1;
                tokio::time::sleep(Duration::from_millis(args.busy_backoff_ms)).await;
            }
            Err(error) => {
                tally.errors += 1;
                tally.first_error.get_or_insert_with(|| error.to_string());
                next += 1;
            }
        }
    }
    Ok(tally)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Arc::new(Args::parse());
    let client = HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(60))
        .max_concurrent_requests(args.workers.max(1) * 2)
        .build(&args.rpc)?;
    // The node answers and the loop code runs before the clock starts.
    let check: String = client
        .request(
            "eth_call",
            rpc_params![json!({"data": loop_code(10)}), "latest"],
        )
        .await
        .with_context(|| format!("eth_call on {}", args.rpc))?;
    anyhow::ensure!(check == "0x", "the loop code answered {check}, not 0x");

    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let workers: Vec<_> = (0..args.workers.max(1))
        .map(|i| tokio::spawn(worker(client.clone(), args.clone(), stop.clone(), i)))
        .collect();
    let limit = async {
        if args.seconds == 0 {
            std::future::pending::<()>().await
        } else {
            tokio::time::sleep(Duration::from_secs(args.seconds)).await
        }
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        () = limit => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    stop.store(true, Ordering::Relaxed);
    let mut total = Tally::default();
    for worker in workers {
        let tally = worker.await??;
        for (sum, n) in total.answered.iter_mut().zip(tally.answered) {
            *sum += n;
        }
        total.busy += tally.busy;
        total.errors += tally.errors;
        if total.first_error.is_none() {
            total.first_error = tally.first_error;
        }
        total.latencies_ms.extend(tally.latencies_ms);
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut latencies = total.latencies_ms;
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    let answered: u64 = total.answered.iter().sum();
    println!(
        "{}",
        json!({
            "rpc": args.rpc, "workers": args.workers, "seconds": seconds,
            "call_iterations": args.call_iterations,
            "eth_call": total.answered[Kind::Call as usize],
            "getlogs_recent": total.answered[Kind::RecentLogs as usize],
            "getlogs_scan": total.answered[Kind::ScanLogs as usize],
            "answered_per_s": answered as f64 / seconds,
            "busy": total.busy, "busy_per_s": total.busy as f64 / seconds,
            "errors": total.errors, "first_error": total.first_error,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99),
            "max_ms": latencies.last().copied().unwrap_or(f64::NAN),
        })
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::loop_code;

    #[test]
    fn the_loop_code_encodes_its_count() {
        assert_eq!(loop_code(10), "0x6200000a5b600190038060045700");
        assert_eq!(loop_code(0x01_0203), "0x620102035b600190038060045700");
    }
}
