//! The consensus engine: a pure state machine for a Simplex-class BFT protocol.
//!
//! The engine owns no IO, clock or thread. The host feeds it [`Input`]s and performs the
//! [`Effect`]s it returns, in order (see [`Effect`] for the persistence rule). One instance
//! orders one chain (beacon or shard, told apart by [`Config::namespace`]) for one epoch.
//!
//! Submodules, one concern each: `votes` (receiving and casting votes), `certificates`
//! (checking certificates, changing views, committing), `proposals` (leading and checking
//! proposals), `timeouts` (giving up on a view, retransmitting, backoff), `recovery`
//! (restarting from persisted records).

mod certificates;
mod config;
mod io;
mod proposals;
mod recovery;
mod rejection;
mod timeouts;
mod view_state;
mod votes;

pub use config::{Anchor, Config, TimeoutConfig};
pub use io::{Effect, Evidence, Input, Timer};
pub use rejection::Rejection;

use crate::messages::{Certificate, Message};
use crate::signing::{Signer, Verifier};
use crate::types::{Digest, Height, ValidatorIndex, View};
use std::collections::BTreeMap;
use view_state::ViewState;

/// The last finalized block this engine knows (initially the anchor, at view 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinalizedTip {
    pub view: View,
    pub height: Height,
    pub digest: Digest,
    /// The finalization certificate; `None` for the anchor.
    pub certificate: Option<Certificate>,
}

/// One validator's (or follower's) consensus state for one chain and epoch.
pub struct Engine<S, V> {
    config: Config,
    signer: S,
    verifier: V,
    started: bool,
    /// True while [`Engine::start`] replays records: nothing is sent, persisted or scheduled.
    recovering: bool,
    view: View,
    /// How many timeouts fired in the current view.
    attempt: u32,
    /// Views in a row that ended without a notarization; the backoff exponent.
    failures: u32,
    views: BTreeMap<View, ViewState>,
    finalized: FinalizedTip,
    epoch_ended: bool,
    effects: Vec<Effect>,
}

impl<S: Signer, V: Verifier> Engine<S, V> {
    /// A new engine. Call [`Engine::start`] before anything else.
    pub fn new(config: Config, signer: S, verifier: V) -> Self {
        let finalized = FinalizedTip {
            view: 0,
            height: config.anchor.height,
            digest: config.anchor.digest,
            certificate: None,
        };
        Self {
            config,
            signer,
            verifier,
            started: false,
            recovering: false,
            view: 0,
            attempt: 0,
            failures: 0,
            views: BTreeMap::new(),
            finalized,
            epoch_ended: false,
            effects: Vec::new(),
        }
    }

    /// Processes one input. On `Err` the input was refused and the engine's state is unchanged;
    /// on `Ok` the host must perform the returned effects in order.
    pub fn apply(&mut self, input: Input) -> Result<Vec<Effect>, Rejection> {
        if !self.started {
            return Err(Rejection::NotStarted);
        }
        match input {
            Input::Message(Message::Vote(vote)) => self.on_vote(vote)?,
            Input::Message(Message::Certificate(certificate)) => {
                self.on_certificate(certificate)?
            }
            Input::Message(Message::Proposal(proposal)) => self.on_proposal(proposal)?,
            Input::Timeout(timer) => self.on_timeout(timer),
            Input::PayloadReady { view, payload } => self.on_payload_ready(view, payload)?,
            Input::PayloadVerified {
                view,
                payload,
                valid,
            } => self.on_payload_verified(view, payload, valid)?,
        }
        Ok(std::mem::take(&mut self.effects))
    }

    /// The view this node is in.
    pub fn view(&self) -> View {
        self.view
    }

    /// The last finalized block.
    pub fn finalized(&self) -> &FinalizedTip {
        &self.finalized
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// True once the epoch's last block is final.
    pub fn epoch_ended(&self) -> bool {
        self.epoch_ended
    }

    /// The leader of `view` in this epoch.
    pub fn leader(&self, view: View) -> ValidatorIndex {
        self.config.validators.leader(self.config.epoch, view)
    }

    fn is_leader(&self, view: View) -> bool {
        self.config.me == Some(self.leader(view))
    }

    fn quorum(&self) -> usize {
        self.config.validators.quorum()
    }

    fn emit(&mut self, effect: Effect) {
        if !self.recovering {
            self.effects.push(effect);
        }
    }

    fn view_state(&mut self, view: View) -> &mut ViewState {
        self.views.entry(view).or_default()
    }

    /// Moves to `view` (only ever forward), arms its timer, and proposes if this node leads it.
    fn enter_view(&mut self, view: View) {
        if view <= self.view {
            return;
        }
        self.view = view;
        self.attempt = 0;
        self.arm_timer();
        self.try_propose();
    }
}
