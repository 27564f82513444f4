//! Read-only execution beyond a single call: `eth_createAccessList` (the call run with revm's
//! access-list inspector until the list it needs stops changing, as geth does) and
//! `eth_simulateV1` (execution-apis: a chain of simulated blocks on top of a finalized one, each
//! with optional block and state overrides, its calls building on the state the earlier calls
//! left). Nothing here writes to the store; a simulated block exists only in the answer.

use alloy_consensus::{
    Eip658Value, Header, Receipt, ReceiptEnvelope, ReceiptWithBloom, Signed, TxEip1559, TxEip2930,
    TxEnvelope, TxLegacy, TxType, proofs,
};
use alloy_eips::eip2930::AccessList;
use alloy_eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy_primitives::{Address, B256, Bloom, Bytes, Signature, U256};
use alloy_rpc_types_eth::simulate::{SimBlock, SimulatePayload};
use alloy_rpc_types_eth::state::StateOverride;
use alloy_rpc_types_eth::{BlockOverrides, TransactionRequest};
use revm::InspectCommitEvm;
use revm::context::{BlockEnv, CfgEnv, ContextTr, TxEnv};
use revm::context_interface::result::{EVMError, ExecutionResult, InvalidTransaction};
use revm::database_interface::Database;
use revm_inspectors::access_list::AccessListInspector;
use revm_inspectors::transfer::TransferInspector;
use std::sync::Arc;

use crate::block::{SealedHeader, StoredBlock, StoredReceipt};
use crate::call::{CallError, call_tx_env};
use crate::chain::ShardChain;
use crate::executor::{SPEC, build_evm, describe_invalid};
use crate::overlay::{Overlay, PendingState};
use crate::state::{StateAt, StateError};
use crate::tx::{MAX_TX_GAS, ShardTx};

/// Most blocks one `eth_simulateV1` may simulate, counting the empty blocks that fill a gap in
/// overridden block numbers (the spec's recommendation, the reach of `BLOCKHASH`).
pub const MAX_SIMULATED_BLOCKS: u64 = 256;
/// Most calls one `eth_simulateV1` may run, over all its blocks.
pub const MAX_SIMULATED_CALLS: usize = 1_000;
/// How often `eth_createAccessList` re-runs the call with the list the previous run needed
/// before it gives up waiting for the list to settle (geth stops at the first stable list too).
pub const ACCESS_LIST_ROUNDS: usize = 16;

/// What `eth_createAccessList` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessListOutcome {
    pub access_list: AccessList,
    /// Gas the call used with `access_list` attached.
    pub gas_used: u64,
    /// Why the call failed with that list (it still reports what it touched).
    pub error: Option<String>,
}

/// Why a simulation was refused as a whole; each maps to the execution-apis code named beside it.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// -32602.
    #[error("{0}")]
    InvalidParams(String),
    /// -38020.
    #[error("block numbers must be in order: {got} <= {previous}")]
    BlockNumberOrder { got: u64, previous: u64 },
    /// -38021.
    #[error("block timestamps must be in order: {got} <= {previous}")]
    TimestampOrder { got: u64, previous: u64 },
    /// -38026.
    #[error("too many blocks: at most {MAX_SIMULATED_BLOCKS} may be simulated")]
    TooManyBlocks,
    /// -38026.
    #[error("too many calls: at most {MAX_SIMULATED_CALLS} may be simulated")]
    TooManyCalls,
    /// -38015.
    #[error(
        "block gas limit reached: {gas_left} gas left in the block, the call asks for {wanted}"
    )]
    BlockGasLimit { gas_left: u64, wanted: u64 },
    /// A call the block could not include (-38010 .. -38014, or -32000), in Ethereum clients'
    /// wording.
    #[error("{message}")]
    InvalidCall { code: i32, message: String },
    #[error(transparent)]
    Call(#[from] CallError),
}

