//! How one engine instance is set up: which chain and epoch it orders, with which validators,
//! from which anchor block, and how long it waits before giving up on a view.

use crate::types::{Digest, Epoch, Height, ValidatorIndex};
use crate::validators::ValidatorSet;
use std::time::Duration;

/// The block an epoch builds on: the chain's genesis, or the last block of the previous epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Anchor {
    pub height: Height,
    pub digest: Digest,
}

/// View timeouts. A view that ends without a notarization doubles the next wait, up to `max`;
/// a notarization or finalization resets it to `base`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeoutConfig {
    pub base: Duration,
    pub max: Duration,
}

impl Default for TimeoutConfig {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(1_000),
            max: Duration::from_millis(30_000),
        }
    }
}

/// Everything an [`crate::Engine`] needs to know before it starts.
#[derive(Clone, Debug)]
pub struct Config {
    /// Which chain this instance orders, e.g. `b"kaimeng/beacon"` or `b"kaimeng/shard/0"`.
    /// Part of every signed message, so votes cannot be replayed on another chain.
    pub namespace: Vec<u8>,
    pub epoch: Epoch,
    pub validators: ValidatorSet,
    /// This node's index in `validators`; `None` for a full node that follows without voting.
    pub me: Option<ValidatorIndex>,
    pub anchor: Anchor,
    /// The epoch's last height. Past it leaders propose only padding blocks (see
    /// [`crate::Proposal::is_padding`]) until the last block is finalized; then the engine
    /// reports [`crate::Effect::EpochEnded`].
    /// `None`: the epoch never ends.
    pub last_height: Option<Height>,
    pub timeouts: TimeoutConfig,
    /// How far past its current view the engine accepts individual votes (certificates and
    /// justified proposals are accepted from any future view). Bounds memory per peer.
    pub max_views_ahead: u64,
}

impl Config {
    /// A config with default timeouts and vote window.
    pub fn new(
        namespace: impl Into<Vec<u8>>,
        epoch: Epoch,
        validators: ValidatorSet,
        me: Option<ValidatorIndex>,
        anchor: Anchor,
    ) -> Self {
        Self {
            namespace: namespace.into(),
            epoch,
            validators,
            me,
            anchor,
            last_height: None,
            timeouts: TimeoutConfig::default(),
            max_views_ahead: 64,
        }
    }
}
