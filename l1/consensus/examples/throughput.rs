//! Consensus-only throughput: how many blocks per second the engine alone finalizes when the
//! network, the application and the disk cost nothing (simulated zero latency, mock keyed-hash
//! signatures, every message still encoded, decoded and verified). This is the ceiling the
//! state machine puts on the chain; real nodes add network delay, real signatures and
//! execution. Empty blocks and blocks of no-op transactions are the same thing here: consensus
//! sees only the payload digest.
//!
//! `cargo run --release -p kaimeng-consensus --example throughput -- [validators] [blocks]`

use kaimeng_consensus::sim::{cluster, secs};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let validators: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);
    let blocks: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    for (label, min, max) in [
        ("zero latency", 0, 0),
        ("1 ms latency", 1, 1),
        ("10-50 ms latency", 10, 50),
    ] {
        let scenario = cluster(validators)
            .latency(min, max)
            .app_delay(0)
            .stop_at_height(blocks);
        let started = Instant::now();
        let cpu_before = thread_cpu_seconds();
        let outcome = scenario.run_for(secs(3_600));
        // The simulation is single-threaded: this thread's CPU time is the engines' cost (plus
        // the simulated network), unaffected by other processes sharing the machine.
        let wall = match (cpu_before, thread_cpu_seconds()) {
            (Some(before), Some(after)) => after - before,
            _ => started.elapsed().as_secs_f64(),
        };
        outcome.assert_safe();
        let finalized = outcome.highest_finalized();
        let sim_seconds = outcome.nodes[0]
            .finalized
            .values()
            .map(|(_, t)| *t)
            .max()
            .unwrap_or(0) as f64
            / 1e3;
        println!(
            "{validators} validators, {label}: {finalized} blocks in {wall:.2} s of CPU for all engines \
             = {:.0} blocks/s ({:.0} messages/s); simulated time {sim_seconds:.1} s = {:.0} blocks per simulated second",
            finalized as f64 / wall,
            outcome.messages_delivered as f64 / wall,
            if sim_seconds > 0.0 {
                finalized as f64 / sim_seconds
            } else {
                f64::INFINITY
            },
        );
    }
}

/// CPU time of the calling thread from `/proc/thread-self/schedstat` (Linux), in seconds.
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: f64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(nanos / 1e9)
}
