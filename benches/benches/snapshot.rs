//! Shard state sync throughput without the network (issue 11, item 4): a shard state of
//! `SNAPSHOT_ACCOUNTS` accounts (default 1,000,000; one in 50 with two storage slots) is
//! written to a RocksDB store; then the serving side (manifest and chunks read from the store)
//! and the receiving side (every chunk checked against the manifest, the manifest against the
//! head's state root, and the state installed into an empty store with its tree) are timed,
//! and the accounts per second of each printed. Plain `main`: one run, one measurement.
//!
//!   cargo bench --profile dev -p kaimeng-benches --features shard --bench snapshot

use std::time::Instant;

use alloy_consensus::Header;
use kaimeng_genesis::{DevOptions, GenesisSpec};
use kaimeng_shards::SealedHeader;
use kaimeng_shards::snapshot::Manifest;
use kaimeng_shards::snapshot_store;
use kaimeng_shards::state::StateAt;

#[path = "../node/large_state.rs"]
mod large_state;

fn main() {
    let count: u64 = std::env::var("SNAPSHOT_ACCOUNTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let genesis = GenesisSpec::dev(&DevOptions::default());
    let source_dir = tempfile::tempdir().unwrap();
    let source = kaimeng_shards::open_store(source_dir.path(), &Default::default()).unwrap();

    let started = Instant::now();
    let state_root = large_state::write(&source, count);
    println!(
        "built a state of {count} accounts in {:.1} s (root {})",
        started.elapsed().as_secs_f64(),
        state_root
    );
    let header = SealedHeader::seal(Header {
        number: 1,
        state_root: state_root,
        ..Default::default()
    });

    let state = StateAt::latest(source.clone());
    let started = Instant::now();
    let manifest = Manifest::of(snapshot_store::accounts(&state).unwrap());
    let chunks = snapshot_store::read_chunks(&state).unwrap();
    let serve = started.elapsed().as_secs_f64();
    let bytes: usize = chunks
        .iter()
        .flatten()
        .map(|a| 20 + 104 + a.storage.len() * 64)
        .sum();

    let target_dir = tempfile::tempdir().unwrap();
    let target = kaimeng_shards::open_store(target_dir.path(), &Default::default()).unwrap();
    let started = Instant::now();
    snapshot_store::install(&target, &genesis, &manifest, &chunks, &[header]).unwrap();
    let install = started.elapsed().as_secs_f64();
    let rate = |seconds: f64| count as f64 / seconds;
    println!(
        "serve (manifest + read {count} accounts into 256 chunks, ~{} MB): {serve:.1} s = {:.0} accounts/s",
        bytes >> 20,
        rate(serve)
    );
    println!(
        "receive (check every chunk and the root, install with the tree): {install:.1} s = {:.0} accounts/s",
        rate(install)
    );
    println!(
        "both, one after the other: {:.1} s = {:.0} accounts/s (no network)",
        serve + install,
        rate(serve + install)
    );
}
