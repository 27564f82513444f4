//! Why the engine refused an input. A rejected input changes nothing in the engine's state.

use crate::types::{Epoch, Height, ValidatorIndex, View};
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Rejection {
    #[error("the engine has not been started")]
    NotStarted,
    #[error("message for epoch {found}, this engine runs epoch {expected}")]
    WrongEpoch { expected: Epoch, found: Epoch },
    #[error("signer {0} is not a member of this epoch's validator set")]
    UnknownSigner(ValidatorIndex),
    #[error("bad signature from validator {0}")]
    BadSignature(ValidatorIndex),
    #[error("view {view} is already final (finalized view {finalized_view})")]
    StaleView { view: View, finalized_view: View },
    #[error("vote for view {view} is more than {max_ahead} views ahead of view {current}")]
    ViewTooFarAhead {
        view: View,
        current: View,
        max_ahead: u64,
    },
    #[error("validator {signer} proposed in view {view}, whose leader is {leader}")]
    NotLeader {
        view: View,
        signer: ValidatorIndex,
        leader: ValidatorIndex,
    },
    #[error("malformed proposal: {0}")]
    MalformedProposal(&'static str),
    #[error("proposal at height {found}, its parent implies height {expected}")]
    HeightMismatch { expected: Height, found: Height },
    #[error("proposal extends view {parent_view}, before the finalized view {finalized_view}")]
    ParentBeforeFinalized {
        parent_view: View,
        finalized_view: View,
    },
    #[error(
        "proposal extends a block unknown here (view {parent_view}), with no certificate for it"
    )]
    UnknownParent { parent_view: View },
    #[error("proposal skips view {view}, which is not nullified")]
    MissingNullification { view: View },
    #[error("certificate has {have} signers, a quorum is {need}")]
    NotEnoughSigners { have: usize, need: usize },
    #[error("certificate signers are not strictly ascending")]
    UnsortedSigners,
    #[error("certificate for view {view} conflicts with the one this node holds")]
    ConflictingCertificate { view: View },
    #[error("payload answer for view {view} that the engine did not ask for")]
    UnexpectedPayload { view: View },
    #[error("the application returned an empty payload for a real block")]
    EmptyPayload,
}
