//! The one place internal errors become JSON-RPC error objects, with the codes and wording
//! Ethereum clients (ethers, viem, web3.py, Foundry, Hardhat) recognise.

use alloy_primitives::Bytes;
use jsonrpsee::types::ErrorObjectOwned;
use kaimeng_shards::call::CallError;
use kaimeng_shards::logs::LogQueryError;
use kaimeng_shards::{ChainError, StateError, SubmitError};

/// JSON-RPC 2.0 and EIP-1474 codes.
pub mod codes {
    pub const INVALID_PARAMS: i32 = -32602;
    pub const INTERNAL: i32 = -32603;
    pub const INVALID_INPUT: i32 = -32000;
    pub const RESOURCE_NOT_FOUND: i32 = -32001;
    pub const RESOURCE_UNAVAILABLE: i32 = -32002;
    pub const TX_REJECTED: i32 = -32003;
    pub const METHOD_NOT_SUPPORTED: i32 = -32004;
    pub const LIMIT_EXCEEDED: i32 = -32005;
    /// geth's code for a reverted call/estimate, with the revert data attached.
    pub const EXECUTION_REVERTED: i32 = 3;
}

pub type RpcResult<T> = Result<T, ErrorObjectOwned>;

pub fn invalid_params(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(codes::INVALID_PARAMS, message.into(), None::<()>)
}

pub fn internal(error: impl std::fmt::Display) -> ErrorObjectOwned {
    tracing::error!(%error, "internal RPC error");
    ErrorObjectOwned::owned(
        codes::INTERNAL,
        format!("internal error: {error}"),
        None::<()>,
    )
}

pub fn not_found(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(codes::RESOURCE_NOT_FOUND, message.into(), None::<()>)
}

pub fn unavailable(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(codes::RESOURCE_UNAVAILABLE, message.into(), None::<()>)
}

pub fn unsupported(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(codes::METHOD_NOT_SUPPORTED, message.into(), None::<()>)
}

pub fn limit_exceeded(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(codes::LIMIT_EXCEEDED, message.into(), None::<()>)
}

fn reverted(output: &Bytes, message: String) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(codes::EXECUTION_REVERTED, message, Some(output.clone()))
}

pub fn from_submit(error: SubmitError) -> ErrorObjectOwned {
    match error {
        SubmitError::State(e) => internal(e),
        // geth reports pool rejections as -32000 with the reason as the message.
        other => ErrorObjectOwned::owned(codes::INVALID_INPUT, other.to_string(), None::<()>),
    }
}

pub fn from_call(error: CallError) -> ErrorObjectOwned {
    match &error {
        CallError::Revert { output, .. } => reverted(output, error.to_string()),
        CallError::Halt(_) | CallError::Invalid(_) | CallError::GasExceedsAllowance(_) => {
            ErrorObjectOwned::owned(codes::INVALID_INPUT, error.to_string(), None::<()>)
        }
        CallError::UnknownBlock => {
            ErrorObjectOwned::owned(codes::INVALID_INPUT, "header not found", None::<()>)
        }
        CallError::UnknownTransaction(_) => not_found(error.to_string()),
        CallError::State(_) | CallError::Chain(_) | CallError::ReplayDiverged { .. } => {
            internal(error)
        }
    }
}

pub fn from_chain(error: ChainError) -> ErrorObjectOwned {
    internal(error)
}

pub fn from_state(error: StateError) -> ErrorObjectOwned {
    internal(error)
}

pub fn from_logs(error: LogQueryError) -> ErrorObjectOwned {
    match error {
        LogQueryError::Chain(e) => from_chain(e),
        LogQueryError::Reversed { .. } => invalid_params(error.to_string()),
        other => limit_exceeded(other.to_string()),
    }
}

/// geth's wording for a state query about a block it does not have.
pub fn header_not_found() -> ErrorObjectOwned {
    ErrorObjectOwned::owned(codes::INVALID_INPUT, "header not found", None::<()>)
}

/// `eth_simulateV1`'s refusals, with the execution-apis codes (-380xx for what a block could
/// not include or order, -38026 for this node's limits).
pub fn from_simulate(error: kaimeng_shards::simulate::SimulateError) -> ErrorObjectOwned {
    use kaimeng_shards::simulate::SimulateError as E;
    let code = match &error {
        E::Call(_) => {
            let E::Call(call) = error else { unreachable!() };
            return from_call(call);
        }
        E::InvalidParams(_) => codes::INVALID_PARAMS,
        E::BlockNumberOrder { .. } => -38020,
        E::TimestampOrder { .. } => -38021,
        E::TooManyBlocks | E::TooManyCalls => -38026,
        E::BlockGasLimit { .. } => -38015,
        E::InvalidCall { code, .. } => *code,
    };
    ErrorObjectOwned::owned(code, error.to_string(), None::<()>)
}
