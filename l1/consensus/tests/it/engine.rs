//! The engine driven by hand: the protocol's happy path, persistence before sending, restarts,
//! timeouts and backoff, epochs, and a typed rejection (with no state change) for every kind
//! of bad input.

use crate::support::*;
use kaimeng_consensus::sim::MockScheme;
use kaimeng_consensus::{
    Certificate, Digest, Effect, Engine, Evidence, Input, Justification, Message, Parent, Proposal,
    Record, Rejection, Signature, Timer, Vote,
};

/// Every vote or proposal this node broadcasts is persisted earlier in the same effect list.
fn assert_persisted_before_sent(effects: &[Effect]) {
    for (index, effect) in effects.iter().enumerate() {
        let sent = match effect {
            Effect::Broadcast(Message::Vote(signed)) => signed,
            Effect::Broadcast(Message::Proposal(proposal)) => &proposal.vote,
            _ => continue,
        };
        let persisted = effects[..index]
            .iter()
            .any(|e| matches!(e, Effect::Persist(Record::Vote(v)) if v == sent));
        // Retransmissions on timeout resend votes persisted in an earlier step.
        let retransmission = effects
            .iter()
            .any(|e| matches!(e, Effect::ScheduleTimeout { timer, .. } if timer.attempt > 0));
        assert!(
            persisted || retransmission,
            "vote sent before it was persisted: {effects:#?}"
        );
    }
}

fn finalized(effects: &[Effect]) -> Vec<Proposal> {
    effects
        .iter()
        .filter_map(|e| {
            if let Effect::Finalized { proposal, .. } = e {
                Some(*proposal)
            } else {
                None
            }
        })
        .collect()
}

/// Validator 0 of 4 votes for leader 1's proposal at view 1 and sees it finalized.
#[test]
fn a_view_from_proposal_to_finality() {
    let (mut h, start) = Harness::new(4, Some(0));
    assert_eq!(h.engine.view(), 1);
    assert_eq!(timeouts(&start), vec![BASE]);
    let a = on_anchor(1, 1);

    let effects = h
        .deliver(proposal_message(&h.scheme, 1, a, Justification::default()))
        .unwrap();
    assert_eq!(effects, vec![Effect::VerifyPayload { proposal: a }]);

    let effects = h
        .apply(Input::PayloadVerified {
            view: 1,
            payload: a.payload,
            valid: true,
        })
        .unwrap();
    assert_eq!(broadcast_votes(&effects), vec![Vote::Notarize(a)]);
    assert!(matches!(effects[0], Effect::Persist(Record::Vote(_))));
    assert_persisted_before_sent(&effects);

    // Validator 2's vote completes the notarization (1, 0, 2): finalize vote, next view.
    let effects = h
        .deliver(Message::Vote(sign(&h.scheme, 2, Vote::Notarize(a))))
        .unwrap();
    assert_persisted_before_sent(&effects);
    assert!(effects.iter().any(
        |e| matches!(e, Effect::Broadcast(Message::Certificate(c)) if c.vote == Vote::Notarize(a))
    ));
    assert_eq!(broadcast_votes(&effects), vec![Vote::Finalize(a)]);
    assert_eq!(h.engine.view(), 2);

    h.deliver(Message::Vote(sign(&h.scheme, 1, Vote::Finalize(a))))
        .unwrap();
    let effects = h
        .deliver(Message::Vote(sign(&h.scheme, 3, Vote::Finalize(a))))
        .unwrap();
    assert_eq!(finalized(&effects), vec![a]);
    assert_eq!(h.engine.finalized().height, ANCHOR.height + 1);
    assert!(effects.contains(&Effect::Prune { below_view: 1 }));
}

#[test]
fn a_leader_requests_a_payload_and_persists_its_proposal_before_sending_it() {
    let (mut h, start) = Harness::new(4, Some(1));
    let parent = Parent {
        view: 0,
        digest: ANCHOR.digest,
    };
    assert!(start.contains(&Effect::RequestPayload {
        view: 1,
        parent,
        height: ANCHOR.height + 1
    }));
    assert_eq!(
        h.apply(Input::PayloadReady {
            view: 1,
            payload: Digest::EMPTY
        }),
        Err(Rejection::EmptyPayload)
    );
    let effects = h
        .apply(Input::PayloadReady {
            view: 1,
            payload: payload(5),
        })
        .unwrap();
    assert!(matches!(
        &effects[1],
        Effect::Broadcast(Message::Proposal(_))
    ));
    assert_persisted_before_sent(&effects);
    // A second answer for the same view changes nothing.
    assert_eq!(
        h.apply(Input::PayloadReady {
            view: 1,
            payload: payload(6)
        }),
        Ok(vec![])
    );
}

