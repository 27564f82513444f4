//! `eth_getStorageValues`, `eth_createAccessList` and `eth_simulateV1`: the methods indexers,
//! wallets' previews and simulators (viem's `simulateCalls`) call beyond the classic set. The
//! execution lives in `kaimeng_shards::simulate`; this module resolves blocks, checks limits and
//! shapes the answers as the execution-apis spec does. All three execute or read many slots, so
//! they run on the read pool (ADR 0095), like `eth_call`.

use std::collections::HashMap;
use std::sync::Arc;

use alloy_eips::BlockId;
use alloy_primitives::{Address, B256, U256};
use alloy_rpc_types_eth::simulate::{
    SimCallResult, SimulateError as SimCallError, SimulatePayload, SimulatedBlock,
};
use alloy_rpc_types_eth::state::StateOverride;
use alloy_rpc_types_eth::{AccessListResult, Block, TransactionRequest};
use kaimeng_shards::ShardChain;
use kaimeng_shards::simulate::{CallFailure, SimulatedBlock as ShardSimulatedBlock};

use crate::api::eth::EthToolsApiServer;
use crate::error::{
    RpcResult, from_call, from_simulate, from_state, invalid_params, limit_exceeded,
};
use crate::eth::{convert, resolve_state_block};
use crate::read_pool::ReadPool;
use crate::storage_key::StorageKey;

/// Most slots one `eth_getStorageValues` may read (over all accounts), as geth.
pub const MAX_STORAGE_VALUES: usize = 1_024;

pub struct EthToolsRpc {
    chain: Arc<ShardChain>,
    reads: Arc<ReadPool>,
}

impl EthToolsRpc {
    pub fn new(chain: Arc<ShardChain>, reads: Arc<ReadPool>) -> Self {
        Self { chain, reads }
    }
}

/// A simulated block as `eth_simulateV1` returns it: the block (hashes or full transactions)
/// with each call's status, return data, gas, positioned logs and error.
fn simulated_block(simulated: &ShardSimulatedBlock, full: bool) -> SimulatedBlock<Block> {
    let block = &simulated.block;
    let mut logs_by_tx: Vec<Vec<alloy_rpc_types_eth::Log>> = vec![Vec::new(); block.txs.len()];
    for log in kaimeng_shards::logs::block_logs(block) {
        if let Some(index) = log.transaction_index {
            logs_by_tx[index as usize].push(log);
        }
    }
    let calls = simulated
        .calls
        .iter()
        .zip(logs_by_tx)
        .map(|(call, logs)| SimCallResult {
            return_data: call.output.clone(),
            logs,
            gas_used: call.gas_used,
            max_used_gas: None,
            status: call.failure.is_none(),
            error: call.failure.as_ref().map(|failure| match failure {
                CallFailure::Reverted { reason } => SimCallError {
                    code: crate::error::codes::EXECUTION_REVERTED,
                    message: match reason {
                        Some(reason) => format!("execution reverted: {reason}"),
                        None => "execution reverted".to_string(),
                    },
                    data: Some(call.output.clone()),
                },
                CallFailure::Halted(reason) => SimCallError {
                    code: SimCallError::VM_EXECUTION_ERROR_CODE,
                    message: format!("vm execution error: {reason}"),
                    data: None,
                },
            }),
        })
        .collect();
    SimulatedBlock {
        inner: convert::block(block, full),
        calls,
    }
}

#[jsonrpsee::core::async_trait]
impl EthToolsApiServer for EthToolsRpc {
    async fn storage_values(
        &self,
        requests: HashMap<Address, Vec<StorageKey>>,
        block: Option<BlockId>,
    ) -> RpcResult<HashMap<Address, Vec<B256>>> {
        if requests.is_empty() {
            return Err(invalid_params("empty request"));
        }
        let slots: usize = requests.values().map(Vec::len).sum();
        if slots > MAX_STORAGE_VALUES {
            return Err(limit_exceeded(format!(
                "eth_getStorageValues asks for {slots} slots; at most {MAX_STORAGE_VALUES} per request"
            )));
        }
        let state = self
            .chain
            .state_at(resolve_state_block(&self.chain, block)?);
        self.reads
            .run(move || {
                requests
                    .into_iter()
                    .map(|(address, keys)| {
                        let values = keys
                            .iter()
                            .map(|key| {
                                state
                                    .storage_value(&address, &key.0)
                                    .map(|v: U256| B256::from(v))
                                    .map_err(from_state)
                            })
                            .collect::<RpcResult<Vec<B256>>>()?;
                        Ok((address, values))
                    })
                    .collect()
            })
            .await
    }

    async fn create_access_list(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<StateOverride>,
    ) -> RpcResult<AccessListResult> {
        let number = resolve_state_block(&self.chain, block)?;
        let chain = self.chain.clone();
        let outcome = self
            .reads
            .run(move || {
                chain
                    .create_access_list(&request, number, overrides.as_ref())
                    .map_err(from_call)
            })
            .await?;
        Ok(AccessListResult {
            access_list: outcome.access_list,
            gas_used: U256::from(outcome.gas_used),
            error: outcome.error,
        })
    }

    async fn simulate_v1(
        &self,
        payload: SimulatePayload,
        block: Option<BlockId>,
    ) -> RpcResult<Vec<SimulatedBlock<Block>>> {
        let number = resolve_state_block(&self.chain, block)?;
        let chain = self.chain.clone();
        self.reads
            .run(move || {
                let blocks = chain.simulate(&payload, number).map_err(from_simulate)?;
                Ok(blocks
                    .iter()
                    .map(|b| simulated_block(b, payload.return_full_transactions))
                    .collect())
            })
            .await
    }
}
