//! Fee sharing at epoch boundaries: exact payouts by each rule, the remainder carried in the
//! treasury, and which members are paid when membership changes.

use std::collections::BTreeMap;

use alloy_primitives::U256;
use kaimeng_genesis::{DevOptions, FeeSplit, GenesisSpec};
use kaimeng_l1::governance::Action;
use kaimeng_l1::membership::{FeeDistribution, Parameter};
use proptest::prelude::*;

use crate::common::{Consortium, name, proposal_id};

fn amounts(fees: &FeeDistribution) -> Vec<u64> {
    fees.payouts.iter().map(|p| p.amount.to::<u64>()).collect()
}

fn genesis_with(weights: &[u64], split: FeeSplit) -> GenesisSpec {
    let mut genesis = GenesisSpec::dev(&DevOptions {
        validators: weights.len() as u32,
        ..DevOptions::default()
    });
    for (member, weight) in genesis.members.iter_mut().zip(weights) {
        member.weight = *weight;
    }
    genesis.fee_split = split;
    genesis.validate().expect("valid test genesis");
    genesis
}

#[test]
fn equal_split_pays_exactly_and_carries_the_remainder() {
    let mut net = Consortium::new(3);
    let transition = net.end_epoch(1_000);
    let fees = &transition.fees;
    assert_eq!(fees.epoch, 0);
    assert_eq!(amounts(fees), vec![333, 333, 333]);
    assert_eq!(fees.carried_out, U256::from(1));
    assert_eq!(net.state.treasury_carry(), U256::from(1));
    let recipients: Vec<_> = fees.payouts.iter().map(|p| p.fee_recipient).collect();
    let expected: Vec<_> = net
        .state
        .members()
        .iter()
        .map(|m| m.fee_recipient)
        .collect();
    assert_eq!(recipients, expected);

    // The remainder joins the next epoch's fees: 1 + 2 = 3 wei, 1 each, nothing left.
    let fees = net.end_epoch(2).fees;
    assert_eq!(
        (fees.carried_in, fees.collected),
        (U256::from(1), U256::from(2))
    );
    assert_eq!(amounts(&fees), vec![1, 1, 1]);
    assert_eq!(fees.carried_out, U256::ZERO);

    // Less than one wei per member: everything is carried.
    let fees = net.end_epoch(2).fees;
    assert_eq!(amounts(&fees), vec![0, 0, 0]);
    assert_eq!(fees.carried_out, U256::from(2));
    assert_eq!(net.state.last_fee_distribution(), Some(&fees));
}

#[test]
fn by_weight_split_pays_in_proportion_to_weights() {
    let mut net = Consortium::from_genesis(genesis_with(&[1, 2, 3, 4], FeeSplit::ByWeight));
    let fees = net.end_epoch(1_000).fees;
    assert_eq!(amounts(&fees), vec![100, 200, 300, 400]);
    assert_eq!(fees.carried_out, U256::ZERO);
    // 1,001 + 0 carried: floor(1001 * w / 10) = 100, 200, 300, 400; 1 left.
    let fees = net.end_epoch(1_001).fees;
    assert_eq!(amounts(&fees), vec![100, 200, 300, 400]);
    assert_eq!(fees.carried_out, U256::from(1));
    // 1,009 + 1: floor(1010 * w / 10) = 101, 202, 303, 404; 0 left.
    let fees = net.end_epoch(1_009).fees;
    assert_eq!(amounts(&fees), vec![101, 202, 303, 404]);
    assert_eq!(fees.carried_out, U256::ZERO);
}

