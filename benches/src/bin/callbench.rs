//! `eth_call` latency at a fixed request rate: deploys KaiToken through `eth_sendTransaction`
//! (dev accounts), then calls `balanceOf` at `--rate` requests per second for `--seconds`, and
//! prints latency percentiles. Works against `kaimeng dev` and anvil alike.
//!
//! `cargo run -p kaimeng-benches --features loadgen --bin callbench -- --rpc http://127.0.0.1:8545`

use std::time::{Duration, Instant};

use alloy_sol_types::{SolConstructor, sol};
use anyhow::{Context, bail};
use clap::Parser;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::HttpClientBuilder;
use jsonrpsee::rpc_params;
use serde_json::{Value, json};

sol! {
    constructor(string name, string symbol, uint256 supply);
}

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8545")]
    rpc: String,
    /// Requests per second.
    #[arg(long, default_value_t = 500)]
    rate: u64,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    #[arg(long, default_value = "tests/contracts/out/KaiToken.json")]
    artifact: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

const DEPLOYER: &str = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(30))
        .max_concurrent_requests(4096)
        .build(&args.rpc)?;
    let artifact: Value = serde_json::from_str(
        &std::fs::read_to_string(&args.artifact)
            .with_context(|| format!("reading {}", args.artifact))?,
    )?;
    let bytecode = artifact["bytecode"]
        .as_str()
        .context("artifact has no bytecode")?;
    let ctor = alloy_primitives::hex::encode(
        constructorCall {
            name: "Kai".into(),
            symbol: "KAI".into(),
            supply: alloy_primitives::U256::from(10u64).pow(alloy_primitives::U256::from(24u64)),
        }
        .abi_encode(),
    );
    let hash: String = client
        .request(
            "eth_sendTransaction",
            rpc_params![
                json!({"from": DEPLOYER, "data": format!("{bytecode}{ctor}"), "gas": "0x2dc6c0"})
            ],
        )
        .await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let token = loop {
        let receipt: Value = client
            .request("eth_getTransactionReceipt", rpc_params![hash.clone()])
            .await?;
        if let Some(address) = receipt.get("contractAddress").and_then(Value::as_str) {
            break address.to_string();
        }
        if Instant::now() > deadline {
            bail!("deployment not mined within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // balanceOf(deployer)
    let data = format!("0x70a08231{:0>64}", &DEPLOYER[2..]);
    let call = json!({"to": token, "data": data});
    let check: String = client
        .request("eth_call", rpc_params![call.clone(), "latest"])
        .await?;
    if check.len() != 66 {
        bail!("unexpected balanceOf result {check}");
    }

    let total = args.rate * args.seconds;
    let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let due = start + interval * i as u32;
        let now = Instant::now();
        if due > now {
            tokio::time::sleep(due - now).await;
        }
        let client = client.clone();
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let result: Result<String, _> = client
                .request("eth_call", rpc_params![call, "latest"])
                .await;
            result.map(|_| sent.elapsed())
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    let mut errors = 0;
    for task in tasks {
        match task.await? {
            Ok(latency) => latencies.push(latency.as_secs_f64() * 1000.0),
            Err(_) => errors += 1,
        }
    }
    let achieved = latencies.len() as f64 / start.elapsed().as_secs_f64();
    latencies.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    let summary = json!({
        "rpc": args.rpc, "rate": args.rate, "requests": total, "ok": latencies.len(), "errors": errors,
        "achieved_rps": achieved, "p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99), "max_ms": latencies.last().copied().unwrap_or(f64::NAN),
    });
    if args.json {
        println!("{summary}");
    } else {
        println!(
            "eth_call at {} rps for {} s against {}: {} ok, {} errors; p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            args.rate,
            args.seconds,
            args.rpc,
            latencies.len(),
            errors,
            pct(0.50),
            pct(0.90),
            pct(0.99),
            latencies.last().copied().unwrap_or(f64::NAN)
        );
    }
    Ok(())
}
