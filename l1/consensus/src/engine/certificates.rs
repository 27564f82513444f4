//! Certificates: checking received ones, acting on new ones (vote to finalize, change view),
//! and committing finalized blocks with their notarized ancestors.

use super::{Effect, Engine, FinalizedTip, Rejection};
use crate::finality::verify_signatures;
use crate::messages::{Certificate, Message, Record, Vote};
use crate::signing::{Signer, Verifier};
use crate::types::{Proposal, View};

impl<S: Signer, V: Verifier> Engine<S, V> {
    pub(super) fn on_certificate(&mut self, certificate: Certificate) -> Result<(), Rejection> {
        if self.certificate_is_new(&certificate)? {
            self.verify_certificate(&certificate)?;
            self.handle_certificate(certificate, false);
        }
        Ok(())
    }

    /// False when this node already holds the same certificate; an error for certificates of
    /// finalized views or that conflict with one held (which takes more than f faulty
    /// validators, and is reported rather than acted on).
    pub(super) fn certificate_is_new(&self, certificate: &Certificate) -> Result<bool, Rejection> {
        self.check_epoch(certificate.vote.epoch())?;
        let view = certificate.view();
        if view <= self.finalized.view {
            let same = self
                .finalized
                .certificate
                .as_ref()
                .is_some_and(|held| held.vote == certificate.vote);
            if same {
                return Ok(false);
            }
            return Err(Rejection::StaleView {
                view,
                finalized_view: self.finalized.view,
            });
        }
        match self
            .views
            .get(&view)
            .and_then(|state| state.certificate(&certificate.vote))
        {
            Some(held) if held.vote == certificate.vote => Ok(false),
            Some(_) => {
                self.verify_certificate(certificate)?;
                Err(Rejection::ConflictingCertificate { view })
            }
            None => Ok(true),
        }
    }

    /// Full check: epoch, proposal shape, a quorum of distinct members, every signature.
    pub(super) fn verify_certificate(&self, certificate: &Certificate) -> Result<(), Rejection> {
        self.check_epoch(certificate.vote.epoch())?;
        verify_signatures(
            certificate,
            &self.config.namespace,
            &self.config.validators,
            &self.verifier,
        )
    }

    /// Acts on a checked certificate this node did not hold. `built_here`: formed from votes
    /// this node collected, so it is broadcast (others send their own).
    pub(super) fn handle_certificate(&mut self, certificate: Certificate, built_here: bool) {
        let view = certificate.view();
        let state = self.view_state(view);
        let slot = match certificate.vote {
            Vote::Notarize(_) => &mut state.notarization,
            Vote::Nullify { .. } => &mut state.nullification,
            Vote::Finalize(_) => &mut state.finalization,
        };
        if slot.is_some() {
            return;
        }
        *slot = Some(certificate.clone());
        self.emit(Effect::Persist(Record::Certificate(certificate.clone())));
        if built_here {
            self.emit(Effect::Broadcast(Message::Certificate(certificate.clone())));
        }
        match certificate.vote {
            Vote::Notarize(proposal) => {
                self.cast_finalize(proposal);
                if view >= self.view {
                    self.failures = 0;
                    self.enter_view(view + 1);
                }
            }
            Vote::Nullify { .. } => {
                if view >= self.view {
                    self.failures = self.failures.saturating_add(1);
                    self.enter_view(view + 1);
                }
            }
            Vote::Finalize(proposal) => {
                self.commit(proposal, &certificate);
                if view >= self.view {
                    self.failures = 0;
                    self.enter_view(view + 1);
                }
            }
        }
        // A new certificate may complete the justification this node needs to lead.
        self.try_propose();
    }

    /// The certificate that ended `view` here, if any (finalization first).
    pub(super) fn certificate_ending(&self, view: View) -> Option<Certificate> {
        if view == self.finalized.view {
            return self.finalized.certificate.clone();
        }
        let state = self.views.get(&view)?;
        state
            .finalization
            .clone()
            .or_else(|| state.notarization.clone())
            .or_else(|| state.nullification.clone())
    }

    /// Reports `proposal` and its notarized ancestors above the previous finalized block as
    /// final, oldest first, then forgets the views below it.
    fn commit(&mut self, proposal: Proposal, certificate: &Certificate) {
        // A later view can only finalize a higher block. One at or below the finalized height
        // conflicts with what is final, which takes more than f faulty signers: never report it
        // (heights reported to the host strictly increase) and never move the tip back.
        if proposal.view <= self.finalized.view || proposal.height <= self.finalized.height {
            return;
        }
        let mut chain = vec![proposal];
        let mut cursor = proposal.parent;
        while cursor.view > self.finalized.view {
            match self
                .views
                .get(&cursor.view)
                .and_then(|state| state.notarized_proposal())
            {
                Some(ancestor) if ancestor.payload == cursor.digest => {
                    chain.push(*ancestor);
                    cursor = ancestor.parent;
                }
                // A gap: the host fetches the missing ancestors by block sync.
                _ => break,
            }
        }
        for block in chain.iter().rev() {
            if block.is_padding() || block.height <= self.finalized.height {
                continue;
            }
            self.effects.push(Effect::Finalized {
                proposal: *block,
                certificate: certificate.clone(),
            });
            if self.config.last_height == Some(block.height) && !self.epoch_ended {
                self.epoch_ended = true;
                self.effects.push(Effect::EpochEnded {
                    last: *block,
                    certificate: certificate.clone(),
                });
            }
        }
        self.finalized = FinalizedTip {
            view: proposal.view,
            height: proposal.height,
            digest: proposal.payload,
            certificate: Some(certificate.clone()),
        };
        self.views = self.views.split_off(&proposal.view);
        self.emit(Effect::Prune {
            below_view: proposal.view,
        });
    }
}
