//! Admission and removal of members: effects only at the epoch boundary, validator sets, and the
//! rules against duplicate, unknown and last members.

use kaimeng_crypto::SecretKey;
use kaimeng_genesis::CryptoSuite;
use kaimeng_l1::governance::{Action, GovernanceError, GovernanceTx, ProposalStatus, TxOutcome};
use kaimeng_l1::membership::MembershipError;

use crate::common::{Consortium, gas_limit, name, proposal_id};

fn passed_in(epoch: u64) -> ProposalStatus {
    ProposalStatus::Passed {
        passed_in_epoch: epoch,
    }
}

#[test]
fn four_members_vote_in_a_fifth_who_validates_from_the_next_epoch() {
    for suite in CryptoSuite::ALL {
        let mut net = Consortium::with_suite(4, suite);
        let newcomer = net.candidate(4);
        let id = proposal_id(net.propose(0, Action::AddMember(newcomer.clone())).unwrap());
        assert_eq!(net.state.proposal(id).unwrap().status, ProposalStatus::Open);
        assert_eq!(
            net.vote(1, id, true).unwrap(),
            TxOutcome::Voted {
                proposal_id: id,
                status: ProposalStatus::Open
            },
            "2 of 4 is not more than two thirds"
        );
        assert_eq!(
            net.vote(2, id, true).unwrap(),
            TxOutcome::Voted {
                proposal_id: id,
                status: passed_in(0)
            }
        );
        assert_eq!(net.state.scheduled(), &[id]);

        // Passed, but nothing changes before the boundary.
        assert_eq!(net.state.members().len(), 4);
        assert_eq!(net.state.validators().len(), 4);
        assert_eq!(
            net.propose(4, gas_limit(40_000_000)),
            Err(GovernanceError::NotAMember {
                organisation: name(4)
            })
        );

        let transition = net.end_epoch(0);
        assert_eq!(transition.epoch.epoch, 1);
        assert!(transition.validators_changed);
        assert_eq!(transition.enacted, vec![id]);
        assert_eq!(transition.validators.len(), 5);
        let fifth = &transition.validators[4];
        assert_eq!(fifth.organisation, newcomer.organisation);
        assert_eq!(fifth.consensus_key, newcomer.consensus_key);
        assert_eq!(fifth.vrf_key, newcomer.vrf_key);
        assert_eq!(fifth.peer_id, newcomer.peer_id);
        assert_eq!(transition.validators, net.state.validators());
        assert_eq!(
            net.state.proposal(id).unwrap().status,
            ProposalStatus::Enacted { effective_epoch: 1 }
        );

        // The fifth member now governs: with 5 members a proposal needs 4 approvals.
        let next = proposal_id(net.propose(4, gas_limit(40_000_000)).unwrap());
        for voter in [0, 1] {
            net.vote(voter, next, true).unwrap();
        }
        assert!(
            net.state.proposal(next).unwrap().is_open(),
            "3 of 5 do not pass"
        );
        net.vote(2, next, true).unwrap();
        assert_eq!(net.state.proposal(next).unwrap().status, passed_in(1));
    }
}

#[test]
fn a_removed_member_stops_counting_and_can_no_longer_propose_or_vote() {
    let mut net = Consortium::new(4);
    // Proposal A: dev-member-0 proposes, dev-member-3 approves (2 of 4 so far).
    let a = proposal_id(net.propose(0, gas_limit(50_000_000)).unwrap());
    net.vote(3, a, true).unwrap();
    assert_eq!(
        net.state.proposals_view(None).proposals[0].tally.approvals,
        2
    );
    // Proposal B removes dev-member-3.
    let b = proposal_id(net.propose(0, Action::RemoveMember(name(3))).unwrap());
    net.vote(1, b, true).unwrap();
    net.vote(2, b, true).unwrap();
    assert_eq!(net.state.proposal(b).unwrap().status, passed_in(0));

    let transition = net.end_epoch(0);
    assert_eq!(transition.enacted, vec![b]);
    assert_eq!(net.member_names(), vec![name(0), name(1), name(2)]);
    assert!(
        !transition
            .validators
            .iter()
            .any(|validator| validator.organisation == name(3))
    );

    // A's electorate is still the 4 members at proposal time; dev-member-3's approval is
    // recorded but no longer counts.
    let tally = net.state.proposals_view(Some("open")).proposals[0].tally;
    assert_eq!((tally.electorate, tally.approvals, tally.needed), (4, 1, 3));
    net.vote(1, a, true).unwrap();
    assert!(
        net.state.proposal(a).unwrap().is_open(),
        "2 counted approvals (would be 3 with the removed member's)"
    );
    net.vote(2, a, true).unwrap();
    assert_eq!(net.state.proposal(a).unwrap().status, passed_in(1));

    // The removed member can neither propose nor vote.
    assert_eq!(
        net.propose(3, gas_limit(60_000_000)),
        Err(GovernanceError::NotAMember {
            organisation: name(3)
        })
    );
    let c = proposal_id(net.propose(1, gas_limit(70_000_000)).unwrap());
    assert_eq!(
        net.vote(3, c, true),
        Err(GovernanceError::NotAMember {
            organisation: name(3)
        })
    );
}

