//! Tracing for the RPC with geth's `callTracer`, `prestateTracer` and default struct logger
//! (revm-inspectors' `TracingInspector` and `GethTraceBuilder`).
//!
//! A stored transaction or a whole block is traced by executing its block again through the
//! executor's own path ([`execute_block_observed`]): the block's payouts first, then its
//! transactions in order, the traced ones under an inspector. The replay is checked against the
//! receipts the block recorded, so a trace never silently describes something other than what
//! ran. A call (`debug_traceCall`) runs on a block's state through the setup `eth_call` uses.

use std::sync::Arc;

use alloy_primitives::B256;
use alloy_rpc_types_eth::TransactionRequest;
use alloy_rpc_types_eth::state::StateOverride;
use alloy_rpc_types_trace::geth::{
    CallConfig, GethDefaultTracingOptions, GethTrace, PreStateConfig,
};
use revm::context_interface::result::ResultAndState;
use revm_inspectors::tracing::{TracingInspector, TracingInspectorConfig};

use crate::block::StoredBlock;
use crate::call::CallError;
use crate::chain::ShardChain;
use crate::executor::{TxObserver, execute_block_observed};
use crate::overlay::Overlay;
use crate::state::StateError;
use crate::tx::{MAX_TX_GAS, ShardTx};

/// A geth tracer with its configuration.
#[derive(Clone, Debug)]
pub enum Tracer {
    /// `callTracer`: the tree of calls and creations, with logs when asked.
    Call(CallConfig),
    /// `prestateTracer`: the accounts the transaction touched as they were before it, or in
    /// diff mode what it changed.
    Prestate(PreStateConfig),
    /// geth's default tracer: every executed opcode with its stack, memory and storage.
    StructLogs(GethDefaultTracingOptions),
}

impl Tracer {
    fn inspector(&self) -> TracingInspector {
        TracingInspector::new(match self {
            Tracer::Call(config) => TracingInspectorConfig::from_geth_call_config(config),
            Tracer::Prestate(config) => TracingInspectorConfig::from_geth_prestate_config(config),
            Tracer::StructLogs(options) => TracingInspectorConfig::from_geth_config(options),
        })
    }

    /// The trace of one transaction that ran under `inspector`; `before` is the state before it.
    fn result(
        &self,
        inspector: &TracingInspector,
        outcome: &ResultAndState,
        before: &Overlay<'_>,
    ) -> Result<GethTrace, StateError> {
        let builder = inspector.geth_builder();
        Ok(match self {
            Tracer::Call(config) => GethTrace::CallTracer(
                builder.geth_call_traces_with_result_gas(*config, *outcome.result.gas()),
            ),
            Tracer::Prestate(config) => {
                GethTrace::PreStateTracer(builder.geth_prestate_traces(outcome, config, before)?)
            }
            Tracer::StructLogs(options) => GethTrace::Default(builder.geth_traces_with_result_gas(
                *outcome.result.gas(),
                outcome.result.output().cloned().unwrap_or_default(),
                *options,
            )),
        })
    }
}

/// The trace of one transaction of a block.
#[derive(Clone, Debug)]
pub struct TxTrace {
    pub hash: B256,
    pub trace: GethTrace,
}

impl ShardChain {
    /// Traces transaction `hash` in its block.
    pub fn trace_transaction(&self, hash: &B256, tracer: &Tracer) -> Result<GethTrace, CallError> {
        let (number, index) = self
            .tx_location(hash)?
            .ok_or(CallError::UnknownTransaction(*hash))?;
        let block = self.block(number)?.ok_or(CallError::UnknownBlock)?;
        let mut traces = self.replay(&block, Some(index), tracer)?;
        traces
            .pop()
            .map(|t| t.trace)
            .ok_or_else(|| CallError::ReplayDiverged {
                block: number,
                reason: format!("transaction {hash} was not executed"),
            })
    }

    /// Traces every transaction of block `number`, in order.
    pub fn trace_block(&self, number: u64, tracer: &Tracer) -> Result<Vec<TxTrace>, CallError> {
        let block = self.block(number)?.ok_or(CallError::UnknownBlock)?;
        self.replay(&block, None, tracer)
    }

    /// Traces `request` as a call on the state after block `number`, with `overrides`.
    pub fn trace_call(
        &self,
        request: &TransactionRequest,
        number: u64,
        overrides: Option<&StateOverride>,
        tracer: &Tracer,
    ) -> Result<GethTrace, CallError> {
        let gas = request.gas.unwrap_or(MAX_TX_GAS);
        self.call_setup(request, number, overrides, gas)?
            .run_inspected(tracer.inspector(), |outcome, inspector, before| {
                Ok(tracer.result(inspector, &outcome, before)?)
            })
    }

    /// Executes `block` again on its parent's state as the executor did (payouts, then the
    /// transactions), tracing transaction `only` (and stopping after it) or every one.
    fn replay(
        &self,
        block: &StoredBlock,
        only: Option<usize>,
        tracer: &Tracer,
    ) -> Result<Vec<TxTrace>, CallError> {
        let number = block.number();
        if number == 0 {
            return Err(CallError::Invalid("genesis is not traceable".into()));
        }
        let base = self.state_at(number - 1);
        let mut ctx = self.call_context(&block.header);
        ctx.payouts = block.payouts.clone();
        ctx.deliveries = block.cross_shard.deliveries.clone().into();
        ctx.beacon_height = kaimeng_l1::beacon::BeaconRef::of_header(&block.header.header)
            .map(|r| r.height)
            .unwrap_or_default();
        let mut observer = TraceObserver {
            tracer,
            only,
            traces: Vec::new(),
        };
        let candidates: Vec<Arc<ShardTx>> = match only {
            Some(index) => block.txs.iter().take(index + 1).cloned().collect(),
            None => block.txs.clone(),
        };
        let execution = execute_block_observed(&base, &ctx, candidates, &mut observer)?;
        let diverged = |reason: String| CallError::ReplayDiverged {
            block: number,
            reason,
        };
        if let Some((tx, skip)) = execution.skipped.first() {
            return Err(diverged(format!(
                "transaction {} was refused: {skip}",
                tx.hash
            )));
        }
        for (index, (replayed, recorded)) in execution.txs.iter().zip(&block.receipts).enumerate() {
            if replayed.receipt != recorded.envelope {
                return Err(diverged(format!(
                    "transaction {index} ({}) gave another receipt",
                    replayed.tx.hash
                )));
            }
        }
        Ok(observer.traces)
    }
}

/// Traces the transactions a replay is asked for.
struct TraceObserver<'t> {
    tracer: &'t Tracer,
    only: Option<usize>,
    traces: Vec<TxTrace>,
}

impl TxObserver for TraceObserver<'_> {
    type Inspector = TracingInspector;

    fn inspector_for(&mut self, index: usize, _: &ShardTx) -> Option<TracingInspector> {
        self.only
            .is_none_or(|only| only == index)
            .then(|| self.tracer.inspector())
    }

    fn observed(
        &mut self,
        _: usize,
        tx: &ShardTx,
        inspector: &mut TracingInspector,
        outcome: &ResultAndState,
        before: &Overlay<'_>,
    ) -> Result<(), StateError> {
        let trace = self.tracer.result(inspector, outcome, before)?;
        self.traces.push(TxTrace {
            hash: tx.hash,
            trace,
        });
        Ok(())
    }

    fn done(&self) -> bool {
        self.only.is_some() && !self.traces.is_empty()
    }
}
