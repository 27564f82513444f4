//! `GovernanceError`: every reason a governance transaction or an epoch boundary is refused.
//! A refused transaction or boundary changes nothing.

use super::codec::DecodeError;
use crate::membership::MembershipError;

/// Why the consortium state refused a transaction, a boundary, or a genesis.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GovernanceError {
    #[error("malformed governance transaction: {0}")]
    Decode(#[from] DecodeError),
    #[error("\"{organisation}\" is not a current member")]
    NotAMember { organisation: String },
    #[error("signature of \"{organisation}\" does not verify against its admin key: {reason}")]
    BadSignature {
        organisation: String,
        reason: String,
    },
    #[error(
        "nonce {got} of \"{organisation}\" is not its next nonce {expected} (replayed or out of order)"
    )]
    BadNonce {
        organisation: String,
        expected: u64,
        got: u64,
    },
    #[error("there is no proposal {id}")]
    UnknownProposal { id: u64 },
    #[error("proposal {id} is {status}, no longer open for votes")]
    ProposalClosed { id: u64, status: &'static str },
    #[error(
        "\"{organisation}\" was not a member when proposal {id} was made, so it cannot vote on it"
    )]
    NotEligible { id: u64, organisation: String },
    #[error("\"{organisation}\" has already voted on proposal {id}")]
    AlreadyVoted { id: u64, organisation: String },
    #[error("\"{organisation}\" already has {max} open proposals, the most one member may have")]
    TooManyOpenProposals { organisation: String, max: usize },
    #[error("rejected proposal: {0}")]
    InvalidAction(#[from] MembershipError),
    #[error(
        "height {height} is not in the current epoch {epoch} (heights {start} to {last}); the epoch boundary must be applied first"
    )]
    HeightOutsideEpoch {
        height: u64,
        epoch: u64,
        start: u64,
        last: u64,
    },
    #[error("height {height} is not the end of epoch {epoch}, which ends at height {expected}")]
    NotEpochBoundary {
        height: u64,
        epoch: u64,
        expected: u64,
    },
    #[error("treasury amounts overflow 256 bits")]
    FeeOverflow,
    #[error("epoch or height numbers overflow 64 bits")]
    Overflow,
    #[error("invalid genesis: {0}")]
    InvalidGenesis(String),
}