impl SimulateError {
    fn invalid_call(invalid: &InvalidTransaction) -> Self {
        let code = match invalid {
            InvalidTransaction::NonceTooLow { .. } => -38010,
            InvalidTransaction::NonceTooHigh { .. } => -38011,
            InvalidTransaction::GasPriceLessThanBasefee => -38012,
            InvalidTransaction::CallGasCostMoreThanGasLimit { .. } => -38013,
            InvalidTransaction::LackOfFundForMaxFee { .. } => -38014,
            InvalidTransaction::CallerGasLimitMoreThanBlock
            | InvalidTransaction::TxGasLimitGreaterThanCap { .. } => -38015,
            _ => -32000,
        };
        SimulateError::InvalidCall {
            code,
            message: describe_invalid(invalid),
        }
    }
}

impl From<StateError> for SimulateError {
    fn from(error: StateError) -> Self {
        SimulateError::Call(CallError::State(error))
    }
}

/// How one simulated call ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallFailure {
    /// Reverted; `reason` is the decoded `Error(string)` or panic, if any.
    Reverted { reason: Option<String> },
    /// Halted (out of gas, invalid opcode, ...), revm's reason.
    Halted(String),
}

/// One simulated call: its return data and gas; its logs are in the block's receipt at the
/// same index.
#[derive(Clone, Debug)]
pub struct SimulatedCall {
    pub output: Bytes,
    pub gas_used: u64,
    pub failure: Option<CallFailure>,
}

/// One simulated block: shaped like a stored block (header, transactions made from the calls,
/// receipts with the logs) so it is served as blocks are; never stored.
#[derive(Clone, Debug)]
pub struct SimulatedBlock {
    pub block: StoredBlock,
    pub calls: Vec<SimulatedCall>,
}

/// The reason in revert data when it is `Error(string)` or `Panic(uint256)`, as geth decodes
/// it; other data is not text and gives none.
pub fn revert_reason(output: &[u8]) -> Option<String> {
    use alloy_sol_types::SolError;
    if let Ok(revert) = alloy_sol_types::Revert::abi_decode(output) {
        return Some(revert.reason);
    }
    alloy_sol_types::Panic::abi_decode(output)
        .ok()
        .map(|panic| panic.to_string())
}

/// The signature simulated transactions carry (none was made): r = s = 0.
fn no_signature() -> Signature {
    Signature::new(U256::ZERO, U256::ZERO, false)
}

impl ShardChain {
    /// The access list `request` needs on the state after block `number`, and the gas it uses
    /// with that list attached. The call runs with the list found so far until a run touches
    /// nothing new; a reverting or halting call still reports what it touched, with `error`.
    pub fn create_access_list(
        &self,
        request: &TransactionRequest,
        number: u64,
        overrides: Option<&StateOverride>,
    ) -> Result<AccessListOutcome, CallError> {
        let gas = request.gas.unwrap_or(MAX_TX_GAS);
        let mut list = request.access_list.clone().unwrap_or_default();
        let mut last = None;
        for _ in 0..ACCESS_LIST_ROUNDS {
            let mut with_list = request.clone();
            with_list.access_list = Some(list.clone());
            let (result, found) = self
                .call_setup(&with_list, number, overrides, gas)?
                .run_inspected(
                    AccessListInspector::new(list.clone()),
                    |outcome, inspector, _| {
                        Ok((outcome.result, std::mem::take(inspector).into_access_list()))
                    },
                )?;
            let stable = found == list;
            last = Some((result, list));
            if stable {
                break;
            }
            list = found;
        }
        let (result, access_list) = last.expect("at least one round runs");
        let error = match &result {
            ExecutionResult::Success { .. } => None,
            ExecutionResult::Revert { output, .. } => Some(match revert_reason(output) {
                Some(reason) => format!("execution reverted: {reason}"),
                None => "execution reverted".to_string(),
            }),
            ExecutionResult::Halt { reason, .. } => Some(format!("execution halted: {reason:?}")),
        };
        Ok(AccessListOutcome {
            access_list,
            gas_used: result.tx_gas_used(),
            error,
        })
    }

