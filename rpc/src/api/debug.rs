//! The `debug_*` namespace.

use alloy_primitives::B256;
use jsonrpsee::proc_macros::rpc;
use jsonrpsee::types::ErrorObjectOwned;

type RpcResult<T> = Result<T, ErrorObjectOwned>;

#[rpc(server, namespace = "debug")]
pub trait DebugApi {
    /// Supports `{"tracer": "callTracer", "tracerConfig": {"onlyTopCall", "withLog"}}`.
    /// Runs on the read pool (`crate::read_pool`), as every tracing method should.
    #[method(name = "traceTransaction")]
    async fn trace_transaction(
        &self,
        hash: B256,
        options: Option<serde_json::Value>,
    ) -> RpcResult<serde_json::Value>;
}
