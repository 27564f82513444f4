//! End-to-end tests of the load generator against a real anvil.
//!
//! anvil comes from `$ANVIL_BIN`, else from where `benches/compare-anvil.sh` installs it
//! (`${ANVIL_HOME:-${XDG_CACHE_HOME:-~/.cache}/kaimeng-anvil}`). Without it these tests print
//! that they were skipped, unless `REQUIRE_ANVIL=1`, which makes a missing anvil a failure.

use std::{path::PathBuf, process::Stdio, time::Duration};

use clap::Parser;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
    time::timeout,
};

use super::{
    config::{Args, RunConfig},
    keys::sender_keys,
    rpc::Node,
    run,
};

fn anvil_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ANVIL_BIN") {
        return Some(PathBuf::from(path));
    }
    let home = std::env::var_os("ANVIL_HOME")
        .map(PathBuf::from)
        .or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
            Some(cache.join("kaimeng-anvil"))
        })?;
    let path = home.join("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    path.exists().then_some(path)
}

/// A running anvil, killed when dropped.
struct Anvil {
    _child: Child,
    url: String,
}

/// Starts anvil on a free port with `flags`; `None` (after saying so) if anvil is not installed.
async fn start_anvil(flags: &[&str]) -> Option<Anvil> {
    let Some(path) = anvil_path() else {
        assert!(
            std::env::var("REQUIRE_ANVIL").is_err(),
            "REQUIRE_ANVIL is set but anvil is not installed"
        );
        eprintln!(
            "SKIPPED: anvil not installed (run benches/compare-anvil.sh once, or set ANVIL_BIN)"
        );
        return None;
    };
    let mut child = Command::new(&path)
        .args(["--port", "0"])
        .args(flags)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {}: {err}", path.display()));
    let mut lines = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
    // anvil prints "Listening on 127.0.0.1:PORT" once its RPC server is up.
    let address = timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("reading anvil's stdout") {
            if let Some(address) = line.strip_prefix("Listening on ") {
                return address.trim().to_owned();
            }
        }
        panic!("anvil exited before listening");
    })
    .await
    .expect("anvil did not start listening within 30 s");
    // Keep draining its output so that anvil never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Some(Anvil {
        _child: child,
        url: format!("http://{address}"),
    })
}

fn config(url: &str, extra: &[&str]) -> RunConfig {
    let mut argv = vec!["loadgen", "--rpc", url];
    argv.extend_from_slice(extra);
    RunConfig::try_from(Args::parse_from(argv)).expect("valid test options")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transfer_is_confirmed_and_counted_once() {
    let Some(anvil) = start_anvil(&["--block-time", "0.05"]).await else {
        return;
    };
    let config = config(
        &anvil.url,
        &[
            "--senders",
            "20",
            "--txs",
            "400",
            "--concurrency",
            "8",
            "--confirm-with",
            "receipts",
            "--timeout",
            "60",
        ],
    );
    let report = timeout(Duration::from_secs(120), run(&config))
        .await
        .expect("run within 120 s")
        .expect("run succeeds");

    assert_eq!(
        (report.sent, report.accepted, report.failed),
        (400, 400, 0),
        "{report}"
    );
    assert_eq!(
        (report.confirmed, report.unconfirmed, report.reverted),
        (400, 0, Some(0)),
        "{report}"
    );
    assert!(!report.timed_out);
    assert!(report.ctps > 0.0 && report.duration_secs > 0.0);
    let l = report.latency_ms;
    assert!(
        0.0 < l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max,
        "{l:?}"
    );
    assert!(report.blocks >= 1 && report.max_txs_per_block >= 1);
    assert!((report.mean_txs_per_block * report.blocks as f64 - 400.0).abs() < 1e-6);

    // Independently of the tracker: the node executed exactly 20 transfers per sender.
    let node = Node::connect(&anvil.url, Duration::from_secs(10)).unwrap();
    let addresses: Vec<_> = sender_keys(config.seed, 20)
        .iter()
        .map(|k| k.address())
        .collect();
    assert_eq!(node.nonces(&addresses).await.unwrap(), vec![20; 20]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paced_batched_submission_holds_the_target_rate() {
    let Some(anvil) = start_anvil(&["--block-time", "0.05"]).await else {
        return;
    };
    // 7 does not divide 300, so the last request is a short batch.
    let config = config(
        &anvil.url,
        &[
            "--senders",
            "10",
            "--txs",
            "300",
            "--batch",
            "7",
            "--rate",
            "300",
            "--seed",
            "5",
        ],
    );
    let report = timeout(Duration::from_secs(120), run(&config))
        .await
        .expect("run within 120 s")
        .expect("run succeeds");

    assert_eq!(
        (report.sent, report.failed, report.confirmed),
        (300, 0, 300),
        "{report}"
    );
    // 300 transactions at 300/s: the last batch is due at 294/300 s.
    assert!(
        report.submit_secs >= 0.97,
        "submitted in {} s, faster than the 300/s target",
        report.submit_secs
    );
    assert!(report.offered_tps <= 310.0, "{report}");
    assert_eq!(report.reverted, None, "hashes only, without receipts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_gives_up_at_its_timeout_on_a_node_that_never_mines() {
    let Some(anvil) = start_anvil(&["--no-mining"]).await else {
        return;
    };
    let config = config(
        &anvil.url,
        &["--senders", "3", "--txs", "3", "--setup-timeout", "2"],
    );
    let err = timeout(Duration::from_secs(60), run(&config))
        .await
        .expect("gives up within 60 s")
        .unwrap_err();
    let message = format!("{err:#}");
    assert!(
        message.contains("7 of 7 transactions unconfirmed"),
        "{message}"
    );
}