    /// `eth_simulateV1` on the state after block `number`.
    pub fn simulate(
        &self,
        payload: &SimulatePayload,
        number: u64,
    ) -> Result<Vec<SimulatedBlock>, SimulateError> {
        let parent = self
            .header(number)
            .map_err(CallError::from)?
            .ok_or(CallError::UnknownBlock)?;
        let calls: usize = payload
            .block_state_calls
            .iter()
            .map(|b| b.calls.len())
            .sum();
        if calls > MAX_SIMULATED_CALLS {
            return Err(SimulateError::TooManyCalls);
        }
        if payload.block_state_calls.len() as u64 > MAX_SIMULATED_BLOCKS {
            return Err(SimulateError::TooManyBlocks);
        }
        let base = self.state_at(number);
        let mut pending = PendingState::default();
        let mut out: Vec<SimulatedBlock> = Vec::new();
        let start = parent.number();
        let mut previous = parent;
        for spec in &payload.block_state_calls {
            let overrides = spec.block_overrides.clone().unwrap_or_default();
            check_supported(&overrides)?;
            let number = match overrides.number {
                None => previous.number() + 1,
                Some(n) => {
                    let n = u64::try_from(n).map_err(|_| {
                        SimulateError::InvalidParams(format!("block number {n} is too large"))
                    })?;
                    if n <= previous.number() {
                        return Err(SimulateError::BlockNumberOrder {
                            got: n,
                            previous: previous.number(),
                        });
                    }
                    n
                }
            };
            if number - start > MAX_SIMULATED_BLOCKS {
                return Err(SimulateError::TooManyBlocks);
            }
            // A skipped range of numbers is filled with empty blocks, one second apart.
            while previous.number() + 1 < number {
                let empty = self.simulate_block(
                    &base,
                    &mut pending,
                    &previous,
                    &SimBlock::default(),
                    previous.number() + 1,
                    payload,
                )?;
                previous = empty.block.header.clone();
                out.push(empty);
            }
            let block =
                self.simulate_block(&base, &mut pending, &previous, spec, number, payload)?;
            previous = block.block.header.clone();
            out.push(block);
        }
        Ok(out)
    }

