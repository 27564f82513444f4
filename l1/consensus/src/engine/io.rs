//! What goes into the engine ([`Input`]) and what it asks its host to do ([`Effect`]).

use crate::messages::{Certificate, Message, Record, SignedVote};
use crate::types::{Digest, Height, Parent, Proposal, ValidatorIndex, View};
use std::time::Duration;

/// One event for [`crate::Engine::apply`].
// Messages are the common input; boxing them would only move the allocation to every host.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A message from a peer (already decoded; see [`crate::codec::decode_message`]).
    Message(Message),
    /// A timer the engine scheduled with [`Effect::ScheduleTimeout`] fired.
    Timeout(Timer),
    /// The application built the payload asked for by [`Effect::RequestPayload`].
    PayloadReady { view: View, payload: Digest },
    /// The application checked the payload asked about by [`Effect::VerifyPayload`].
    PayloadVerified {
        view: View,
        payload: Digest,
        valid: bool,
    },
}

/// Names one scheduled timeout. Timers of earlier views or attempts are ignored when they
/// fire, so the host never needs to cancel one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timer {
    pub view: View,
    pub attempt: u32,
}

/// Proof that a validator signed two conflicting votes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    pub first: SignedVote,
    pub second: SignedVote,
}

/// Work for the host. **Effects must be performed in order**, and a [`Effect::Persist`] must be
/// durable (written and synced) before the host performs the effect after it: that is how a
/// vote is on disk before it can reach a peer, so a restarted validator never votes twice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Durably store `record`; hand all stored records back to [`crate::Engine::start`] after a
    /// restart.
    Persist(Record),
    /// Send to every validator of the epoch (gossip).
    Broadcast(Message),
    /// Send to one validator (a reply to a peer that is behind).
    SendTo {
        to: ValidatorIndex,
        message: Message,
    },
    /// Feed [`Input::Timeout`]`(timer)` back after `after` has elapsed.
    ScheduleTimeout { timer: Timer, after: Duration },
    /// This node leads `view`: build a payload extending `parent` at `height` and answer with
    /// [`Input::PayloadReady`].
    RequestPayload {
        view: View,
        parent: Parent,
        height: Height,
    },
    /// Check the payload of `proposal` (fetching it by digest if needed) and answer with
    /// [`Input::PayloadVerified`].
    VerifyPayload { proposal: Proposal },
    /// `proposal` is final. Reported in increasing height order; heights may jump when the
    /// engine missed some notarized ancestors (the host then fetches them by block sync along
    /// parent links). `certificate` is a finalization of this block or of a descendant. After a
    /// restart the latest one may be reported again; hosts ignore heights they already have.
    Finalized {
        proposal: Proposal,
        certificate: Certificate,
    },
    /// The epoch's last block is final: stop this engine and start the next epoch's, anchored
    /// at `last`.
    EpochEnded {
        last: Proposal,
        certificate: Certificate,
    },
    /// A validator signed conflicting votes (for governance to act on).
    Fault(Evidence),
    /// Records of views below `below_view` are no longer needed and may be deleted.
    Prune { below_view: View },
}
