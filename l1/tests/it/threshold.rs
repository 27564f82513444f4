//! The passing rule (strictly more than two thirds of the members at proposal time), proposals
//! below it, duplicate and late votes, rejection and expiry.

use kaimeng_l1::governance::{GovernanceError, ProposalStatus, approvals_needed};
use kaimeng_l1::membership::Parameter;

use crate::common::{Consortium, gas_limit, proposal_id};

/// Makes a proposal in a consortium of `n` and approves it one member at a time; returns how
/// many approvals (the proposer's included) it took to pass.
fn approvals_to_pass(n: u32) -> usize {
    let mut net = Consortium::new(n);
    let id = proposal_id(net.propose(0, gas_limit(50_000_000)).unwrap());
    let mut approvals = 1;
    for voter in 1..n {
        if !net.state.proposal(id).unwrap().is_open() {
            break;
        }
        net.vote(voter, id, true).unwrap();
        approvals += 1;
    }
    assert!(matches!(
        net.state.proposal(id).unwrap().status,
        ProposalStatus::Passed { passed_in_epoch: 0 }
    ));
    approvals
}

#[test]
fn the_threshold_is_strictly_more_than_two_thirds_at_the_boundary_cases() {
    assert_eq!(approvals_to_pass(1), 1);
    assert_eq!(
        approvals_to_pass(3),
        3,
        "3 members: 2 is exactly two thirds, not more"
    );
    assert_eq!(approvals_to_pass(4), 3);
    assert_eq!(
        approvals_to_pass(6),
        5,
        "6 members: 4 is exactly two thirds"
    );
    assert_eq!(approvals_to_pass(7), 5);
    for n in 1..=10 {
        assert_eq!(
            approvals_to_pass(n),
            approvals_needed(n as usize),
            "n = {n}"
        );
    }
}

#[test]
fn a_proposal_below_the_threshold_changes_nothing_and_expires() {
    let mut net = Consortium::new(4);
    let before = net.state.parameters().clone();
    let id = proposal_id(net.propose(0, gas_limit(50_000_000)).unwrap());
    net.vote(1, id, true).unwrap(); // 2 of 4
    assert!(net.state.scheduled().is_empty());

    let transition = net.end_epoch(0);
    assert!(!transition.parameters_changed && !transition.validators_changed);
    assert_eq!(net.state.parameters(), &before);
    assert!(transition.enacted.is_empty() && transition.expired.is_empty());
    assert!(
        net.state.proposal(id).unwrap().is_open(),
        "lifetime is 2 epochs by default"
    );

    let transition = net.end_epoch(0);
    assert_eq!(transition.expired, vec![id]);
    assert_eq!(
        net.state.proposal(id).unwrap().status,
        ProposalStatus::Expired { epoch: 2 }
    );
    assert_eq!(net.state.parameters(), &before);
    // Too late to vote.
    assert_eq!(
        net.vote(2, id, true),
        Err(GovernanceError::ProposalClosed {
            id,
            status: "expired"
        })
    );
}

#[test]
fn rejections_close_a_proposal_once_it_can_no_longer_pass() {
    let mut net = Consortium::new(4);
    let id = proposal_id(net.propose(0, gas_limit(50_000_000)).unwrap());
    net.vote(1, id, false).unwrap();
    assert!(
        net.state.proposal(id).unwrap().is_open(),
        "3 of 4 still possible"
    );
    net.vote(2, id, false).unwrap();
    assert_eq!(
        net.state.proposal(id).unwrap().status,
        ProposalStatus::Rejected { epoch: 0 }
    );
    assert_eq!(
        net.vote(3, id, true),
        Err(GovernanceError::ProposalClosed {
            id,
            status: "rejected"
        })
    );
    net.end_epoch(0);
    assert_eq!(net.state.parameters().block_gas_limit, 30_000_000);
}

#[test]
fn each_member_votes_once_and_a_passed_proposal_takes_no_more_votes() {
    let mut net = Consortium::new(4);
    let id = proposal_id(net.propose(0, gas_limit(50_000_000)).unwrap());
    assert_eq!(
        net.vote(0, id, true),
        Err(GovernanceError::AlreadyVoted {
            id,
            organisation: "dev-member-0".into()
        }),
        "making a proposal is the proposer's approval"
    );
    net.vote(1, id, false).unwrap();
    assert_eq!(
        net.vote(1, id, true),
        Err(GovernanceError::AlreadyVoted {
            id,
            organisation: "dev-member-1".into()
        })
    );
    net.vote(2, id, true).unwrap();
    net.vote(3, id, true).unwrap();
    assert!(matches!(
        net.state.proposal(id).unwrap().status,
        ProposalStatus::Passed { .. }
    ));
    assert_eq!(
        net.vote(3, id, true),
        Err(GovernanceError::ProposalClosed {
            id,
            status: "passed"
        })
    );
    assert_eq!(
        net.vote(3, 99, true),
        Err(GovernanceError::UnknownProposal { id: 99 })
    );
    let votes = &net.state.proposal(id).unwrap().votes;
    assert_eq!(
        votes
            .iter()
            .map(|v| (v.voter.as_str(), v.approve))
            .collect::<Vec<_>>(),
        vec![
            ("dev-member-0", true),
            ("dev-member-1", false),
            ("dev-member-2", true),
            ("dev-member-3", true)
        ]
    );
}

#[test]
fn the_proposal_lifetime_is_governed() {
    let mut net = Consortium::new(1);
    net.propose(
        0,
        kaimeng_l1::governance::Action::SetParameter(Parameter::ProposalLifetimeEpochs(1)),
    )
    .unwrap();
    let admit = proposal_id(
        net.propose(
            0,
            kaimeng_l1::governance::Action::AddMember(net.candidate(1)),
        )
        .unwrap(),
    );
    net.end_epoch(0);
    assert_eq!(net.state.parameters().proposal_lifetime_epochs, 1);
    assert!(
        net.state.member("dev-member-1").is_some(),
        "proposal {admit}"
    );
    // Two members: a lone approval is not enough, and the proposal lives one epoch only.
    let id = proposal_id(net.propose(0, gas_limit(50_000_000)).unwrap());
    assert_eq!(net.state.proposal(id).unwrap().expires_at_epoch, 2);
    let transition = net.end_epoch(0);
    assert_eq!(transition.expired, vec![id]);
}

#[test]
fn a_member_may_not_hold_unbounded_open_proposals() {
    let mut net = Consortium::new(4);
    let max = kaimeng_l1::governance::MAX_OPEN_PROPOSALS_PER_MEMBER;
    for i in 0..max {
        net.propose(0, gas_limit(50_000_000 + i as u64)).unwrap();
    }
    assert_eq!(
        net.propose(0, gas_limit(40_000_000)),
        Err(GovernanceError::TooManyOpenProposals {
            organisation: "dev-member-0".into(),
            max
        })
    );
    // Another member is not affected.
    net.propose(1, gas_limit(40_000_000)).unwrap();
}