#[test]
fn an_invalid_payload_makes_the_validator_nullify() {
    let (mut h, _) = Harness::new(4, Some(0));
    let a = on_anchor(1, 1);
    h.deliver(proposal_message(&h.scheme, 1, a, Justification::default()))
        .unwrap();
    let effects = h
        .apply(Input::PayloadVerified {
            view: 1,
            payload: a.payload,
            valid: false,
        })
        .unwrap();
    assert_eq!(broadcast_votes(&effects), vec![nullify(1)]);
    assert_persisted_before_sent(&effects);
}

#[test]
fn votes_from_non_members_are_rejected() {
    let (mut h, _) = Harness::new(4, Some(0));
    let vote = sign(&h.scheme, 7, nullify(1));
    assert_eq!(
        h.deliver(Message::Vote(vote)),
        Err(Rejection::UnknownSigner(7))
    );
    // An outsider's key claiming to be validator 2.
    let outsider = MockScheme::with_salt(4, 99);
    let forged = sign(&outsider, 2, nullify(1));
    assert_eq!(
        h.deliver(Message::Vote(forged)),
        Err(Rejection::BadSignature(2))
    );
}

#[test]
fn bad_signatures_are_rejected() {
    let (mut h, _) = Harness::new(4, Some(0));
    let mut vote = sign(&h.scheme, 2, nullify(1));
    vote.signature.0[0] ^= 1;
    assert_eq!(
        h.deliver(Message::Vote(vote)),
        Err(Rejection::BadSignature(2))
    );
    // A signature over the same vote in another chain's namespace does not count here.
    let other_chain = Signature(h.scheme.signer(2).sign_for_test(
        &kaimeng_consensus::signing::signing_bytes(b"kaimeng/shard/1", &nullify(1)),
    ));
    let vote = kaimeng_consensus::SignedVote {
        vote: nullify(1),
        signer: 2,
        signature: other_chain,
    };
    assert_eq!(
        h.deliver(Message::Vote(vote)),
        Err(Rejection::BadSignature(2))
    );
}

trait SignForTest {
    fn sign_for_test(&self, message: &[u8]) -> Vec<u8>;
}

impl SignForTest for kaimeng_consensus::sim::MockSigner {
    fn sign_for_test(&self, message: &[u8]) -> Vec<u8> {
        kaimeng_consensus::Signer::sign(self, message).0
    }
}

#[test]
fn wrong_epoch_and_far_future_votes_are_rejected() {
    let (mut h, _) = Harness::new(4, Some(0));
    let vote = sign(&h.scheme, 2, Vote::Nullify { epoch: 3, view: 1 });
    assert_eq!(
        h.deliver(Message::Vote(vote)),
        Err(Rejection::WrongEpoch {
            expected: 0,
            found: 3
        })
    );
    let vote = sign(&h.scheme, 2, nullify(1_000));
    assert_eq!(
        h.deliver(Message::Vote(vote)),
        Err(Rejection::ViewTooFarAhead {
            view: 1_000,
            current: 1,
            max_ahead: 64
        })
    );
}

