//! Everything validators send each other, and everything the engine asks the host to persist.
//!
//! - [`Vote`]: notarize a proposal, nullify a view (give up on it), or finalize a proposal.
//! - [`SignedVote`]: a vote with its signer and signature.
//! - [`Certificate`]: a vote subject with a quorum of signatures (a notarization,
//!   nullification or finalization).
//! - [`Message`]: a proposal (the leader's own notarize vote plus the certificates a voter
//!   needs to check it), a vote, or a certificate.
//! - [`Record`]: what survives a restart (own votes and certificates seen).

use crate::signing::Signature;
use crate::types::{Epoch, Proposal, ValidatorIndex, View};

/// The three votes of the protocol (see `docs/consensus.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Vote {
    /// "This proposal is valid and the first I saw from this view's leader."
    Notarize(Proposal),
    /// "I give up on this view" (timeout, or the leader's payload was invalid).
    Nullify { epoch: Epoch, view: View },
    /// "I saw this proposal notarized and never nullified its view."
    Finalize(Proposal),
}

/// Which certificate a quorum of a vote kind makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CertificateKind {
    Notarization,
    Nullification,
    Finalization,
}

impl Vote {
    pub fn epoch(&self) -> Epoch {
        match self {
            Vote::Notarize(p) | Vote::Finalize(p) => p.epoch,
            Vote::Nullify { epoch, .. } => *epoch,
        }
    }

    pub fn view(&self) -> View {
        match self {
            Vote::Notarize(p) | Vote::Finalize(p) => p.view,
            Vote::Nullify { view, .. } => *view,
        }
    }

    /// Whether one validator signing both `self` and `other` is a fault: two different
    /// notarize (or finalize) votes in one view of an epoch, or a nullify and a finalize of it.
    pub fn conflicts_with(&self, other: &Vote) -> bool {
        if self.epoch() != other.epoch() || self.view() != other.view() {
            return false;
        }
        match (self, other) {
            (Vote::Notarize(a), Vote::Notarize(b)) | (Vote::Finalize(a), Vote::Finalize(b)) => {
                a != b
            }
            (Vote::Nullify { .. }, Vote::Finalize(_))
            | (Vote::Finalize(_), Vote::Nullify { .. }) => true,
            _ => false,
        }
    }

    pub fn proposal(&self) -> Option<&Proposal> {
        match self {
            Vote::Notarize(p) | Vote::Finalize(p) => Some(p),
            Vote::Nullify { .. } => None,
        }
    }

    pub fn certificate_kind(&self) -> CertificateKind {
        match self {
            Vote::Notarize(_) => CertificateKind::Notarization,
            Vote::Nullify { .. } => CertificateKind::Nullification,
            Vote::Finalize(_) => CertificateKind::Finalization,
        }
    }
}

/// A vote signed by one validator.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SignedVote {
    pub vote: Vote,
    pub signer: ValidatorIndex,
    pub signature: Signature,
}

/// A quorum of signatures over one vote subject. Signers are strictly ascending (the codec
/// enforces it), so a certificate has one canonical encoding.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Certificate {
    pub vote: Vote,
    pub signatures: Vec<(ValidatorIndex, Signature)>,
}

impl Certificate {
    pub fn kind(&self) -> CertificateKind {
        self.vote.certificate_kind()
    }

    pub fn view(&self) -> View {
        self.vote.view()
    }

    pub fn proposal(&self) -> Option<&Proposal> {
        self.vote.proposal()
    }
}

/// What a voter needs to check that a proposal may extend its parent: the parent's
/// notarization or finalization (absent when the parent is the anchor) and a nullification of
/// every view between the parent's view and the proposal's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Justification {
    pub parent: Option<Certificate>,
    pub nullifications: Vec<Certificate>,
}

/// A leader's proposal: its own signed notarize vote and the justification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProposalMessage {
    pub vote: SignedVote,
    pub justification: Justification,
}

/// A consensus message between validators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Proposal(ProposalMessage),
    Vote(SignedVote),
    Certificate(Certificate),
}

impl Message {
    pub fn epoch(&self) -> Epoch {
        match self {
            Message::Proposal(p) => p.vote.vote.epoch(),
            Message::Vote(v) => v.vote.epoch(),
            Message::Certificate(c) => c.vote.epoch(),
        }
    }

    pub fn view(&self) -> View {
        match self {
            Message::Proposal(p) => p.vote.vote.view(),
            Message::Vote(v) => v.vote.view(),
            Message::Certificate(c) => c.view(),
        }
    }
}

/// What the host persists for the engine and hands back on restart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// A vote this validator cast. Persisted before it is sent: this is what stops a
    /// restarted validator from voting twice in a view.
    Vote(SignedVote),
    /// A certificate this validator saw. Lets a restarted validator rejoin at the right view
    /// and justify proposals without asking peers.
    Certificate(Certificate),
}

impl Record {
    pub fn view(&self) -> View {
        match self {
            Record::Vote(v) => v.vote.view(),
            Record::Certificate(c) => c.view(),
        }
    }
}
