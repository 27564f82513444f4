//! Governance drives consensus: the validator sets that epoch transitions return become the
//! consensus engine's epochs in the deterministic simulation (`kaimeng_consensus::sim`), and a
//! member voted in takes part in consensus from the next epoch.

use kaimeng_consensus::sim::{EpochPlan, cluster, secs};
use kaimeng_genesis::{DevOptions, GenesisSpec};
use kaimeng_l1::governance::Action;
use kaimeng_l1::membership::Validator;

use crate::common::{Consortium, proposal_id};

/// Simulation node of a dev validator: `dev-member-i` runs node `i`.
fn nodes(validators: &[Validator]) -> Vec<usize> {
    validators
        .iter()
        .map(|v| {
            v.organisation
                .strip_prefix("dev-member-")
                .and_then(|i| i.parse().ok())
                .expect("a dev member")
        })
        .collect()
}

#[test]
fn a_member_voted_in_takes_part_in_consensus_from_the_next_epoch() {
    let mut genesis = GenesisSpec::dev(&DevOptions::default());
    genesis.epoch_length = 10;
    let mut net = Consortium::from_genesis(genesis);
    let epoch0 = EpochPlan {
        members: nodes(&net.state.validators()),
        last_height: Some(net.state.epoch().last_height),
    };
    let id = proposal_id(net.propose(0, Action::AddMember(net.candidate(4))).unwrap());
    net.vote(1, id, true).unwrap();
    net.vote(2, id, true).unwrap();
    let transition = net.end_epoch(0);
    let epoch1 = EpochPlan {
        members: nodes(&transition.validators),
        last_height: None,
    };
    assert_eq!(epoch0.members, vec![0, 1, 2, 3]);
    assert_eq!(epoch0.last_height, Some(10));
    assert_eq!(epoch1.members, vec![0, 1, 2, 3, 4]);
    let plans = vec![epoch0, epoch1];

    for seed in 0..4 {
        // Epoch 1 has 5 validators and needs 4 votes. Node 0 crashes for good at 4 s: blocks
        // keep being finalized only because the new member's node 4 votes.
        let outcome = cluster(5)
            .seed(seed)
            .epochs(plans.clone())
            .crash(0)
            .at(secs(4))
            .forever()
            .run_for(secs(10));
        outcome.assert_safe();
        assert_eq!(outcome.node(4).epoch, 1, "seed {seed}");
        assert!(outcome.node(4).highest_finalized() > 20, "seed {seed}");
        outcome.assert_progress_after(secs(5), 5);

        // Control: without node 4 as well, the 3 validators left of 5 stall epoch 1.
        let stalled = cluster(5)
            .seed(seed)
            .epochs(plans.clone())
            .crash(0)
            .at(secs(4))
            .forever()
            .crash(4)
            .at(secs(4))
            .forever()
            .run_for(secs(10));
        stalled.assert_safe();
        assert!(
            stalled.highest_finalized() > 10,
            "seed {seed}: epoch 1 began before the crash"
        );
        for node in [1, 2, 3] {
            assert_eq!(
                stalled.node(node).finalized_after(secs(5)),
                0,
                "seed {seed}"
            );
        }
    }
}
