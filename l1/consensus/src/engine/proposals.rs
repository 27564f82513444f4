//! Proposals: leading a view (choose the parent, ask the application for a payload, send the
//! proposal with its justification) and checking a leader's proposal before asking the
//! application to verify its payload.

use super::{Effect, Engine, Rejection};
use crate::codec::MAX_JUSTIFICATION_NULLIFICATIONS;
use crate::messages::{Certificate, Justification, Message, ProposalMessage, Vote};
use crate::signing::{Signer, Verifier};
use crate::types::{Digest, Height, Parent, Proposal, View};
use std::collections::BTreeMap;

impl<S: Signer, V: Verifier> Engine<S, V> {
    /// If this node leads the current view and has not proposed or given up yet, picks a
    /// parent and asks the application for a payload (or proposes padding past the epoch end).
    pub(super) fn try_propose(&mut self) {
        let view = self.view;
        if self.recovering || self.epoch_ended || !self.is_leader(view) {
            return;
        }
        if let Some(state) = self.views.get(&view)
            && (state.requested.is_some()
                || state.my_notarize.is_some()
                || state.my_nullify.is_some())
        {
            return;
        }
        let Some((parent, height)) = self.choose_parent(view) else {
            return;
        };
        let past_end = self.config.last_height.is_some_and(|last| height > last);
        self.view_state(view).requested = Some((parent, height));
        if past_end {
            self.propose(view, parent, height, parent.digest);
        } else {
            self.emit(Effect::RequestPayload {
                view,
                parent,
                height,
            });
        }
    }

    /// The highest notarized block such that every later view before `view` is nullified.
    /// `None` while some view in between has no certificate here yet.
    fn choose_parent(&self, view: View) -> Option<(Parent, Height)> {
        let mut candidate = view.checked_sub(1)?;
        loop {
            if candidate == self.finalized.view {
                let parent = Parent {
                    view: candidate,
                    digest: self.finalized.digest,
                };
                return Some((parent, self.finalized.height + 1));
            }
            let state = self.views.get(&candidate)?;
            if let Some(notarized) = state.notarized_proposal() {
                return Some((
                    Parent {
                        view: candidate,
                        digest: notarized.payload,
                    },
                    notarized.height + 1,
                ));
            }
            state.nullification.as_ref()?;
            candidate -= 1;
        }
    }

    /// The certificates a voter needs to accept a proposal at `view` extending `parent`.
    pub(super) fn justification_for(&self, parent: Parent, view: View) -> Option<Justification> {
        if parent.view < self.finalized.view {
            return None;
        }
        let parent_certificate = if parent.view == 0 {
            None
        } else if parent.view == self.finalized.view {
            let held = self.finalized.certificate.clone()?;
            (self.finalized.digest == parent.digest)
                .then_some(held)?
                .into()
        } else {
            let state = self.views.get(&parent.view)?;
            let held = state
                .notarization
                .clone()
                .or_else(|| state.finalization.clone())?;
            (held.proposal()?.payload == parent.digest)
                .then_some(held)?
                .into()
        };
        let skipped = view - parent.view - 1;
        if skipped as usize > MAX_JUSTIFICATION_NULLIFICATIONS {
            return None;
        }
        let mut nullifications = Vec::with_capacity(skipped as usize);
        for skipped_view in parent.view + 1..view {
            nullifications.push(self.views.get(&skipped_view)?.nullification.clone()?);
        }
        Some(Justification {
            parent: parent_certificate,
            nullifications,
        })
    }

    /// Signs and sends a proposal: the leader's notarize vote, persisted first.
    fn propose(&mut self, view: View, parent: Parent, height: Height, payload: Digest) {
        let Some(justification) = self.justification_for(parent, view) else {
            // The parent was overtaken (a later block was finalized); choose again.
            self.view_state(view).requested = None;
            return;
        };
        let proposal = Proposal {
            epoch: self.config.epoch,
            view,
            height,
            parent,
            payload,
        };
        if let Some(signed) = self.record_own_vote(Vote::Notarize(proposal)) {
            self.emit(Effect::Broadcast(Message::Proposal(ProposalMessage {
                vote: signed.clone(),
                justification,
            })));
            self.count_vote(signed);
        }
    }

    pub(super) fn on_payload_ready(
        &mut self,
        view: View,
        payload: Digest,
    ) -> Result<(), Rejection> {
        if view < self.view {
            return Ok(());
        }
        let state = self.views.get(&view);
        let Some((parent, height)) = state
            .and_then(|state| state.requested)
            .filter(|_| view == self.view)
        else {
            return Err(Rejection::UnexpectedPayload { view });
        };
        if payload == Digest::EMPTY {
            return Err(Rejection::EmptyPayload);
        }
        if state.is_some_and(|state| state.my_notarize.is_some() || state.my_nullify.is_some()) {
            return Ok(());
        }
        self.propose(view, parent, height, payload);
        Ok(())
    }

