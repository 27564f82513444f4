//! Byzantine behaviours: each rewrites what a node's honest engine sends into what a faulty
//! validator would send, using the validator's own key.

use super::scenario::{Behaviour, NodeId};
use crate::messages::{Message, ProposalMessage, SignedVote, Vote};
use crate::types::{Digest, Proposal};
use sha3::{Digest as _, Keccak256};

/// First byte of payloads the simulated application rejects.
pub(super) const INVALID_PAYLOAD_MARK: u8 = 0xBA;

/// A payload digest the simulated application accepts, derived from `parts`.
pub(super) fn valid_payload(parts: &[&[u8]]) -> Digest {
    let mut hasher = Keccak256::new();
    for part in parts {
        hasher.update(part);
    }
    let mut digest: [u8; 32] = hasher.finalize().into();
    if digest[0] == INVALID_PAYLOAD_MARK || digest[0] == 0 {
        digest[0] = 1;
    }
    Digest(digest)
}

/// A different, still valid, payload for the same slot.
fn twisted(proposal: &Proposal) -> Proposal {
    Proposal {
        payload: valid_payload(&[b"twist", &proposal.payload.0]),
        ..*proposal
    }
}

/// What `behaviour` sends instead of `message` to `recipients`: a list of (recipients,
/// message) pairs. `forge` signs a vote with the faulty validator's own key.
pub(super) fn rewrite(
    behaviour: Behaviour,
    message: Message,
    recipients: Vec<NodeId>,
    forge: &dyn Fn(Vote) -> SignedVote,
) -> Vec<(Vec<NodeId>, Message)> {
    let (evens, odds): (Vec<NodeId>, Vec<NodeId>) =
        recipients.iter().partition(|node| *node % 2 == 0);
    match (behaviour, &message) {
        (Behaviour::Silent, _) => Vec::new(),
        (Behaviour::EquivocatingLeader, Message::Proposal(original)) => {
            let Vote::Notarize(proposal) = original.vote.vote else {
                return vec![(recipients, message)];
            };
            let forged = ProposalMessage {
                vote: forge(Vote::Notarize(twisted(&proposal))),
                justification: original.justification.clone(),
            };
            // The odd half also gets the original, so they hold evidence of the equivocation.
            let everyone = recipients;
            vec![(odds, Message::Proposal(forged)), (everyone, message)]
        }
        (Behaviour::EquivocatingVoter, Message::Vote(signed)) => match signed.vote {
            Vote::Notarize(proposal) => {
                let forged = forge(Vote::Notarize(twisted(&proposal)));
                vec![(evens, message), (odds, Message::Vote(forged))]
            }
            Vote::Finalize(proposal) => {
                let forged = forge(Vote::Nullify {
                    epoch: proposal.epoch,
                    view: proposal.view,
                });
                vec![(evens, message), (odds, Message::Vote(forged))]
            }
            Vote::Nullify { .. } => vec![(recipients, message)],
        },
        _ => vec![(recipients, message)],
    }
}
