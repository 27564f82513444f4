//! Named fault scenarios, each over a few seeds, each seed run twice (same trace required).

use kaimeng_consensus::sim::{Behaviour, EpochPlan, Outcome, Scenario, cluster, secs};

const SEEDS: u64 = 4;

/// Runs `scenario` with `seed` twice, checks both runs are identical and safe.
fn run_twice(scenario: Scenario, seed: u64, duration: u64) -> Outcome {
    let first = scenario.clone().seed(seed).run_for(duration);
    let second = scenario.seed(seed).run_for(duration);
    assert_eq!(
        first.trace_hash, second.trace_hash,
        "seed {seed}: same seed, different trace"
    );
    first.assert_safe();
    first
}

#[test]
fn four_honest_validators_finalize_steadily() {
    for seed in 0..SEEDS {
        let outcome = run_twice(cluster(4), seed, secs(10));
        // Each block takes about three message delays (10-50 ms each).
        assert!(
            outcome.highest_finalized() > 40,
            "seed {seed}: only {} blocks",
            outcome.highest_finalized()
        );
        outcome.assert_progress_after(secs(5), 10);
    }
}

#[test]
fn different_seeds_give_different_runs() {
    let a = cluster(4).seed(1).run_for(secs(3));
    let b = cluster(4).seed(2).run_for(secs(3));
    assert_ne!(a.trace_hash, b.trace_hash);
}

#[test]
fn a_crashed_validator_restarts_from_disk_and_rejoins() {
    for seed in 0..SEEDS {
        let scenario = cluster(4).crash(2).at(secs(2)).restart(secs(5));
        let outcome = run_twice(scenario, seed, secs(12));
        outcome.assert_progress_after(secs(7), 5);
        // The other three kept finalizing while node 2 was down.
        let during = outcome
            .node(0)
            .finalized
            .values()
            .filter(|(_, t)| (secs(2)..secs(5)).contains(t))
            .count();
        assert!(
            during > 5,
            "seed {seed}: {during} blocks while one validator was down"
        );
    }
}

#[test]
fn crashes_in_the_middle_of_effects_never_make_a_validator_equivocate() {
    // The monitor flags any honest validator that signs conflicting votes, which is what a
    // vote sent before it was persisted would cause after the restart.
    for seed in 0..SEEDS * 4 {
        let mut scenario = cluster(4).loss(0.05);
        for round in 0..6u64 {
            let node = ((seed + round) % 4) as usize;
            let at = secs(1) + round * 1_500;
            scenario = scenario.crash(node).mid_effects().at(at).restart(at + 400);
        }
        let outcome = run_twice(scenario, seed, secs(16));
        outcome.assert_progress_after(secs(11), 3);
    }
}

#[test]
fn all_validators_crash_and_the_chain_resumes_from_disk() {
    for seed in 0..SEEDS {
        let mut scenario = cluster(4);
        for node in 0..4 {
            scenario = scenario
                .crash(node)
                .at(secs(3))
                .restart(secs(4) + node as u64 * 100);
        }
        let outcome = run_twice(scenario, seed, secs(10));
        let before: u64 = outcome
            .node(0)
            .finalized
            .iter()
            .filter(|(_, (_, t))| *t <= secs(3))
            .count() as u64;
        assert!(before > 10, "seed {seed}");
        outcome.assert_progress_after(secs(5), 5);
    }
}

#[test]
fn a_two_two_partition_finalizes_nothing_and_heals() {
    for seed in 0..SEEDS {
        let scenario = cluster(4)
            .partition(&[&[0, 1], &[2, 3]])
            .at(secs(2))
            .heal(secs(6));
        let outcome = run_twice(scenario, seed, secs(16));
        for (node, report) in outcome.nodes.iter().enumerate() {
            // Allow messages already in flight at the split (at most 50 ms) to finish a block.
            let during = report
                .finalized
                .values()
                .filter(|(_, t)| (secs(2) + 200..=secs(6)).contains(t))
                .count();
            assert_eq!(
                during, 0,
                "seed {seed}: node {node} finalized during a 2|2 partition"
            );
        }
        outcome.assert_progress_after(secs(11), 5);
    }
}

#[test]
fn a_minority_partition_catches_up_after_heal() {
    for seed in 0..SEEDS {
        let scenario = cluster(4)
            .partition(&[&[0, 1, 2], &[3]])
            .at(secs(1))
            .heal(secs(5));
        let outcome = run_twice(scenario, seed, secs(14));
        outcome.assert_progress_after(secs(9), 5);
        let majority = outcome.node(0).highest_finalized();
        let minority = outcome.node(3).highest_finalized();
        assert!(
            majority.abs_diff(minority) <= 3,
            "seed {seed}: {majority} vs {minority}"
        );
    }
}

#[test]
fn lossy_jittery_network_stays_safe_and_live() {
    for seed in 0..SEEDS {
        let scenario = cluster(7).latency(5, 150).loss(0.2).loss_at(secs(8), 0.0);
        let outcome = run_twice(scenario, seed, secs(20));
        outcome.assert_progress_after(secs(14), 5);
    }
}