    pub(super) fn on_proposal(&mut self, message: ProposalMessage) -> Result<(), Rejection> {
        let signed = &message.vote;
        let Vote::Notarize(proposal) = signed.vote else {
            return Err(Rejection::MalformedProposal(
                "a proposal must carry its leader's notarize vote",
            ));
        };
        self.check_epoch(proposal.epoch)?;
        self.check_member(signed.signer)?;
        let leader = self.leader(proposal.view);
        if signed.signer != leader {
            return Err(Rejection::NotLeader {
                view: proposal.view,
                signer: signed.signer,
                leader,
            });
        }
        if proposal.view <= self.finalized.view {
            return Err(Rejection::StaleView {
                view: proposal.view,
                finalized_view: self.finalized.view,
            });
        }
        if proposal.view < self.view {
            // Too late to vote on; its notarize vote still counts.
            return self.on_vote(message.vote);
        }
        self.check_proposal_shape(&proposal)?;
        let new_certificates = self.check_justification(&proposal, &message.justification)?;
        self.verify_vote(signed)?;
        if let Some(evidence) = self.conflict(signed) {
            // The leader sent two proposals for this view: report it, vote for neither again.
            self.report_fault(evidence);
            return Ok(());
        }
        // Everything checked: now change state.
        for certificate in new_certificates {
            self.handle_certificate(certificate, false);
        }
        self.count_vote(message.vote);
        if self.view == proposal.view {
            self.consider(proposal);
        }
        Ok(())
    }

    /// Checks that `proposal` may extend its parent: the parent is notarized (or is the
    /// finalized block) and every view in between is nullified, using certificates held here
    /// or carried in `justification`. Returns the carried certificates this node lacked, all
    /// verified.
    fn check_justification(
        &self,
        proposal: &Proposal,
        justification: &Justification,
    ) -> Result<Vec<Certificate>, Rejection> {
        let parent = proposal.parent;
        if parent.view < self.finalized.view {
            return Err(Rejection::ParentBeforeFinalized {
                parent_view: parent.view,
                finalized_view: self.finalized.view,
            });
        }
        let mut new_certificates = Vec::new();
        let parent_height = if parent.view == self.finalized.view {
            if parent.digest != self.finalized.digest {
                return Err(Rejection::UnknownParent {
                    parent_view: parent.view,
                });
            }
            self.finalized.height
        } else if let Some(held) = self
            .views
            .get(&parent.view)
            .and_then(|state| state.notarized_proposal())
            && held.payload == parent.digest
        {
            held.height
        } else {
            let carried = justification
                .parent
                .as_ref()
                .filter(|certificate| !matches!(certificate.vote, Vote::Nullify { .. }))
                .and_then(|certificate| certificate.proposal().map(|p| (certificate, *p)))
                .filter(|(_, p)| p.view == parent.view && p.payload == parent.digest);
            let Some((certificate, carried_parent)) = carried else {
                return Err(Rejection::UnknownParent {
                    parent_view: parent.view,
                });
            };
            if self.certificate_is_new(certificate)? {
                self.verify_certificate(certificate)?;
                new_certificates.push(certificate.clone());
            }
            carried_parent.height
        };
        if proposal.height != parent_height + 1 {
            return Err(Rejection::HeightMismatch {
                expected: parent_height + 1,
                found: proposal.height,
            });
        }

        let carried: BTreeMap<View, &Certificate> = justification
            .nullifications
            .iter()
            .filter(|certificate| matches!(certificate.vote, Vote::Nullify { .. }))
            .map(|certificate| (certificate.view(), certificate))
            .collect();
        let between = parent.view + 1..proposal.view;
        let held_between = self
            .views
            .range(between.clone())
            .filter(|(_, state)| state.nullification.is_some())
            .count() as u64;
        let skipped = proposal.view - parent.view - 1;
        if skipped > held_between + carried.len() as u64 {
            // Not enough certificates can exist. The first missing view is at most
            // `held_between + carried.len()` steps in, so this search is bounded too.
            let missing = between
                .clone()
                .find(|view| {
                    !carried.contains_key(view)
                        && self
                            .views
                            .get(view)
                            .is_none_or(|state| state.nullification.is_none())
                })
                .unwrap_or(parent.view + 1);
            return Err(Rejection::MissingNullification { view: missing });
        }
        for view in between {
            if self
                .views
                .get(&view)
                .is_some_and(|state| state.nullification.is_some())
            {
                continue;
            }
            let Some(certificate) = carried.get(&view) else {
                return Err(Rejection::MissingNullification { view });
            };
            if self.certificate_is_new(certificate)? {
                self.verify_certificate(certificate)?;
                new_certificates.push((*certificate).clone());
            }
        }
        Ok(new_certificates)
    }

    /// The leader's proposal for the current view passed every check: ask the application
    /// about its payload (padding needs no application).
    fn consider(&mut self, proposal: Proposal) {
        if self.config.me.is_none() || self.recovering {
            return;
        }
        let state = self.view_state(proposal.view);
        if state.my_notarize.is_some() || state.my_nullify.is_some() || state.verifying.is_some() {
            return;
        }
        if proposal.is_padding() {
            self.cast_notarize(proposal);
            return;
        }
        state.verifying = Some(proposal);
        self.emit(Effect::VerifyPayload { proposal });
    }

    pub(super) fn on_payload_verified(
        &mut self,
        view: View,
        payload: Digest,
        valid: bool,
    ) -> Result<(), Rejection> {
        if view < self.view {
            return Ok(());
        }
        let verifying = self.views.get(&view).and_then(|state| state.verifying);
        let Some(proposal) = verifying.filter(|p| view == self.view && p.payload == payload) else {
            return Err(Rejection::UnexpectedPayload { view });
        };
        if valid {
            self.cast_notarize(proposal);
        } else {
            self.cast_nullify(view);
        }
        Ok(())
    }
}