#[test]
fn proposals_from_the_wrong_leader_or_with_unknown_parents_are_rejected() {
    let (mut h, _) = Harness::new(4, Some(0));
    let a = on_anchor(1, 1);
    assert_eq!(
        h.deliver(proposal_message(&h.scheme, 2, a, Justification::default())),
        Err(Rejection::NotLeader {
            view: 1,
            signer: 2,
            leader: 1
        })
    );
    let wrong_anchor = Proposal {
        parent: Parent {
            view: 0,
            digest: payload(9),
        },
        ..a
    };
    assert_eq!(
        h.deliver(proposal_message(
            &h.scheme,
            1,
            wrong_anchor,
            Justification::default()
        )),
        Err(Rejection::UnknownParent { parent_view: 0 })
    );
    // View 3 extends a block of view 2 this node never saw, with no certificate for it.
    let unknown = Proposal {
        view: 3,
        height: ANCHOR.height + 2,
        parent: Parent {
            view: 2,
            digest: payload(2),
        },
        ..a
    };
    assert_eq!(
        h.deliver(proposal_message(
            &h.scheme,
            3,
            unknown,
            Justification::default()
        )),
        Err(Rejection::UnknownParent { parent_view: 2 })
    );
    let wrong_height = Proposal {
        height: ANCHOR.height + 5,
        ..a
    };
    assert_eq!(
        h.deliver(proposal_message(
            &h.scheme,
            1,
            wrong_height,
            Justification::default()
        )),
        Err(Rejection::HeightMismatch {
            expected: ANCHOR.height + 1,
            found: ANCHOR.height + 5
        })
    );
    // None of this moved the engine.
    assert_eq!(h.engine.view(), 1);
    assert!(
        h.deliver(proposal_message(&h.scheme, 1, a, Justification::default()))
            .is_ok()
    );
}

#[test]
fn a_proposal_must_justify_every_skipped_view() {
    let (mut h, _) = Harness::new(4, Some(0));
    let c = on_anchor(3, 3);
    assert_eq!(
        h.deliver(proposal_message(&h.scheme, 3, c, Justification::default())),
        Err(Rejection::MissingNullification { view: 1 })
    );
    let only_first = Justification {
        parent: None,
        nullifications: vec![certificate(&h.scheme, &[1, 2, 3], nullify(1))],
    };
    assert_eq!(
        h.deliver(proposal_message(&h.scheme, 3, c, only_first)),
        Err(Rejection::MissingNullification { view: 2 })
    );
    assert_eq!(h.engine.view(), 1);
    let both = Justification {
        parent: None,
        nullifications: vec![
            certificate(&h.scheme, &[1, 2, 3], nullify(1)),
            certificate(&h.scheme, &[0, 1, 3], nullify(2)),
        ],
    };
    let effects = h.deliver(proposal_message(&h.scheme, 3, c, both)).unwrap();
    assert_eq!(h.engine.view(), 3);
    assert!(effects.contains(&Effect::VerifyPayload { proposal: c }));
}

#[test]
fn equivocation_is_reported_once_with_evidence_and_not_counted() {
    let (mut h, _) = Harness::new(4, Some(0));
    let first = sign(&h.scheme, 2, Vote::Notarize(on_anchor(1, 1)));
    let second = sign(&h.scheme, 2, Vote::Notarize(on_anchor(1, 2)));
    h.deliver(Message::Vote(first.clone())).unwrap();
    let evidence = Evidence {
        first: first.clone(),
        second: second.clone(),
    };
    assert_eq!(
        h.deliver(Message::Vote(second.clone())),
        Ok(vec![Effect::Fault(evidence)])
    );
    assert_eq!(h.deliver(Message::Vote(second)), Ok(vec![]));
    // The same vote again is a harmless duplicate.
    assert_eq!(h.deliver(Message::Vote(first)), Ok(vec![]));
    // A leader proposing twice in a view is reported too, and its second proposal ignored.
    let a = on_anchor(1, 1);
    let b = on_anchor(1, 3);
    h.deliver(proposal_message(&h.scheme, 1, a, Justification::default()))
        .unwrap();
    let effects = h
        .deliver(proposal_message(&h.scheme, 1, b, Justification::default()))
        .unwrap();
    assert!(
        matches!(effects.as_slice(), [Effect::Fault(e)] if e.first.signer == 1 && e.second.vote == Vote::Notarize(b))
    );
}

