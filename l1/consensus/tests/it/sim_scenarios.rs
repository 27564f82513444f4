//! Named fault scenarios, each over a few seeds, each seed run twice.

use kaimeng_consensus::sim::{Behaviour, EpochPlan, Outcome, Scenario, cluster, secs};

/// Runs `scenario` with `seed` twice, checks both runs are identical and safe.
fn run_twice(scenario: Scenario, seed: u64, duration: u64) -> Outcome {
    let first = scenario.clone().seed(seed).run_for(duration);
    let second = scenario.seed(seed).run_for(duration);
    assert_eq!(first.trace_hash, second.trace_hash, "seed {seed}: same seed, different trace");
    first.assert_safe();
    first
}

#[test]
fn four_honest_validators_finalize_steadily() {
    for seed in 0..5 {
        let outcome = run_twice(cluster(4), seed, secs(10));
        // Each block takes about three message delays (10-50 ms each).
        assert!(outcome.highest_finalized() > 40, "seed {seed}: only {} blocks", outcome.highest_finalized());
        outcome.assert_progress_after(secs(5), 10);
    }
}

#[test]
fn different_seeds_give_different_runs() {
    let a = cluster(4).seed(1).run_for(secs(3));
    let b = cluster(4).seed(2).run_for(secs(3));
    assert_ne!(a.trace_hash, b.trace_hash);
}
