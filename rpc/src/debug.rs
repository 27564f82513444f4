//! `debug_traceTransaction` with geth's `callTracer`.

use std::sync::Arc;

use alloy_primitives::B256;
use alloy_rpc_types_trace::geth::{
    CallConfig, GethDebugBuiltInTracerType, GethDebugTracerType, GethDebugTracingOptions,
};
use kaimeng_shards::ShardChain;

use crate::read_pool::ReadPool;

use crate::api::debug::DebugApiServer;
use crate::error::{RpcResult, from_call, internal, invalid_params, unsupported};

pub struct DebugRpc {
    chain: Arc<ShardChain>,
    reads: Arc<ReadPool>,
}

impl DebugRpc {
    pub fn new(chain: Arc<ShardChain>, reads: Arc<ReadPool>) -> Self {
        Self { chain, reads }
    }
}

#[jsonrpsee::core::async_trait]
impl DebugApiServer for DebugRpc {
    async fn trace_transaction(
        &self,
        hash: B256,
        options: Option<serde_json::Value>,
    ) -> RpcResult<serde_json::Value> {
        let options: GethDebugTracingOptions = match options {
            None => GethDebugTracingOptions::default(),
            Some(value) => serde_json::from_value(value)
                .map_err(|e| invalid_params(format!("invalid tracing options: {e}")))?,
        };
        match options.tracer {
            Some(GethDebugTracerType::BuiltInTracer(GethDebugBuiltInTracerType::CallTracer)) => {
                let config: CallConfig = options
                    .tracer_config
                    .into_call_config()
                    .map_err(|e| invalid_params(format!("invalid callTracer config: {e}")))?;
                let chain = self.chain.clone();
                self.reads
                    .run(move || {
                        let frame = chain.trace_call_frames(&hash, config).map_err(from_call)?;
                        serde_json::to_value(frame).map_err(internal)
                    })
                    .await
            }
            _ => Err(unsupported(
                "only {\"tracer\": \"callTracer\"} is supported by debug_traceTransaction",
            )),
        }
    }
}