#[test]
fn bad_certificates_are_rejected() {
    let (mut h, _) = Harness::new(4, Some(0));
    let few = certificate(&h.scheme, &[1, 2], nullify(1));
    assert_eq!(
        h.deliver(Message::Certificate(few)),
        Err(Rejection::NotEnoughSigners { have: 2, need: 3 })
    );
    let mut forged = certificate(&h.scheme, &[1, 2, 3], nullify(1));
    forged.signatures[2].1.0[0] ^= 1;
    assert_eq!(
        h.deliver(Message::Certificate(forged)),
        Err(Rejection::BadSignature(3))
    );
    let mut unsorted = certificate(&h.scheme, &[1, 2, 3], nullify(1));
    unsorted.signatures.swap(0, 1);
    assert_eq!(
        h.deliver(Message::Certificate(unsorted)),
        Err(Rejection::UnsortedSigners)
    );
    let mut duplicated = certificate(&h.scheme, &[1, 2, 3], nullify(1));
    duplicated.signatures[1] = duplicated.signatures[0].clone();
    assert_eq!(
        h.deliver(Message::Certificate(duplicated)),
        Err(Rejection::UnsortedSigners)
    );
    let outsider = Certificate {
        vote: nullify(1),
        signatures: certificate(&h.scheme, &[1, 2, 9], nullify(1)).signatures,
    };
    assert_eq!(
        h.deliver(Message::Certificate(outsider)),
        Err(Rejection::UnknownSigner(9))
    );
    assert_eq!(h.engine.view(), 1);
}

#[test]
fn unexpected_application_answers_and_early_inputs_are_rejected() {
    let (mut h, _) = Harness::new(4, Some(0));
    assert_eq!(
        h.apply(Input::PayloadVerified {
            view: 1,
            payload: payload(1),
            valid: true
        }),
        Err(Rejection::UnexpectedPayload { view: 1 })
    );
    assert_eq!(
        h.apply(Input::PayloadReady {
            view: 1,
            payload: payload(1)
        }),
        Err(Rejection::UnexpectedPayload { view: 1 })
    );
    let scheme = MockScheme::new(4);
    let mut unstarted = Engine::new(config(&scheme, Some(0)), scheme.signer(0), scheme.clone());
    assert_eq!(
        unstarted.apply(Input::Timeout(Timer {
            view: 1,
            attempt: 0
        })),
        Err(Rejection::NotStarted)
    );
}

#[test]
fn timeouts_back_off_to_the_cap_and_reset_on_progress() {
    let (mut h, _) = Harness::new(4, Some(0));
    let mut waits = Vec::new();
    for attempt in 0..5 {
        let effects = h.apply(Input::Timeout(Timer { view: 1, attempt })).unwrap();
        if attempt == 0 {
            assert_eq!(broadcast_votes(&effects), vec![nullify(1)]);
            assert_persisted_before_sent(&effects);
        }
        waits.extend(timeouts(&effects));
    }
    let ms = |n| std::time::Duration::from_millis(n);
    assert_eq!(waits, vec![ms(200), ms(400), ms(800), ms(1_000), ms(1_000)]);
    // A stale timer is ignored.
    assert_eq!(
        h.apply(Input::Timeout(Timer {
            view: 1,
            attempt: 0
        })),
        Ok(vec![])
    );

    // View 1 is nullified: view 2 starts with a doubled wait (one failure in a row).
    let effects = h
        .deliver(Message::Certificate(certificate(
            &h.scheme,
            &[1, 2, 3],
            nullify(1),
        )))
        .unwrap();
    assert_eq!(h.engine.view(), 2);
    assert_eq!(timeouts(&effects), vec![ms(200)]);
    // View 2 is notarized: progress resets the wait to the base.
    let b = Proposal {
        view: 2,
        ..on_anchor(2, 2)
    };
    let effects = h
        .deliver(Message::Certificate(certificate(
            &h.scheme,
            &[1, 2, 3],
            Vote::Notarize(b),
        )))
        .unwrap();
    assert_eq!(h.engine.view(), 3);
    assert_eq!(timeouts(&effects), vec![BASE]);
}

