//! The many-seed run: every seed draws its own network (size, latency, jitter, loss), up to f
//! Byzantine validators of random kinds, and random partitions and crash-restarts of honest
//! validators, all healed by [`HEAL`]. Each seed runs twice and must replay identically; every
//! run must be safe, and every node must finalize again after the heal.
//!
//! `KAIMENG_SIM_SEEDS` sets the number of seeds (default 1,000, as CI runs);
//! `KAIMENG_SIM_FIRST_SEED` the first one, to reproduce a single seed or to shard a long run.

use kaimeng_consensus::sim::{Behaviour, EpochPlan, Scenario, SimRng, cluster, secs};
use std::time::Instant;

const HEAL: u64 = 5_000;
const END: u64 = 11_000;
/// Backoff cap of these runs: within it of the heal every node is in step again.
const MAX_TIMEOUT: u64 = 2_000;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// The scenario of one seed.
pub fn random_scenario(seed: u64) -> Scenario {
    let mut rng = SimRng::new(seed);
    let n = if rng.range(0, 7) == 0 { 7 } else { 4 };
    let f = (n - 1) / 3;
    let min_latency = rng.range(1, 20);
    let max_latency = min_latency + rng.range(0, 120);
    let loss = rng.range(0, 10) as f64 / 100.0;
    let mut scenario = cluster(n)
        .seed(seed)
        .timeouts(400, MAX_TIMEOUT)
        .latency(min_latency, max_latency)
        .loss(loss)
        .loss_at(HEAL, 0.0);

    // Up to f faulty validators, on distinct nodes.
    let mut faulty = Vec::new();
    for _ in 0..rng.range(0, f as u64) {
        let node = rng.range(0, n as u64 - 1) as usize;
        if faulty.contains(&node) {
            continue;
        }
        faulty.push(node);
        scenario = match rng.range(0, 5) {
            0 => scenario.byzantine(node, Behaviour::Silent),
            1 => scenario.byzantine(node, Behaviour::EquivocatingLeader),
            2 => scenario.byzantine(node, Behaviour::EquivocatingVoter),
            3 => scenario.byzantine(node, Behaviour::InvalidProposer),
            4 => scenario.twin(node),
            _ => scenario.crash(node).at(rng.range(0, HEAL)).forever(),
        };
    }

    // Honest trouble, all over by HEAL.
    if rng.range(0, 1) == 0 {
        let start = rng.range(200, HEAL - 1_000);
        let end = rng.range(start + 200, HEAL);
        let mut left = Vec::new();
        let mut right = Vec::new();
        for node in 0..n {
            if rng.range(0, 1) == 0 {
                left.push(node)
            } else {
                right.push(node)
            }
        }
        scenario = scenario.partition(&[&left, &right]).at(start).heal(end);
    }
    for _ in 0..rng.range(0, 2) {
        let node = rng.range(0, n as u64 - 1) as usize;
        if faulty.contains(&node) {
            continue;
        }
        let start = rng.range(100, HEAL - 500);
        let end = rng.range(start + 50, HEAL);
        let step = scenario.crash(node);
        let step = if rng.range(0, 1) == 0 {
            step.mid_effects()
        } else {
            step
        };
        scenario = step.at(start).restart(end);
    }

    // Half the seeds end short epochs (same members) all through the trouble, so that epoch
    // ends meet timeouts, crashes and partitions, and padding blocks pile up.
    if rng.range(0, 1) == 0 {
        let mut plans = Vec::new();
        let mut last = 0;
        for _ in 0..rng.range(2, 6) {
            last += rng.range(2, 12);
            plans.push(EpochPlan {
                members: (0..n).collect(),
                last_height: Some(last),
            });
        }
        plans.push(EpochPlan {
            members: (0..n).collect(),
            last_height: None,
        });
        scenario = scenario.epochs(plans);
    }
    scenario
}

/// Runs one seed twice and checks determinism, safety and liveness after the heal.
fn check_seed(seed: u64) -> u64 {
    let scenario = random_scenario(seed);
    let first = scenario.clone().run_for(END);
    let second = scenario.clone().run_for(END);
    assert_eq!(
        first.trace_hash, second.trace_hash,
        "seed {seed}: same seed, different trace"
    );
    first.assert_safe();
    first.assert_progress_after(HEAL + MAX_TIMEOUT + secs(1), 2);
    first.highest_finalized()
}

#[test]
fn many_seeds_are_safe_live_and_reproducible() {
    let seeds = env_u64("KAIMENG_SIM_SEEDS", 1_000);
    let first_seed = env_u64("KAIMENG_SIM_FIRST_SEED", 0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let started = Instant::now();
    let heights: Vec<u64> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|worker| {
                scope.spawn(move || {
                    (first_seed + worker..first_seed + seeds)
                        .step_by(threads as usize)
                        .map(check_seed)
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    assert_eq!(heights.len() as u64, seeds);
    let total: u64 = heights.iter().sum();
    eprintln!(
        "{seeds} seeds x 2 runs in {:.1} s; mean final height {:.1}",
        started.elapsed().as_secs_f64(),
        total as f64 / seeds.max(1) as f64
    );
}
