//! Property test: an engine fed random, validly signed votes, certificates and proposals from
//! every validator (more than f of them "faulty"), mixed with timeouts and application answers,
//! never panics and reports finalized heights in strictly increasing order (so never two blocks at
//! one height), even though with every key available the traffic can be arbitrarily Byzantine.

use crate::support::*;
use kaimeng_consensus::{Effect, Input, Justification, Message, Parent, Proposal, Timer, Vote};
use proptest::collection::vec;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Step {
    Vote {
        signer: u32,
        kind: u8,
        view: u64,
        parent_view: u64,
        tag: u8,
    },
    Certificate {
        kind: u8,
        view: u64,
        parent_view: u64,
        tag: u8,
        signers: u8,
    },
    Proposal {
        view: u64,
        parent_view: u64,
        tag: u8,
    },
    Timeout {
        view: u64,
        attempt: u32,
    },
    Verified {
        view: u64,
        tag: u8,
        valid: bool,
    },
    Ready {
        view: u64,
        tag: u8,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u32..5, 0u8..3, 1u64..8, 0u64..8, 0u8..3).prop_map(
            |(signer, kind, view, parent_view, tag)| Step::Vote {
                signer,
                kind,
                view,
                parent_view,
                tag
            }
        ),
        (0u8..3, 1u64..8, 0u64..8, 0u8..3, 0u8..16).prop_map(
            |(kind, view, parent_view, tag, signers)| {
                Step::Certificate {
                    kind,
                    view,
                    parent_view,
                    tag,
                    signers,
                }
            }
        ),
        (1u64..8, 0u64..8, 0u8..3).prop_map(|(view, parent_view, tag)| Step::Proposal {
            view,
            parent_view,
            tag
        }),
        (1u64..8, 0u32..3).prop_map(|(view, attempt)| Step::Timeout { view, attempt }),
        (1u64..8, 0u8..3, any::<bool>()).prop_map(|(view, tag, valid)| Step::Verified {
            view,
            tag,
            valid
        }),
        (1u64..8, 0u8..3).prop_map(|(view, tag)| Step::Ready { view, tag }),
    ]
}

fn proposal(view: u64, parent_view: u64, tag: u8) -> Proposal {
    let parent_view = parent_view.min(view.saturating_sub(1));
    let parent = if parent_view == 0 {
        Parent {
            view: 0,
            digest: ANCHOR.digest,
        }
    } else {
        Parent {
            view: parent_view,
            digest: payload(parent_view as u8 * 3 + 1),
        }
    };
    // Heights follow the parent view, so chains built from these stay consistent.
    Proposal {
        epoch: 0,
        view,
        height: ANCHOR.height + 1 + parent_view,
        parent,
        payload: payload(view as u8 * 3 + tag % 3 + 1),
    }
}

proptest! {
    #[test]
    fn random_signed_traffic_never_breaks_the_engine(me in 0u32..4, steps in vec(step(), 1..120)) {
        let (mut h, _) = Harness::new(4, Some(me));
        let mut last_height = ANCHOR.height;
        for step in steps {
            let input = match step {
                Step::Vote { signer, kind, view, parent_view, tag } => {
                    let p = proposal(view, parent_view, tag);
                    let vote = match kind { 0 => Vote::Notarize(p), 1 => nullify(view), _ => Vote::Finalize(p) };
                    Input::Message(Message::Vote(sign(&h.scheme, signer, vote)))
                }
                Step::Certificate { kind, view, parent_view, tag, signers } => {
                    let p = proposal(view, parent_view, tag);
                    let vote = match kind { 0 => Vote::Notarize(p), 1 => nullify(view), _ => Vote::Finalize(p) };
                    let set: Vec<u32> = (0..4).filter(|i| signers & (1 << i) != 0).collect();
                    Input::Message(Message::Certificate(certificate(&h.scheme, &set, vote)))
                }
                Step::Proposal { view, parent_view, tag } => {
                    let p = proposal(view, parent_view, tag);
                    let leader = h.engine.leader(view);
                    Input::Message(proposal_message(&h.scheme, leader, p, Justification::default()))
                }
                Step::Timeout { view, attempt } => Input::Timeout(Timer { view, attempt }),
                Step::Verified { view, tag, valid } => {
                    Input::PayloadVerified { view, payload: payload(view as u8 * 3 + tag % 3 + 1), valid }
                }
                Step::Ready { view, tag } => Input::PayloadReady { view, payload: payload(tag + 100) },
            };
            if let Ok(effects) = h.apply(input) {
                for effect in effects {
                    if let Effect::Finalized { proposal, .. } = effect {
                        // Reported heights strictly increase: never two blocks at one height.
                        prop_assert!(proposal.height > last_height);
                        last_height = proposal.height;
                    }
                }
            }
            prop_assert!(h.engine.finalized().height >= ANCHOR.height);
        }
    }
}