    fn simulate_block(
        &self,
        base: &StateAt,
        pending: &mut PendingState,
        parent: &SealedHeader,
        spec: &SimBlock,
        number: u64,
        payload: &SimulatePayload,
    ) -> Result<SimulatedBlock, SimulateError> {
        let overrides = spec.block_overrides.clone().unwrap_or_default();
        let timestamp = match overrides.time {
            None => parent.header.timestamp + 1,
            Some(t) if t <= parent.header.timestamp => {
                return Err(SimulateError::TimestampOrder {
                    got: t,
                    previous: parent.header.timestamp,
                });
            }
            Some(t) => t,
        };
        let gas_limit = overrides.gas_limit.unwrap_or(parent.header.gas_limit);
        let base_fee = match overrides.base_fee {
            Some(fee) => u64::try_from(fee).map_err(|_| {
                SimulateError::InvalidParams(format!("base fee {fee} is too large"))
            })?,
            // Like eth_call, an unvalidated simulation charges no base fee unless told to.
            None if !payload.validation => 0,
            None => crate::fees::next_base_fee(
                parent
                    .header
                    .base_fee_per_gas
                    .unwrap_or(self.config().min_base_fee),
                parent.header.gas_used,
                parent.header.gas_limit,
                self.config().min_base_fee,
            ),
        };
        let beneficiary = overrides.coinbase.unwrap_or_default();
        let prevrandao = overrides.random.unwrap_or_default();
        if let Some(state) = &spec.state_overrides {
            apply_state_overrides(base, pending, state)?;
        }
        let block_env = BlockEnv {
            number: U256::from(number),
            beneficiary,
            timestamp: U256::from(timestamp),
            gas_limit,
            basefee: base_fee,
            difficulty: U256::ZERO,
            prevrandao: Some(prevrandao),
            blob_excess_gas_and_price: Some(
                revm::context_interface::block::BlobExcessGasAndPrice::new_with_spec(0, SPEC),
            ),
            ..Default::default()
        };
        let chain_id = self.config().chain_id;
        let mut cfg = CfgEnv::new_with_spec(SPEC);
        cfg.chain_id = chain_id;
        // The spec: no sender (EOA) or signature checks, ever; without validation the calls
        // behave like eth_call (no base fee, no nonce check).
        cfg.disable_eip3607 = true;
        cfg.tx_gas_limit_cap = Some(MAX_TX_GAS);
        if !payload.validation {
            cfg.disable_base_fee = true;
            cfg.disable_nonce_check = true;
        }
        let overlay = Overlay {
            base,
            pending: &mut *pending,
        };
        let mut evm = build_evm(
            overlay,
            block_env,
            cfg,
            &self.config().precompiles,
            TransferInspector::new(false).with_logs(payload.trace_transfers),
        );
        let mut gas_used = 0u64;
        let mut txs = Vec::with_capacity(spec.calls.len());
        let mut receipts = Vec::with_capacity(spec.calls.len());
        let mut calls = Vec::with_capacity(spec.calls.len());
        let mut bloom = Bloom::default();
        for request in &spec.calls {
            let from = request.from.unwrap_or_default();
            let gas_left = gas_limit - gas_used;
            let gas = match request.gas {
                Some(gas) if gas > gas_left => {
                    return Err(SimulateError::BlockGasLimit {
                        gas_left,
                        wanted: gas,
                    });
                }
                Some(gas) => gas,
                None => gas_left.min(MAX_TX_GAS),
            };
            let nonce = match request.nonce {
                Some(nonce) => nonce,
                None => evm
                    .ctx
                    .db_mut()
                    .basic(from)?
                    .map(|a| a.nonce)
                    .unwrap_or_default(),
            };
            let mut tx_env = call_tx_env(request, gas, chain_id);
            tx_env.nonce = nonce;
            let tx = simulated_tx(&tx_env, from);
            let result = match evm.inspect_tx_commit(tx_env) {
                Ok(result) => result,
                Err(EVMError::Transaction(invalid)) => {
                    return Err(SimulateError::invalid_call(&invalid));
                }
                Err(EVMError::Database(e)) => return Err(e.into()),
                Err(other) => {
                    return Err(SimulateError::InvalidCall {
                        code: -32000,
                        message: other.to_string(),
                    });
                }
            };
            let used = result.tx_gas_used();
            gas_used += used;
            let contract_address = result.created_address();
            let (output, failure) = match &result {
                ExecutionResult::Success { output, .. } => (output.data().clone(), None),
                ExecutionResult::Revert { output, .. } => (
                    output.clone(),
                    Some(CallFailure::Reverted {
                        reason: revert_reason(output),
                    }),
                ),
                ExecutionResult::Halt { reason, .. } => (
                    Bytes::new(),
                    Some(CallFailure::Halted(format!("{reason:?}"))),
                ),
            };
            let receipt = Receipt {
                status: Eip658Value::Eip658(result.is_success()),
                cumulative_gas_used: gas_used,
                logs: result.into_logs(),
            };
            let envelope =
                ReceiptEnvelope::from_typed(tx.envelope.tx_type(), ReceiptWithBloom::from(receipt));
            bloom.accrue_bloom(envelope.logs_bloom());
            receipts.push(StoredReceipt {
                envelope,
                gas_used: used,
                contract_address,
            });
            txs.push(Arc::new(tx));
            calls.push(SimulatedCall {
                output,
                gas_used: used,
                failure,
            });
        }
        let envelopes: Vec<TxEnvelope> = txs.iter().map(|tx| tx.envelope.clone()).collect();
        let receipt_envelopes: Vec<ReceiptEnvelope> =
            receipts.iter().map(|r| r.envelope.clone()).collect();
        let header = Header {
            parent_hash: parent.hash,
            ommers_hash: alloy_consensus::constants::EMPTY_OMMER_ROOT_HASH,
            beneficiary,
            // The state root of a simulated block is not computed (it would need the whole
            // commitment for a block that is thrown away): the parent's is reported.
            state_root: parent.header.state_root,
            transactions_root: proofs::calculate_transaction_root(&envelopes),
            receipts_root: proofs::calculate_receipt_root(&receipt_envelopes),
            logs_bloom: bloom,
            difficulty: U256::ZERO,
            number,
            gas_limit,
            gas_used,
            timestamp,
            extra_data: Bytes::new(),
            mix_hash: prevrandao,
            nonce: Default::default(),
            base_fee_per_gas: Some(base_fee),
            withdrawals_root: Some(alloy_consensus::constants::EMPTY_ROOT_HASH),
            blob_gas_used: Some(0),
            excess_blob_gas: Some(0),
            parent_beacon_block_root: Some(B256::ZERO),
            requests_hash: Some(EMPTY_REQUESTS_HASH),
            ..Default::default()
        };
        Ok(SimulatedBlock {
            block: StoredBlock {
                header: SealedHeader::seal(header),
                txs,
                receipts,
                payouts: Vec::new(),
                cross_shard: Default::default(),
            },
            calls,
        })
    }
}

