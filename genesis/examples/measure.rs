//! Times the genesis operations a node or a test performs at start-up: deriving the dev
//! accounts, building the dev genesis, parsing + validating a file, and hashing.
//!
//! `cargo run --release -p kaimeng-genesis --example measure`

use std::hint::black_box;
use std::time::{Duration, Instant};

use kaimeng_genesis::{CryptoSuite, DevOptions, GenesisSpec, dev_accounts};

fn time<T>(label: &str, runs: u32, mut work: impl FnMut() -> T) {
    let mut samples: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            black_box(work());
            start.elapsed()
        })
        .collect();
    samples.sort();
    let median = samples[samples.len() / 2];
    println!(
        "{label:<52} median {:>10.3} ms over {runs} runs",
        median.as_secs_f64() * 1e3
    );
}

fn main() {
    let cold = Instant::now();
    black_box(dev_accounts(10));
    println!(
        "{:<52} {:>17.3} ms (first call: BIP-39 + BIP-32)",
        "dev_accounts(10), first call",
        cold.elapsed().as_secs_f64() * 1e3
    );
    time("dev_accounts(11) (derives all 11, uncached)", 20, || {
        dev_accounts(11)
    });
    time("dev_accounts(10) (cached)", 50, || dev_accounts(10));
    let default = DevOptions::default();
    let sm2 = DevOptions {
        crypto_suite: CryptoSuite::Sm2Sm3,
        ..DevOptions::default()
    };
    let text = GenesisSpec::dev(&default).to_json_pretty();
    let spec = GenesisSpec::dev(&default);
    time("GenesisSpec::dev (4 members, secp256k1-keccak)", 50, || {
        GenesisSpec::dev(&default)
    });
    time("GenesisSpec::dev (4 members, sm2-sm3)", 50, || {
        GenesisSpec::dev(&sm2)
    });
    time(
        "GenesisSpec::from_json_str (dev, parse + validate)",
        200,
        || GenesisSpec::from_json_str(&text).expect("valid"),
    );
    time("GenesisSpec::hash (dev)", 1000, || spec.hash());
}