#[test]
fn a_restarted_validator_never_votes_twice_in_a_view() {
    let (mut h, _) = Harness::new(4, Some(0));
    let a = on_anchor(1, 1);
    let mut disk = Vec::new();
    let mut keep = |effects: Vec<Effect>| {
        for effect in effects {
            if let Effect::Persist(record) = effect {
                disk.push(record);
            }
        }
    };
    keep(
        h.deliver(proposal_message(&h.scheme, 1, a, Justification::default()))
            .unwrap(),
    );
    keep(
        h.apply(Input::PayloadVerified {
            view: 1,
            payload: a.payload,
            valid: true,
        })
        .unwrap(),
    );
    assert_eq!(disk.len(), 1);

    // Crash; restart from the disk. The leader (faulty) now shows a different proposal.
    let scheme = h.scheme.clone();
    let mut restarted = Engine::new(config(&scheme, Some(0)), scheme.signer(0), scheme.clone());
    let start = restarted.start(disk);
    assert_eq!(restarted.view(), 1);
    assert!(broadcast_votes(&start).is_empty());
    let b = on_anchor(1, 2);
    let effects = restarted
        .apply(Input::Message(proposal_message(
            &scheme,
            1,
            b,
            Justification::default(),
        )))
        .unwrap();
    assert!(
        effects.is_empty(),
        "a restarted validator considered a second proposal: {effects:?}"
    );
    // Its timeout resends the vote it already cast, and gives up on the view.
    let effects = restarted
        .apply(Input::Timeout(Timer {
            view: 1,
            attempt: 0,
        }))
        .unwrap();
    assert_eq!(
        broadcast_votes(&effects),
        vec![Vote::Notarize(a), nullify(1)]
    );
}

#[test]
fn a_restart_resumes_at_the_view_of_the_persisted_certificates() {
    let scheme = MockScheme::new(4);
    let a = on_anchor(1, 1);
    let records = vec![
        Record::Certificate(certificate(&scheme, &[1, 2, 3], Vote::Notarize(a))),
        Record::Certificate(certificate(&scheme, &[1, 2, 3], Vote::Finalize(a))),
        Record::Certificate(certificate(&scheme, &[0, 1, 3], nullify(2))),
        // A corrupted record is skipped, not trusted.
        Record::Certificate(certificate(&scheme, &[1, 2], nullify(3))),
    ];
    let mut engine = Engine::new(config(&scheme, Some(0)), scheme.signer(0), scheme.clone());
    let effects = engine.start(records);
    assert_eq!(engine.view(), 3);
    assert_eq!(engine.finalized().height, ANCHOR.height + 1);
    // The finalized block is reported again (hosts ignore heights they have).
    assert_eq!(finalized(&effects), vec![a]);
    // Validator 3 leads view 3, not 0: no payload request, just the timer.
    assert!(timeouts(&effects).len() == 1);
}

#[test]
fn a_follower_finalizes_without_ever_voting() {
    let (mut h, start) = Harness::new(4, None);
    assert!(
        start
            .iter()
            .all(|e| matches!(e, Effect::ScheduleTimeout { .. }))
    );
    let a = on_anchor(1, 1);
    let effects = h
        .deliver(proposal_message(&h.scheme, 1, a, Justification::default()))
        .unwrap();
    assert!(effects.is_empty());
    let effects = h
        .apply(Input::Timeout(Timer {
            view: 1,
            attempt: 0,
        }))
        .unwrap();
    assert!(broadcast_votes(&effects).is_empty());
    let effects = h
        .deliver(Message::Certificate(certificate(
            &h.scheme,
            &[0, 1, 2],
            Vote::Finalize(a),
        )))
        .unwrap();
    assert_eq!(finalized(&effects), vec![a]);
}

#[test]
fn a_peer_stuck_in_a_finalized_view_gets_the_finalization() {
    let (mut h, _) = Harness::new(4, Some(0));
    let a = on_anchor(1, 1);
    let finalization = certificate(&h.scheme, &[1, 2, 3], Vote::Finalize(a));
    h.deliver(Message::Certificate(finalization.clone()))
        .unwrap();
    let effects = h
        .deliver(Message::Vote(sign(&h.scheme, 3, nullify(1))))
        .unwrap();
    assert_eq!(
        effects,
        vec![Effect::SendTo {
            to: 3,
            message: Message::Certificate(finalization)
        }]
    );
    // Other votes for a finalized view are stale.
    assert_eq!(
        h.deliver(Message::Vote(sign(&h.scheme, 3, Vote::Notarize(a)))),
        Err(Rejection::StaleView {
            view: 1,
            finalized_view: 1
        })
    );
}