#[test]
fn a_silent_validator_does_not_stop_the_others() {
    for seed in 0..SEEDS {
        let outcome = run_twice(cluster(4).byzantine(1, Behaviour::Silent), seed, secs(12));
        outcome.assert_progress_after(secs(4), 10);
    }
}

#[test]
fn an_equivocating_leader_cannot_finalize_two_blocks() {
    for seed in 0..SEEDS {
        let outcome = run_twice(
            cluster(4).byzantine(0, Behaviour::EquivocatingLeader),
            seed,
            secs(12),
        );
        outcome.assert_progress_after(secs(4), 10);
        let reported: u64 = outcome.nodes.iter().map(|n| n.faults_reported).sum();
        assert!(reported > 0, "seed {seed}: nobody noticed the equivocation");
    }
}

#[test]
fn an_equivocating_voter_is_caught_and_ignored() {
    for seed in 0..SEEDS {
        let scenario = cluster(4).byzantine(3, Behaviour::EquivocatingVoter);
        let outcome = run_twice(scenario, seed, secs(12));
        outcome.assert_progress_after(secs(4), 10);
    }
}

#[test]
fn an_invalid_proposer_only_costs_its_own_views() {
    for seed in 0..SEEDS {
        let outcome = run_twice(
            cluster(4).byzantine(2, Behaviour::InvalidProposer),
            seed,
            secs(12),
        );
        outcome.assert_progress_after(secs(4), 10);
    }
}

#[test]
fn twins_on_both_sides_of_a_partition_stay_safe() {
    for seed in 0..SEEDS {
        // Node 4 holds validator 3's key. Each side of the split has one of the twins.
        let scenario = cluster(4)
            .twin(3)
            .partition(&[&[0, 1, 3], &[2, 4]])
            .at(secs(1))
            .heal(secs(5));
        let outcome = run_twice(scenario, seed, secs(14));
        outcome.assert_progress_after(secs(9), 5);
    }
}

#[test]
fn twins_in_an_open_network_stay_safe_and_live() {
    for seed in 0..SEEDS {
        let outcome = run_twice(cluster(4).twin(0).latency(5, 120), seed, secs(12));
        outcome.assert_progress_after(secs(6), 5);
    }
}

#[test]
fn a_follower_finalizes_without_voting() {
    for seed in 0..SEEDS {
        let outcome = run_twice(cluster(4).follower(), seed, secs(8));
        let validator = outcome.node(0).highest_finalized();
        let follower = outcome.node(4).highest_finalized();
        assert!(
            follower + 2 >= validator && follower > 20,
            "seed {seed}: {follower} vs {validator}"
        );
    }
}

#[test]
fn membership_changes_at_epoch_boundaries() {
    // Epoch 0: validators 0-3 (node 4 follows). Epoch 1: node 4 joins. Epoch 2: node 0 leaves.
    let plans = vec![
        EpochPlan {
            members: vec![0, 1, 2, 3],
            last_height: Some(15),
        },
        EpochPlan {
            members: vec![0, 1, 2, 3, 4],
            last_height: Some(30),
        },
        EpochPlan {
            members: vec![1, 2, 3, 4],
            last_height: None,
        },
    ];
    for seed in 0..SEEDS {
        // One more crash after the last change: with node 0 gone and node 1 down, only node 4's
        // votes (a member since epoch 1) let 2, 3 and 4 reach a quorum of 3.
        let scenario = cluster(5)
            .epochs(plans.clone())
            .crash(1)
            .at(secs(8))
            .forever();
        let outcome = run_twice(scenario, seed, secs(16));
        for (node, report) in outcome.nodes.iter().enumerate() {
            if report.up {
                assert_eq!(
                    report.epoch, 2,
                    "seed {seed}: node {node} did not reach epoch 2"
                );
            }
        }
        assert!(outcome.node(2).finalized.values().all(|(_, t)| *t > 0));
        outcome.assert_progress_after(secs(9), 5);
        // Heights are contiguous across the epoch boundaries (no padding block is reported).
        let heights: Vec<u64> = outcome.node(2).finalized.keys().copied().take(40).collect();
        assert_eq!(heights, (1..=40).collect::<Vec<_>>(), "seed {seed}");
    }
}

#[test]
fn a_crashed_leader_delays_the_next_final_block_by_less_than_two_base_timeouts() {
    // Base timeout 500 ms. Node 2 crashes for good; every fourth view it was the leader.
    for seed in 0..SEEDS {
        let outcome = run_twice(cluster(4).crash(2).at(secs(3)).forever(), seed, secs(12));
        let times: Vec<u64> = outcome
            .node(0)
            .finalized
            .values()
            .map(|(_, t)| *t)
            .collect();
        let worst_gap = times
            .windows(2)
            .filter(|w| w[0] >= secs(3))
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or(0);
        assert!(
            worst_gap > 0 && worst_gap <= 2 * 500,
            "seed {seed}: {worst_gap} ms between final blocks"
        );
        eprintln!(
            "seed {seed}: longest wait for a final block after the leader crash: {worst_gap} ms"
        );
        outcome.assert_progress_after(secs(6), 10);
    }
}
