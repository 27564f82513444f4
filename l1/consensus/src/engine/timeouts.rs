//! Giving up on a view: the nullify vote, retransmission of what peers may have missed, and
//! the exponential backoff (capped, reset by progress).

use super::{Effect, Engine, Timer};
use crate::messages::{Message, ProposalMessage, Vote};
use crate::signing::{Signer, Verifier};
use std::time::Duration;

/// Backoff doubles at most this many times before the cap applies anyway.
const MAX_DOUBLINGS: u32 = 20;

impl<S: Signer, V: Verifier> Engine<S, V> {
    /// Schedules the timer for the current view and attempt.
    pub(super) fn arm_timer(&mut self) {
        let after = self.timeout_duration();
        self.emit(Effect::ScheduleTimeout {
            timer: Timer {
                view: self.view,
                attempt: self.attempt,
            },
            after,
        });
    }

    /// `base * 2^(failed views in a row + timeouts in this view)`, at most `max`.
    pub fn timeout_duration(&self) -> Duration {
        let doublings = self
            .failures
            .saturating_add(self.attempt)
            .min(MAX_DOUBLINGS);
        let timeouts = self.config.timeouts;
        timeouts
            .base
            .saturating_mul(1u32 << doublings)
            .min(timeouts.max)
    }

    pub(super) fn on_timeout(&mut self, timer: Timer) {
        if timer.view != self.view || timer.attempt != self.attempt {
            return;
        }
        let view = self.view;
        // Peers that are behind may have missed how this node got here.
        let entry = self.certificate_ending(view.saturating_sub(1));
        if let Some(entry) = &entry {
            self.emit(Effect::Broadcast(Message::Certificate(entry.clone())));
        }
        if let Some(finalization) = self.finalized.certificate.clone()
            && entry.as_ref().map(|c| c.vote) != Some(finalization.vote)
        {
            self.emit(Effect::Broadcast(Message::Certificate(finalization)));
        }
        let state = self.view_state(view);
        let notarize = state.my_notarize.clone();
        let nullify = state.my_nullify.clone();
        if let Some(notarize) = notarize {
            // A leader resends its whole proposal: voters cannot vote on a bare vote.
            let justification = match notarize.vote {
                Vote::Notarize(proposal) if self.is_leader(view) => {
                    self.justification_for(proposal.parent, view)
                }
                _ => None,
            };
            let message = match justification {
                Some(justification) => Message::Proposal(ProposalMessage {
                    vote: notarize,
                    justification,
                }),
                None => Message::Vote(notarize),
            };
            self.emit(Effect::Broadcast(message));
        }
        match nullify {
            Some(nullify) => self.emit(Effect::Broadcast(Message::Vote(nullify))),
            None => self.cast_nullify(view),
        }
        if self.view == view {
            self.attempt = self.attempt.saturating_add(1);
            self.arm_timer();
        }
    }
}