#[test]
fn removing_voters_can_make_an_open_proposal_hopeless() {
    let mut net = Consortium::new(4);
    // Proposal A by dev-member-3; dev-member-2 approves. Then both are removed.
    let a = proposal_id(net.propose(3, gas_limit(50_000_000)).unwrap());
    net.vote(2, a, true).unwrap();
    for removed in [2, 3] {
        let id = proposal_id(net.propose(0, Action::RemoveMember(name(removed))).unwrap());
        net.vote(1, id, true).unwrap();
        net.vote(removed, id, true).unwrap();
    }
    let transition = net.end_epoch(0);
    assert_eq!(net.member_names(), vec![name(0), name(1)]);
    // 0 counted approvals, 2 outstanding voters: at most 2 of 4, never 3.
    assert_eq!(transition.rejected, vec![a]);
    assert_eq!(
        net.state.proposal(a).unwrap().status,
        ProposalStatus::Rejected { epoch: 1 }
    );
}

#[test]
fn a_non_member_cannot_propose_even_with_a_valid_signature_of_its_own() {
    let mut net = Consortium::new(4);
    let outsider = SecretKey::from_seed(net.state.crypto_suite(), &[9; 32]);
    let before = net.state.clone();
    for proposer in ["outsider", "DEV-MEMBER-0", ""] {
        let tx = GovernanceTx::Propose {
            proposer: proposer.to_owned(),
            action: gas_limit(40_000_000),
            nonce: 0,
        }
        .sign(net.state.domain(), &outsider);
        assert_eq!(
            net.apply(&tx),
            Err(GovernanceError::NotAMember {
                organisation: proposer.to_owned()
            })
        );
    }
    // A candidate that was proposed but not yet admitted is not a member either.
    let tx = net.propose_tx(4, gas_limit(40_000_000));
    assert!(matches!(
        net.apply(&tx),
        Err(GovernanceError::NotAMember { .. })
    ));
    assert_eq!(net.state, before);
}

#[test]
fn adding_an_existing_member_is_rejected_when_proposed() {
    let mut net = Consortium::new(4);
    let existing = net.state.members()[1].clone();
    assert_eq!(
        net.propose(0, Action::AddMember(existing.clone())),
        Err(GovernanceError::InvalidAction(
            MembershipError::MemberExists {
                organisation: existing.organisation.clone()
            }
        ))
    );
    // Names are compared ignoring case, as in genesis.
    let mut shouting = net.candidate(4);
    shouting.organisation = existing.organisation.to_uppercase();
    assert!(matches!(
        net.propose(0, Action::AddMember(shouting)),
        Err(GovernanceError::InvalidAction(
            MembershipError::MemberExists { .. }
        ))
    ));
    // A new name with an existing member's consensus key.
    let mut copycat = net.candidate(4);
    copycat.consensus_key = existing.consensus_key.clone();
    assert_eq!(
        net.propose(0, Action::AddMember(copycat)),
        Err(GovernanceError::InvalidAction(
            MembershipError::DuplicateKey {
                field: "consensus_key",
                other_field: "consensus_key",
                other_organisation: existing.organisation.clone()
            }
        ))
    );
    // A new name with an existing member's peer id.
    let mut same_peer = net.candidate(4);
    same_peer.peer_id = existing.peer_id.clone();
    assert_eq!(
        net.propose(0, Action::AddMember(same_peer)),
        Err(GovernanceError::InvalidAction(
            MembershipError::DuplicatePeerId {
                other_organisation: existing.organisation
            }
        ))
    );
    assert!(net.state.proposals().is_empty());
    assert_eq!(
        net.state.next_nonce(&name(0)),
        0,
        "refused transactions consume no nonce"
    );
}

