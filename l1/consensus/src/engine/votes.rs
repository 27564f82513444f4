//! Receiving votes (checks, equivocation detection, tallies that form certificates) and
//! casting this node's own votes (persisted before they are broadcast).

use super::{Effect, Engine, Evidence, Rejection};
use crate::messages::{Message, Record, SignedVote, Vote};
use crate::signing::{Signer, Verifier, signing_bytes};
use crate::types::{Epoch, Proposal, ValidatorIndex, View};

impl<S: Signer, V: Verifier> Engine<S, V> {
    pub(super) fn on_vote(&mut self, signed: SignedVote) -> Result<(), Rejection> {
        self.check_epoch(signed.vote.epoch())?;
        self.check_member(signed.signer)?;
        if let Some(proposal) = signed.vote.proposal() {
            self.check_proposal_shape(proposal)?;
        }
        let view = signed.vote.view();
        let is_nullify = matches!(signed.vote, Vote::Nullify { .. });
        if view <= self.finalized.view {
            if is_nullify {
                // A peer stuck in a finalized view: show it the way forward.
                self.verify_vote(&signed)?;
                self.help_peer(signed.signer, view);
                return Ok(());
            }
            return Err(Rejection::StaleView {
                view,
                finalized_view: self.finalized.view,
            });
        }
        let max_ahead = self.config.max_views_ahead;
        if view > self.view.saturating_add(max_ahead) {
            return Err(Rejection::ViewTooFarAhead {
                view,
                current: self.view,
                max_ahead,
            });
        }
        let redundant = self
            .views
            .get(&view)
            .is_some_and(|state| state.certificate(&signed.vote).is_some());
        if redundant {
            // The certificate exists already; a nullify still tells us the sender is behind.
            if is_nullify && view < self.view {
                self.verify_vote(&signed)?;
                self.help_peer(signed.signer, view);
            }
            return Ok(());
        }
        if self.holds(&signed) {
            return Ok(());
        }
        self.verify_vote(&signed)?;
        if let Some(evidence) = self.conflict(&signed) {
            self.report_fault(evidence);
            return Ok(());
        }
        if is_nullify && view < self.view {
            self.help_peer(signed.signer, view);
        }
        self.count_vote(signed);
        Ok(())
    }

    pub(super) fn check_epoch(&self, epoch: Epoch) -> Result<(), Rejection> {
        if epoch != self.config.epoch {
            return Err(Rejection::WrongEpoch {
                expected: self.config.epoch,
                found: epoch,
            });
        }
        Ok(())
    }

    pub(super) fn check_member(&self, signer: ValidatorIndex) -> Result<(), Rejection> {
        if !self.config.validators.contains(signer) {
            return Err(Rejection::UnknownSigner(signer));
        }
        Ok(())
    }

    /// Checks of a proposal header that need no certificate: view order, epoch padding rules,
    /// and the height implied by any parent this node knows.
    pub(super) fn check_proposal_shape(&self, proposal: &Proposal) -> Result<(), Rejection> {
        if proposal.view == 0 || proposal.parent.view >= proposal.view {
            return Err(Rejection::MalformedProposal(
                "parent view must precede the proposal's view",
            ));
        }
        match self.config.last_height {
            Some(last) if proposal.height > last && !proposal.is_padding() => {
                return Err(Rejection::MalformedProposal(
                    "a real payload past the epoch's last height",
                ));
            }
            Some(last) if proposal.height <= last && proposal.is_padding() => {
                return Err(Rejection::MalformedProposal(
                    "a padding block before the epoch's last height",
                ));
            }
            None if proposal.is_padding() => {
                return Err(Rejection::MalformedProposal(
                    "a padding block in an epoch without end",
                ));
            }
            _ => {}
        }
        if proposal.parent.view == 0 {
            if proposal.parent.digest != self.config.anchor.digest {
                return Err(Rejection::UnknownParent { parent_view: 0 });
            }
            let expected = self.config.anchor.height + 1;
            if proposal.height != expected {
                return Err(Rejection::HeightMismatch {
                    expected,
                    found: proposal.height,
                });
            }
        } else if let Some(parent) = self
            .views
            .get(&proposal.parent.view)
            .and_then(|s| s.notarized_proposal())
            && parent.payload == proposal.parent.digest
            && proposal.height != parent.height + 1
        {
            return Err(Rejection::HeightMismatch {
                expected: parent.height + 1,
                found: proposal.height,
            });
        }
        Ok(())
    }

    pub(super) fn verify_vote(&self, signed: &SignedVote) -> Result<(), Rejection> {
        let Some(key) = self.config.validators.public_key(signed.signer) else {
            return Err(Rejection::UnknownSigner(signed.signer));
        };
        let message = signing_bytes(&self.config.namespace, &signed.vote);
        if !self
            .verifier
            .verify(signed.signer, key, &message, &signed.signature)
        {
            return Err(Rejection::BadSignature(signed.signer));
        }
        Ok(())
    }

