//! Safety checks made while the simulation runs: no two different blocks finalized at one
//! height (across all nodes), each node's finalized blocks form one chain, and no validator
//! that is meant to be honest ever signs conflicting votes (which would mean a vote was sent
//! before it was persisted, or a restart forgot one).

use crate::messages::{Message, Vote};
use crate::types::{Digest, Epoch, Height, Proposal, View};
use std::collections::BTreeMap;

#[derive(Default)]
struct CastVotes {
    notarize: Option<Proposal>,
    finalize: Option<Proposal>,
    nullify: bool,
}

#[derive(Default)]
pub(super) struct Monitor {
    finalized: BTreeMap<Height, Digest>,
    votes: BTreeMap<(Epoch, usize, View), CastVotes>,
    pub violations: Vec<String>,
}

impl Monitor {
    /// Records a message an honest validator (mock key `key`) sent.
    pub fn sent_by_honest(&mut self, key: usize, message: &Message) {
        let signed = match message {
            Message::Proposal(proposal) => &proposal.vote,
            Message::Vote(signed) => signed,
            Message::Certificate(_) => return,
        };
        let vote = signed.vote;
        let cast = self
            .votes
            .entry((vote.epoch(), key, vote.view()))
            .or_default();
        let conflict = match vote {
            Vote::Notarize(p) => cast.notarize.replace(p).is_some_and(|held| held != p),
            Vote::Finalize(p) => {
                cast.finalize.replace(p).is_some_and(|held| held != p) || cast.nullify
            }
            Vote::Nullify { .. } => {
                cast.nullify = true;
                cast.finalize.is_some()
            }
        };
        if conflict {
            self.violations.push(format!(
                "honest validator {key} signed conflicting votes in view {}",
                vote.view()
            ));
        }
    }

    /// Records that `node` finalized `proposal`; `previous` is the block the node finalized at
    /// the height below, if any.
    pub fn finalized(&mut self, node: usize, proposal: &Proposal, previous: Option<Digest>) {
        match self.finalized.get(&proposal.height) {
            Some(digest) if *digest != proposal.payload => self.violations.push(format!(
                "node {node} finalized {:?} at height {}, another node finalized {:?}",
                proposal.payload, proposal.height, digest
            )),
            Some(_) => {}
            None => {
                self.finalized.insert(proposal.height, proposal.payload);
            }
        }
        if let Some(previous) = previous
            && previous != proposal.parent.digest
        {
            self.violations.push(format!(
                "node {node} finalized height {} whose parent is not its block at height {}",
                proposal.height,
                proposal.height - 1
            ));
        }
    }
}
