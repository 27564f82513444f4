//! `BeaconError`: why a beacon block, its body or a stored beacon state is refused.

use crate::governance::{DecodeError, GovernanceError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BeaconError {
    #[error("beacon state is at height {at}, so it cannot apply height {height}")]
    OutOfOrder { at: u64, height: u64 },
    #[error("more than {max} governance transactions at one height")]
    TooManyTransactions { max: usize },
    #[error("beacon data ends inside {0}")]
    Truncated(&'static str),
    #[error("{what} is {len} bytes, more than {max}")]
    ChunkTooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{0} bytes after the end of the beacon block")]
    TrailingBytes(usize),
    #[error("undecodable governance transaction: {0}")]
    Undecodable(DecodeError),
    #[error("governance transaction refused: {0}")]
    Refused(GovernanceError),
    #[error("more than {max} crosslinks in one beacon block")]
    TooManyCrosslinks { max: usize },
    #[error("crosslink of shard {shard} has {headers} headers (1 to {max} allowed)")]
    CrosslinkSize {
        shard: u32,
        headers: usize,
        max: usize,
    },
    #[error("crosslinked shard header is not valid RLP: {0}")]
    CrosslinkHeader(String),
    #[error("crosslink of unknown shard {0}")]
    UnknownShard(u32),
    #[error(
        "crosslink of shard {shard} does not follow its last linked block {linked} (found {found})"
    )]
    CrosslinkGap { shard: u32, linked: u64, found: u64 },
    #[error("crosslink of shard {shard} is empty or spans two shard epochs")]
    CrosslinkSpansEpochs { shard: u32 },
    #[error("crosslink of shard {0}: certificate {1}")]
    Certificate(u32, String),
    #[error("shard {shard}'s epoch end references beacon epoch {epoch}, out of order")]
    BadReference { shard: u32, epoch: u64 },
    #[error("shard block {0} names no beacon block")]
    NoBeaconRef(u64),
    #[error("the block names proposer {proposer}, but the epoch has {members} members")]
    UnknownProposer { proposer: u32, members: usize },
    #[error("the VRF proof of proposer {proposer}: {error}")]
    Vrf {
        proposer: u32,
        error: kaimeng_crypto::vrf::VrfError,
    },
    #[error("evidence refused: {0}")]
    Evidence(String),
    #[error("more than {max} pieces of evidence in one beacon block")]
    TooMuchEvidence { max: usize },
    #[error(
        "beacon block time {timestamp} is before its parent's ({parent}) or more than 15 s ahead of this node's clock ({now})"
    )]
    Timestamp {
        timestamp: u64,
        parent: u64,
        now: u64,
    },
    #[error("beacon header does not commit to its body")]
    BodyRoot,
    #[error("beacon block {height}: state root does not match the state after it")]
    StateRoot { height: u64 },
    #[error("validator set: {0}")]
    ValidatorSet(String),
    #[error("fee sharing overflows")]
    FeeOverflow,
    #[error("epoch boundary at height {height}: {error}")]
    Boundary { height: u64, error: GovernanceError },
    #[error("stored beacon state is corrupt: {0}")]
    Corrupt(&'static str),
    #[error("consortium state from genesis: {0}")]
    Genesis(GovernanceError),
}
