//! What the engine remembers about one view: the leader's proposal, this node's own votes,
//! the votes received, and the certificates formed or received.

use crate::messages::{Certificate, SignedVote, Vote};
use crate::types::{Height, Parent, Proposal, ValidatorIndex};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Default)]
pub(super) struct ViewState {
    /// As leader: the parent and height the payload was requested for.
    pub requested: Option<(Parent, Height)>,
    /// As voter: the leader's proposal handed to the application to verify.
    pub verifying: Option<Proposal>,

    pub my_notarize: Option<SignedVote>,
    pub my_nullify: Option<SignedVote>,
    pub my_finalize: Option<SignedVote>,

    pub notarizes: BTreeMap<ValidatorIndex, SignedVote>,
    pub nullifies: BTreeMap<ValidatorIndex, SignedVote>,
    pub finalizes: BTreeMap<ValidatorIndex, SignedVote>,

    /// Validators already reported for a fault in this view.
    pub faulty: BTreeSet<ValidatorIndex>,

    pub notarization: Option<Certificate>,
    pub nullification: Option<Certificate>,
    pub finalization: Option<Certificate>,
}

impl ViewState {
    /// The votes of the same kind as `vote` received in this view.
    pub fn tally(&self, vote: &Vote) -> &BTreeMap<ValidatorIndex, SignedVote> {
        match vote {
            Vote::Notarize(_) => &self.notarizes,
            Vote::Nullify { .. } => &self.nullifies,
            Vote::Finalize(_) => &self.finalizes,
        }
    }

    pub fn tally_mut(&mut self, vote: &Vote) -> &mut BTreeMap<ValidatorIndex, SignedVote> {
        match vote {
            Vote::Notarize(_) => &mut self.notarizes,
            Vote::Nullify { .. } => &mut self.nullifies,
            Vote::Finalize(_) => &mut self.finalizes,
        }
    }

    /// The certificate slot for `vote`'s kind.
    pub fn certificate(&self, vote: &Vote) -> Option<&Certificate> {
        match vote {
            Vote::Notarize(_) => self.notarization.as_ref(),
            Vote::Nullify { .. } => self.nullification.as_ref(),
            Vote::Finalize(_) => self.finalization.as_ref(),
        }
    }

    /// A proof that `proposal`'s block is notarized in this view (a finalization implies one).
    pub fn notarized_proposal(&self) -> Option<&Proposal> {
        self.notarization
            .as_ref()
            .or(self.finalization.as_ref())
            .and_then(Certificate::proposal)
    }

    /// Signatures of everyone who cast exactly `vote`, if they make at least `quorum`.
    pub fn quorum_for(&self, vote: &Vote, quorum: usize) -> Option<Certificate> {
        let signatures: Vec<_> = self
            .tally(vote)
            .values()
            .filter(|signed| signed.vote == *vote)
            .map(|signed| (signed.signer, signed.signature.clone()))
            .collect();
        (signatures.len() >= quorum).then_some(Certificate {
            vote: *vote,
            signatures,
        })
    }
}
