//! The `debug_*` namespace.

use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::B256;
use alloy_rpc_types_eth::TransactionRequest;
use jsonrpsee::proc_macros::rpc;
use jsonrpsee::types::ErrorObjectOwned;

type RpcResult<T> = Result<T, ErrorObjectOwned>;

/// The tracing methods take geth's tracing options: `{"tracer": "callTracer", "tracerConfig":
/// {"onlyTopCall", "withLog"}}`, `{"tracer": "prestateTracer", "tracerConfig": {"diffMode",
/// "disableCode", "disableStorage"}}`, or no tracer for the struct logger (`disableStack`,
/// `disableStorage`, `enableMemory`, `enableReturnData`, `limit`). Each runs on the read pool
/// (`crate::read_pool`).
#[rpc(server, namespace = "debug")]
pub trait DebugApi {
    #[method(name = "traceTransaction")]
    async fn trace_transaction(
        &self,
        hash: B256,
        options: Option<serde_json::Value>,
    ) -> RpcResult<serde_json::Value>;

    /// Every transaction of the block, in order, as `[{"txHash", "result"}]`.
    #[method(name = "traceBlockByNumber")]
    async fn trace_block_by_number(
        &self,
        number: BlockNumberOrTag,
        options: Option<serde_json::Value>,
    ) -> RpcResult<serde_json::Value>;

    /// Every transaction of the block, in order, as `[{"txHash", "result"}]`.
    #[method(name = "traceBlockByHash")]
    async fn trace_block_by_hash(
        &self,
        hash: B256,
        options: Option<serde_json::Value>,
    ) -> RpcResult<serde_json::Value>;

    /// A call on the state after `block` (default: latest); the options may also carry
    /// `stateOverrides`.
    #[method(name = "traceCall")]
    async fn trace_call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        options: Option<serde_json::Value>,
    ) -> RpcResult<serde_json::Value>;
}

/// `debug_getRaw*`: blocks, headers, receipts and transactions in their consensus encodings
/// (RLP / EIP-2718), as geth returns them (implemented by `crate::raw::RawRpc`).
#[rpc(server, namespace = "debug")]
pub trait RawApi {
    /// RLP of the header.
    #[method(name = "getRawHeader")]
    fn raw_header(&self, block: alloy_eips::BlockId) -> RpcResult<alloy_primitives::Bytes>;

    /// RLP of the block: header, transactions, ommers (none) and withdrawals (none).
    #[method(name = "getRawBlock")]
    fn raw_block(&self, block: alloy_eips::BlockId) -> RpcResult<alloy_primitives::Bytes>;

    /// The EIP-2718 encoding of every receipt of the block.
    #[method(name = "getRawReceipts")]
    fn raw_receipts(&self, block: alloy_eips::BlockId) -> RpcResult<Vec<alloy_primitives::Bytes>>;

    /// The EIP-2718 encoding of a transaction (final or pooled); `0x` if unknown, as geth.
    #[method(name = "getRawTransaction")]
    fn raw_transaction(&self, hash: crate::raw::PrefixedHash)
    -> RpcResult<alloy_primitives::Bytes>;
}