#[test]
fn a_malformed_candidate_is_rejected_field_by_field() {
    let mut net = Consortium::new(4);
    type Spoil = Box<dyn Fn(&mut kaimeng_genesis::Member)>;
    let cases: Vec<(&str, Spoil)> = vec![
        (
            "organisation",
            Box::new(|m| m.organisation = " padded ".into()),
        ),
        (
            "organisation",
            Box::new(|m| m.organisation = "x".repeat(65)),
        ),
        ("admin_key", Box::new(|m| m.admin_key.0 = vec![5; 33])),
        ("vrf_key", Box::new(|m| m.vrf_key.0.truncate(10))),
        ("peer_id", Box::new(|m| m.peer_id = "not-a-peer-id".into())),
        (
            "fee_recipient",
            Box::new(|m| m.fee_recipient = Default::default()),
        ),
        ("weight", Box::new(|m| m.weight = 0)),
    ];
    for (expected, spoil) in cases {
        let mut candidate = net.candidate(4);
        spoil(&mut candidate);
        match net.propose(0, Action::AddMember(candidate)) {
            Err(GovernanceError::InvalidAction(MembershipError::InvalidMember {
                field, ..
            })) => {
                assert_eq!(field, expected)
            }
            other => panic!("{expected}: expected InvalidMember, got {other:?}"),
        }
    }
    // The candidate's own keys must differ from each other.
    let mut reused = net.candidate(4);
    reused.consensus_key = reused.admin_key.clone();
    assert!(matches!(
        net.propose(0, Action::AddMember(reused)),
        Err(GovernanceError::InvalidAction(
            MembershipError::DuplicateKey {
                field: "consensus_key",
                other_field: "admin_key",
                ..
            }
        ))
    ));
}

#[test]
fn removing_an_unknown_or_the_last_member_is_rejected_when_proposed() {
    let mut net = Consortium::new(4);
    assert_eq!(
        net.propose(0, Action::RemoveMember("nobody".into())),
        Err(GovernanceError::InvalidAction(
            MembershipError::UnknownMember {
                organisation: "nobody".into()
            }
        ))
    );
    let mut alone = Consortium::new(1);
    assert_eq!(
        alone.propose(0, Action::RemoveMember(name(0))),
        Err(GovernanceError::InvalidAction(
            MembershipError::LastMember {
                organisation: name(0)
            }
        ))
    );
}

#[test]
fn changes_are_checked_again_at_the_boundary_in_the_order_they_passed() {
    let mut net = Consortium::new(4);
    let newcomer = net.candidate(4);
    // Two proposals to admit the same organisation both pass; the second fails at the boundary.
    let first = proposal_id(net.propose(0, Action::AddMember(newcomer.clone())).unwrap());
    let second = proposal_id(net.propose(1, Action::AddMember(newcomer)).unwrap());
    for id in [second, first] {
        for voter in [2, 3] {
            net.vote(voter, id, true).unwrap();
        }
    }
    assert_eq!(
        net.state.scheduled(),
        &[second, first],
        "in the order they passed"
    );
    let transition = net.end_epoch(0);
    assert_eq!(transition.enacted, vec![second]);
    assert_eq!(transition.failed, vec![first]);
    match &net.state.proposal(first).unwrap().status {
        ProposalStatus::Failed { epoch: 1, reason } => {
            assert!(reason.contains("already a member"), "{reason}")
        }
        other => panic!("expected failed, got {other:?}"),
    }
    assert_eq!(net.state.members().len(), 5);

    // Two removals of a two-member consortium: the second would leave no member.
    let mut pair = Consortium::new(2);
    let a = proposal_id(pair.propose(0, Action::RemoveMember(name(1))).unwrap());
    pair.vote(1, a, true).unwrap();
    let b = proposal_id(pair.propose(1, Action::RemoveMember(name(0))).unwrap());
    pair.vote(0, b, true).unwrap();
    let transition = pair.end_epoch(0);
    assert_eq!((transition.enacted, transition.failed), (vec![a], vec![b]));
    assert_eq!(pair.member_names(), vec![name(0)]);
}

#[test]
fn a_member_added_after_a_proposal_cannot_vote_on_it() {
    let mut net = Consortium::new(1);
    let open = proposal_id(net.propose(0, gas_limit(50_000_000)).unwrap());
    // A single member passes its own proposals at once; use a second one that stays open:
    // admit dev-member-1 first, then make a proposal in a two-member consortium.
    assert!(matches!(
        net.state.proposal(open).unwrap().status,
        ProposalStatus::Passed { .. }
    ));
    let admit = proposal_id(net.propose(0, Action::AddMember(net.candidate(1))).unwrap());
    net.end_epoch(0);
    assert!(
        net.state.member(&name(1)).is_some(),
        "proposal {admit} enacted"
    );
    let pending = proposal_id(net.propose(0, gas_limit(60_000_000)).unwrap());
    let admit_third = proposal_id(net.propose(1, Action::AddMember(net.candidate(2))).unwrap());
    net.vote(0, admit_third, true).unwrap();
    net.end_epoch(0);
    assert_eq!(net.state.members().len(), 3);
    assert_eq!(
        net.vote(2, pending, true),
        Err(GovernanceError::NotEligible {
            id: pending,
            organisation: name(2)
        })
    );
}