/// Block overrides this node cannot honour are refused rather than ignored.
fn check_supported(overrides: &BlockOverrides) -> Result<(), SimulateError> {
    if overrides.block_hash.is_some() {
        return Err(SimulateError::InvalidParams(
            "the blockHash block override is not supported".into(),
        ));
    }
    if overrides.blob_base_fee.is_some_and(|fee| !fee.is_zero()) {
        return Err(SimulateError::InvalidParams(
            "blob transactions are not supported: blobBaseFee must be 0 or absent".into(),
        ));
    }
    Ok(())
}

/// The transaction a simulated call stands for, as blocks carry it (unsigned: r = s = 0).
fn simulated_tx(tx: &TxEnv, from: Address) -> ShardTx {
    let to = tx.kind;
    let input = tx.data.clone();
    let envelope = match TxType::try_from(tx.tx_type).unwrap_or(TxType::Eip1559) {
        TxType::Legacy => TxEnvelope::from(signed(TxLegacy {
            chain_id: tx.chain_id,
            nonce: tx.nonce,
            gas_price: tx.gas_price,
            gas_limit: tx.gas_limit,
            to,
            value: tx.value,
            input,
        })),
        TxType::Eip2930 => TxEnvelope::from(signed(TxEip2930 {
            chain_id: tx.chain_id.unwrap_or_default(),
            nonce: tx.nonce,
            gas_price: tx.gas_price,
            gas_limit: tx.gas_limit,
            to,
            value: tx.value,
            access_list: tx.access_list.clone(),
            input,
        })),
        _ => TxEnvelope::from(signed(TxEip1559 {
            chain_id: tx.chain_id.unwrap_or_default(),
            nonce: tx.nonce,
            gas_limit: tx.gas_limit,
            max_fee_per_gas: tx.gas_price,
            max_priority_fee_per_gas: tx.gas_priority_fee.unwrap_or_default(),
            to,
            value: tx.value,
            access_list: tx.access_list.clone(),
            input,
        })),
    };
    ShardTx::from_envelope(envelope, from)
}

fn signed<T: alloy_consensus::SignableTransaction<Signature>>(tx: T) -> Signed<T> {
    tx.into_signed(no_signature())
}

/// Applies `overrides` on top of what earlier simulated blocks left in `pending`.
fn apply_state_overrides(
    base: &StateAt,
    pending: &mut PendingState,
    overrides: &StateOverride,
) -> Result<(), SimulateError> {
    for (address, o) in overrides {
        if o.move_precompile_to.is_some() {
            return Err(SimulateError::InvalidParams(
                "movePrecompileToAddress is not supported".into(),
            ));
        }
        if o.state.is_some() && o.state_diff.is_some() {
            return Err(SimulateError::InvalidParams(format!(
                "account {address} has both state and stateDiff overrides"
            )));
        }
        crate::call::override_account(base, pending, *address, o)?;
    }
    Ok(())
}