#[test]
fn an_epoch_ends_at_its_last_height_and_pads_after_it() {
    // One validator: it finalizes alone, so the epoch's end is exact.
    let last = ANCHOR.height + 3;
    let (mut h, mut effects) = Harness::with_config(1, Some(0), |c| c.last_height = Some(last));
    let mut heights = Vec::new();
    let mut ended = None;
    for _ in 0..10 {
        let mut next = Vec::new();
        for effect in effects.drain(..) {
            match effect {
                Effect::RequestPayload { view, height, .. } => next.push(Input::PayloadReady {
                    view,
                    payload: payload(height as u8),
                }),
                Effect::Finalized { proposal, .. } => heights.push(proposal.height),
                Effect::EpochEnded { last, .. } => ended = Some(last.height),
                _ => {}
            }
        }
        for input in next {
            effects.extend(h.apply(input).unwrap());
        }
    }
    assert_eq!(heights, vec![ANCHOR.height + 1, ANCHOR.height + 2, last]);
    assert_eq!(ended, Some(last));
    assert!(h.engine.epoch_ended());

    // Voters: past the last height only padding blocks, which need no application check.
    let (mut v, _) = Harness::with_config(4, Some(0), |c| c.last_height = Some(ANCHOR.height));
    let real = on_anchor(1, 1);
    assert_eq!(
        v.deliver(proposal_message(
            &v.scheme,
            1,
            real,
            Justification::default()
        )),
        Err(Rejection::MalformedProposal(
            "a real payload past the epoch's last height"
        ))
    );
    // A padding block repeats its parent's digest.
    let padding = Proposal {
        payload: real.parent.digest,
        ..real
    };
    let effects = v
        .deliver(proposal_message(
            &v.scheme,
            1,
            padding,
            Justification::default(),
        ))
        .unwrap();
    assert_eq!(broadcast_votes(&effects), vec![Vote::Notarize(padding)]);

    // Before the last height a block repeating its parent's digest is refused.
    let (mut w, _) = Harness::with_config(4, Some(0), |c| c.last_height = Some(ANCHOR.height + 5));
    assert_eq!(
        w.deliver(proposal_message(
            &w.scheme,
            1,
            padding,
            Justification::default()
        )),
        Err(Rejection::MalformedProposal(
            "a padding block before the epoch's last height"
        ))
    );
}

#[test]
fn a_proposal_claiming_a_huge_gap_is_refused_at_once() {
    let (mut h, _) = Harness::new(4, Some(0));
    let view = 1_000_000_000_000;
    let far = Proposal {
        view,
        ..on_anchor(view, 1)
    };
    let leader = h.engine.leader(view);
    assert_eq!(
        h.deliver(proposal_message(
            &h.scheme,
            leader,
            far,
            Justification::default()
        )),
        Err(Rejection::MissingNullification { view: 1 })
    );
}

#[test]
fn votes_for_unknown_blocks_change_nothing_until_a_quorum_certifies_them() {
    let (mut h, _) = Harness::new(4, Some(0));
    // Blocks of view 2 on a view-1 parent this node never saw: counted, but no quorum.
    let unknown = Proposal {
        view: 2,
        height: ANCHOR.height + 2,
        parent: Parent {
            view: 1,
            digest: payload(7),
        },
        ..on_anchor(2, 8)
    };
    assert_eq!(
        h.deliver(Message::Vote(sign(&h.scheme, 2, Vote::Notarize(unknown)))),
        Ok(vec![])
    );
    assert_eq!(
        h.deliver(Message::Vote(sign(&h.scheme, 3, Vote::Finalize(unknown)))),
        Ok(vec![])
    );
    assert_eq!(h.engine.view(), 1);
    assert_eq!(h.engine.finalized().height, ANCHOR.height);
    // A vote whose height contradicts a parent this node knows is refused.
    let a = on_anchor(1, 1);
    h.deliver(Message::Certificate(certificate(
        &h.scheme,
        &[1, 2, 3],
        Vote::Notarize(a),
    )))
    .unwrap();
    let wrong = Proposal {
        height: ANCHOR.height + 9,
        parent: Parent {
            view: 1,
            digest: a.payload,
        },
        ..unknown
    };
    assert_eq!(
        h.deliver(Message::Vote(sign(&h.scheme, 2, Vote::Notarize(wrong)))),
        Err(Rejection::HeightMismatch {
            expected: ANCHOR.height + 2,
            found: ANCHOR.height + 9
        })
    );
}