    /// True when this exact signed vote was received before (a retransmission).
    fn holds(&self, signed: &SignedVote) -> bool {
        self.views
            .get(&signed.vote.view())
            .and_then(|state| state.tally(&signed.vote).get(&signed.signer))
            .is_some_and(|held| held == signed)
    }

    /// Two different notarize (or finalize) votes in one view, or a nullify and a finalize in
    /// one view, from the same validator: a fault, with the two signed votes as evidence.
    pub(super) fn conflict(&self, signed: &SignedVote) -> Option<Evidence> {
        let state = self.views.get(&signed.vote.view())?;
        let first = match signed.vote {
            Vote::Notarize(_) => state.notarizes.get(&signed.signer),
            Vote::Finalize(_) => state
                .finalizes
                .get(&signed.signer)
                .or_else(|| state.nullifies.get(&signed.signer)),
            Vote::Nullify { .. } => state.finalizes.get(&signed.signer),
        }?;
        (first.vote != signed.vote).then(|| Evidence {
            first: first.clone(),
            second: signed.clone(),
        })
    }

    /// Reports a fault once per validator and view; the conflicting vote is not counted.
    pub(super) fn report_fault(&mut self, evidence: Evidence) {
        let signer = evidence.second.signer;
        if self
            .view_state(evidence.second.vote.view())
            .faulty
            .insert(signer)
        {
            self.emit(Effect::Fault(evidence));
        }
    }

    /// Adds a checked vote to its tally and forms a certificate when a quorum agrees.
    pub(super) fn count_vote(&mut self, signed: SignedVote) {
        let vote = signed.vote;
        let quorum = self.quorum();
        let state = self.view_state(vote.view());
        if state.certificate(&vote).is_some() {
            return;
        }
        state.tally_mut(&vote).insert(signed.signer, signed);
        if let Some(certificate) = state.quorum_for(&vote, quorum) {
            self.handle_certificate(certificate, true);
        }
    }

    /// Sends a peer that is behind the certificates that bring it to this node's view.
    pub(super) fn help_peer(&mut self, to: ValidatorIndex, peer_view: View) {
        if self.config.me == Some(to) {
            return;
        }
        let mut sent_finalization = None;
        if peer_view <= self.finalized.view
            && let Some(certificate) = self.finalized.certificate.clone()
        {
            sent_finalization = Some(certificate.vote);
            self.emit(Effect::SendTo {
                to,
                message: Message::Certificate(certificate),
            });
        }
        let previous = self.view.saturating_sub(1);
        if previous >= peer_view
            && let Some(certificate) = self.certificate_ending(previous)
            && Some(certificate.vote) != sent_finalization
        {
            self.emit(Effect::SendTo {
                to,
                message: Message::Certificate(certificate),
            });
        }
    }

    fn sign_vote(&self, vote: Vote, signer: ValidatorIndex) -> SignedVote {
        let signature = self
            .signer
            .sign(&signing_bytes(&self.config.namespace, &vote));
        SignedVote {
            vote,
            signer,
            signature,
        }
    }

    /// Signs, records and persists one of this node's votes. Returns it for sending; `None`
    /// for a follower or while replaying records.
    pub(super) fn record_own_vote(&mut self, vote: Vote) -> Option<SignedVote> {
        let me = self.config.me?;
        if self.recovering {
            return None;
        }
        let signed = self.sign_vote(vote, me);
        let state = self.view_state(vote.view());
        let slot = match vote {
            Vote::Notarize(_) => &mut state.my_notarize,
            Vote::Nullify { .. } => &mut state.my_nullify,
            Vote::Finalize(_) => &mut state.my_finalize,
        };
        *slot = Some(signed.clone());
        self.emit(Effect::Persist(Record::Vote(signed.clone())));
        Some(signed)
    }

    fn cast(&mut self, vote: Vote) {
        if let Some(signed) = self.record_own_vote(vote) {
            self.emit(Effect::Broadcast(Message::Vote(signed.clone())));
            self.count_vote(signed);
        }
    }

    /// Votes for the leader's proposal, unless this node already did or gave up on the view.
    pub(super) fn cast_notarize(&mut self, proposal: Proposal) {
        let state = self.view_state(proposal.view);
        if state.my_notarize.is_some() || state.my_nullify.is_some() {
            return;
        }
        self.cast(Vote::Notarize(proposal));
    }

    /// Gives up on `view`, unless this node already voted to finalize it.
    pub(super) fn cast_nullify(&mut self, view: View) {
        let state = self.view_state(view);
        if state.my_nullify.is_some() || state.my_finalize.is_some() {
            return;
        }
        self.cast(Vote::Nullify {
            epoch: self.config.epoch,
            view,
        });
    }

    /// Votes to finalize a notarized proposal, unless this node gave up on its view.
    pub(super) fn cast_finalize(&mut self, proposal: Proposal) {
        if proposal.view <= self.finalized.view {
            return;
        }
        let state = self.view_state(proposal.view);
        if state.my_finalize.is_some() || state.my_nullify.is_some() {
            return;
        }
        self.cast(Vote::Finalize(proposal));
    }
}
