//! `BeaconError`: why a height's beacon data, or a stored beacon state, is refused.

use crate::governance::{DecodeError, GovernanceError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BeaconError {
    #[error("beacon state is at height {at}, so it cannot apply height {height}")]
    OutOfOrder { at: u64, height: u64 },
    #[error("more than {max} governance transactions at one height")]
    TooManyTransactions { max: usize },
    #[error("beacon section ends inside {0}")]
    Truncated(&'static str),
    #[error("undecodable governance transaction: {0}")]
    Undecodable(DecodeError),
    #[error("governance transaction refused: {0}")]
    Refused(GovernanceError),
    #[error("epoch boundary at height {height}: {error}")]
    Boundary { height: u64, error: GovernanceError },
    #[error("stored beacon state is corrupt: {0}")]
    Corrupt(&'static str),
    #[error("consortium state from genesis: {0}")]
    Genesis(GovernanceError),
}