#[test]
fn fixed_split_pays_basis_points_and_follows_membership_changes() {
    let points: BTreeMap<String, u32> = [
        (name(0), 5_000),
        (name(1), 3_000),
        (name(2), 2_000),
        (name(3), 0),
    ]
    .into_iter()
    .collect();
    let mut net = Consortium::from_genesis(genesis_with(&[1, 1, 1, 1], FeeSplit::Fixed(points)));
    let fees = net.end_epoch(12_345).fees;
    // floor(12345 * 5000 / 10000) = 6172, floor(12345 * 3000 / 10000) = 3703,
    // floor(12345 * 2000 / 10000) = 2469, 0; 12345 - 12344 = 1 carried.
    assert_eq!(amounts(&fees), vec![6_172, 3_703, 2_469, 0]);
    assert_eq!(fees.carried_out, U256::from(1));

    // Remove dev-member-1 (3,000 points): the rest share in proportion 5000 : 2000 : 0.
    let id = proposal_id(net.propose(0, Action::RemoveMember(name(1))).unwrap());
    for voter in [2, 3] {
        net.vote(voter, id, true).unwrap();
    }
    // dev-member-1 still served in this epoch, so it is paid for it.
    let fees = net.end_epoch(9_999).fees;
    assert_eq!(fees.payouts.len(), 4);
    assert_eq!(amounts(&fees), vec![5_000, 3_000, 2_000, 0]);
    let FeeSplit::Fixed(points) = &net.state.parameters().fee_split else {
        panic!("still a fixed split");
    };
    assert_eq!(
        points.keys().cloned().collect::<Vec<_>>(),
        vec![name(0), name(2), name(3)]
    );

    let fees = net.end_epoch(7_000).fees;
    assert_eq!(amounts(&fees), vec![5_000, 2_000, 0]);
    assert_eq!(fees.carried_out, U256::ZERO);
}

#[test]
fn a_new_member_is_paid_from_its_first_full_epoch_and_the_rule_is_governed() {
    let mut net = Consortium::new(4);
    let admit = proposal_id(net.propose(0, Action::AddMember(net.candidate(4))).unwrap());
    let by_weight = proposal_id(
        net.propose(
            0,
            Action::SetParameter(Parameter::FeeSplit(FeeSplit::ByWeight)),
        )
        .unwrap(),
    );
    for id in [admit, by_weight] {
        for voter in [1, 2] {
            net.vote(voter, id, true).unwrap();
        }
    }
    // The ended epoch is shared among its 4 members by its (equal) rule.
    let fees = net.end_epoch(1_000).fees;
    assert_eq!(amounts(&fees), vec![250, 250, 250, 250]);
    // Next epoch: 5 members by weight (all 1).
    let fees = net.end_epoch(1_000).fees;
    assert_eq!(amounts(&fees), vec![200; 5]);
    assert_eq!(fees.payouts[4].organisation, name(4));
}

#[test]
fn an_invalid_fixed_split_is_rejected_when_proposed() {
    let mut net = Consortium::new(2);
    let bad = [
        vec![(name(0), 5_000), (name(1), 4_999)],
        vec![(name(0), 10_000)],
        vec![
            (name(0), 5_000),
            (name(1), 4_000),
            ("stranger".to_owned(), 1_000),
        ],
    ];
    for entries in bad {
        let split = FeeSplit::Fixed(entries.into_iter().collect());
        assert!(matches!(
            net.propose(0, Action::SetParameter(Parameter::FeeSplit(split))),
            Err(kaimeng_l1::governance::GovernanceError::InvalidAction(
                kaimeng_l1::membership::MembershipError::ParameterOutOfBounds {
                    parameter: "fee_split",
                    ..
                }
            ))
        ));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::common::cases(64)))]

    /// Over any run of epochs, every wei collected is either paid out or still carried.
    #[test]
    fn fees_are_conserved_over_epochs(
        weights in proptest::collection::vec(1u64..1_000, 1..6),
        by_weight in any::<bool>(),
        incomes in proptest::collection::vec(any::<u64>(), 1..8),
    ) {
        let split = if by_weight { FeeSplit::ByWeight } else { FeeSplit::Equal };
        let mut net = Consortium::from_genesis(genesis_with(&weights, split));
        let mut collected = U256::ZERO;
        let mut paid = U256::ZERO;
        for income in incomes {
            let fees = net.end_epoch(income).fees;
            collected += U256::from(income);
            paid += fees.total_paid();
            prop_assert_eq!(fees.total_paid() + fees.carried_out, fees.collected + fees.carried_in);
            let total_weight: u64 = if by_weight { weights.iter().sum() } else { weights.len() as u64 };
            prop_assert!(fees.carried_out < U256::from(total_weight));
            prop_assert_eq!(collected, paid + net.state.treasury_carry());
        }
    }
}
