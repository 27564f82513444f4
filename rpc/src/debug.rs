//! `debug_trace*`: geth's `callTracer`, `prestateTracer` and struct logger over a transaction,
//! a block or a call; the shard replays blocks through its executor ([`kaimeng_shards::trace`]).
//! Options are read on the runtime; the tracing itself runs on the read pool.

use std::sync::Arc;

use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::B256;
use alloy_rpc_types_eth::TransactionRequest;
use alloy_rpc_types_trace::common::TraceResult;
use alloy_rpc_types_trace::geth::{
    GethDebugBuiltInTracerType, GethDebugTracerType, GethDebugTracingCallOptions,
    GethDebugTracingOptions, GethTrace,
};
use jsonrpsee::types::ErrorObjectOwned;
use kaimeng_shards::ShardChain;
use kaimeng_shards::trace::Tracer;
use serde::de::DeserializeOwned;

use crate::api::debug::DebugApiServer;
use crate::error::{
    RpcResult, codes, from_call, from_chain, internal, invalid_params, unsupported,
};
use crate::read_pool::ReadPool;

pub struct DebugRpc {
    chain: Arc<ShardChain>,
    reads: Arc<ReadPool>,
}

impl DebugRpc {
    pub fn new(chain: Arc<ShardChain>, reads: Arc<ReadPool>) -> Self {
        Self { chain, reads }
    }

    /// The block a tag or number names, if this node has it.
    fn number_of_tag(&self, tag: BlockNumberOrTag) -> Option<u64> {
        let head = self.chain.head().number();
        match tag {
            BlockNumberOrTag::Earliest => Some(0),
            BlockNumberOrTag::Number(n) => (n <= head).then_some(n),
            // Finality is immediate: latest = safe = finalized; pending is the head's state.
            _ => Some(head),
        }
    }

    fn number_of_hash(&self, hash: &B256) -> RpcResult<u64> {
        self.chain
            .number_of(hash)
            .map_err(from_chain)?
            .ok_or_else(|| block_not_found(format!("block {hash} not found")))
    }

    /// Runs `trace` on the read pool (tracing executes) and serializes what it returns.
    async fn on_read_pool<T: serde::Serialize + Send + 'static>(
        &self,
        trace: impl FnOnce(&ShardChain) -> RpcResult<T> + Send + 'static,
    ) -> RpcResult<serde_json::Value> {
        let chain = self.chain.clone();
        self.reads
            .run(move || serde_json::to_value(trace(&chain)?).map_err(internal))
            .await
    }

    async fn trace_block(
        &self,
        number: u64,
        options: Option<serde_json::Value>,
    ) -> RpcResult<serde_json::Value> {
        let tracer = tracer_of(parse_options(options)?)?;
        self.on_read_pool(move |chain| {
            let traces = chain.trace_block(number, &tracer).map_err(from_call)?;
            Ok(traces
                .into_iter()
                .map(|t| TraceResult::<GethTrace, String>::Success {
                    result: t.trace,
                    tx_hash: Some(t.hash),
                })
                .collect::<Vec<_>>())
        })
        .await
    }
}

#[jsonrpsee::core::async_trait]
impl DebugApiServer for DebugRpc {
    async fn trace_transaction(
        &self,
        hash: B256,
        options: Option<serde_json::Value>,
    ) -> RpcResult<serde_json::Value> {
        let tracer = tracer_of(parse_options(options)?)?;
        self.on_read_pool(move |chain| chain.trace_transaction(&hash, &tracer).map_err(from_call))
            .await
    }

    async fn trace_block_by_number(
        &self,
        number: BlockNumberOrTag,
        options: Option<serde_json::Value>,
    ) -> RpcResult<serde_json::Value> {
        let n = self
            .number_of_tag(number)
            .ok_or_else(|| block_not_found(format!("block {number} not found")))?;
        self.trace_block(n, options).await
    }

    async fn trace_block_by_hash(
        &self,
        hash: B256,
        options: Option<serde_json::Value>,
    ) -> RpcResult<serde_json::Value> {
        let n = self.number_of_hash(&hash)?;
        self.trace_block(n, options).await
    }

    async fn trace_call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        options: Option<serde_json::Value>,
    ) -> RpcResult<serde_json::Value> {
        let number = match block.unwrap_or(BlockId::Number(BlockNumberOrTag::Latest)) {
            BlockId::Number(tag) => self
                .number_of_tag(tag)
                .ok_or_else(|| block_not_found(format!("block {tag} not found")))?,
            BlockId::Hash(hash) => self.number_of_hash(&hash.block_hash)?,
        };
        let options: GethDebugTracingCallOptions = parse_options(options)?;
        if options.block_overrides.is_some() {
            return Err(unsupported(
                "blockOverrides are not supported by debug_traceCall",
            ));
        }
        if options.tx_index.is_some() {
            return Err(unsupported("txIndex is not supported by debug_traceCall"));
        }
        let tracer = tracer_of(options.tracing_options)?;
        self.on_read_pool(move |chain| {
            chain
                .trace_call(&request, number, options.state_overrides.as_ref(), &tracer)
                .map_err(from_call)
        })
        .await
    }
}

/// geth's answer for a block it does not have.
fn block_not_found(message: String) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(codes::INVALID_INPUT, message, None::<()>)
}

fn parse_options<T: DeserializeOwned + Default>(
    options: Option<serde_json::Value>,
) -> RpcResult<T> {
    match options {
        None | Some(serde_json::Value::Null) => Ok(T::default()),
        Some(value) => serde_json::from_value(value)
            .map_err(|e| invalid_params(format!("invalid tracing options: {e}"))),
    }
}

/// The tracer the options ask for, with its configuration.
fn tracer_of(options: GethDebugTracingOptions) -> RpcResult<Tracer> {
    use GethDebugBuiltInTracerType::{CallTracer, PreStateTracer};
    match options.tracer {
        None => Ok(Tracer::StructLogs(options.config)),
        Some(GethDebugTracerType::BuiltInTracer(CallTracer)) => options
            .tracer_config
            .into_call_config()
            .map(Tracer::Call)
            .map_err(|e| invalid_params(format!("invalid callTracer config: {e}"))),
        Some(GethDebugTracerType::BuiltInTracer(PreStateTracer)) => options
            .tracer_config
            .into_pre_state_config()
            .map(Tracer::Prestate)
            .map_err(|e| invalid_params(format!("invalid prestateTracer config: {e}"))),
        Some(GethDebugTracerType::BuiltInTracer(other)) => Err(unsupported(format!(
            "the {} is not supported; use callTracer, prestateTracer or no tracer",
            serde_json::to_value(other)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("{other:?}"))
        ))),
        Some(GethDebugTracerType::JsTracer(code)) if code.contains('{') => Err(unsupported(
            "JavaScript tracers are not supported; use callTracer, prestateTracer or no tracer",
        )),
        Some(GethDebugTracerType::JsTracer(name)) => Err(invalid_params(format!(
            "unknown tracer {name:?}; use callTracer, prestateTracer or no tracer"
        ))),
    }
}
