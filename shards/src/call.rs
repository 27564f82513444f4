//! Read-only execution for the RPC: `eth_call` and `eth_estimateGas` (with block selection and
//! state overrides), and the call setup `debug_traceCall` runs under an inspector
//! ([`crate::trace`]).

use alloy_primitives::{B256, Bytes, TxKind, U256};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_rpc_types_eth::state::{AccountOverride, StateOverride};
use alloy_sol_types::SolError;
use revm::bytecode::Bytecode;
use revm::context::{BlockEnv, CfgEnv, TxEnv};
use revm::context_interface::result::{EVMError, ExecutionResult, ResultAndState};
use revm::database_interface::DatabaseRef;
use revm::{ExecuteEvm, InspectEvm, Inspector};

use crate::block::SealedHeader;
use crate::chain::{ChainError, ShardChain};
use crate::executor::{BlockContext, ShardContext, ShardEvm, build_evm, describe_invalid};
use crate::overlay::{Overlay, PendingState};
use crate::state::{StateAt, StateError};
use crate::tx::MAX_TX_GAS;

/// Why a call or estimate failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("execution reverted{}", reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    Revert {
        output: Bytes,
        reason: Option<String>,
    },
    #[error("execution halted: {0}")]
    Halt(String),
    #[error("{0}")]
    Invalid(String),
    #[error("gas required exceeds allowance ({0})")]
    GasExceedsAllowance(u64),
    #[error("unknown block")]
    UnknownBlock,
    #[error("transaction {0} not found")]
    UnknownTransaction(B256),
    /// Re-executing a stored block for a trace did not give what the block recorded.
    #[error("the replay of block {block} diverged from the block as executed: {reason}")]
    ReplayDiverged { block: u64, reason: String },
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Chain(#[from] ChainError),
}

/// A successful call: its return data and the gas it used.
#[derive(Debug, Clone)]
pub struct CallOutcome {
    pub output: Bytes,
    pub gas_used: u64,
}

/// The human-readable reason in revert data (`Error(string)` or a panic code), if any.
pub fn revert_reason(output: &[u8]) -> Option<String> {
    if let Ok(revert) = alloy_sol_types::Revert::abi_decode(output) {
        return Some(revert.reason);
    }
    alloy_sol_types::decode_revert_reason(output)
}

impl ShardChain {
    /// The context of block `header` without its payouts (what calls on its state run in).
    pub(crate) fn call_context(&self, header: &SealedHeader) -> BlockContext {
        let h = &header.header;
        BlockContext {
            chain_id: self.config().chain_id,
            number: h.number,
            timestamp: h.timestamp,
            beneficiary: h.beneficiary,
            treasury: self.config().treasury,
            base_fee: h.base_fee_per_gas.unwrap_or_default(),
            gas_limit: h.gas_limit,
            prevrandao: h.mix_hash,
            payouts: Vec::new(),
            precompiles: self.config().precompiles.clone(),
            deliveries: std::sync::Arc::from([]),
            beacon_height: 0,
        }
    }

    /// Runs `request` on the state after block `number`, with optional overrides.
    pub fn call(
        &self,
        request: &TransactionRequest,
        number: u64,
        overrides: Option<&StateOverride>,
    ) -> Result<CallOutcome, CallError> {
        let gas = request.gas.unwrap_or(MAX_TX_GAS);
        match self.run_call(request, number, overrides, gas)? {
            ExecutionResult::Success { gas, output, .. } => Ok(CallOutcome {
                output: output.into_data(),
                gas_used: gas.tx_gas_used(),
            }),
            ExecutionResult::Revert { output, .. } => Err(CallError::Revert {
                reason: revert_reason(&output),
                output,
            }),
            ExecutionResult::Halt { reason, .. } => Err(CallError::Halt(format!("{reason:?}"))),
        }
    }

    /// The least gas with which `request` succeeds (binary search, as geth does).
    pub fn estimate_gas(
        &self,
        request: &TransactionRequest,
        number: u64,
        overrides: Option<&StateOverride>,
    ) -> Result<u64, CallError> {
        let cap = request.gas.unwrap_or(MAX_TX_GAS).min(MAX_TX_GAS);
        let used = match self.run_call(request, number, overrides, cap)? {
            ExecutionResult::Success { gas, .. } => gas.tx_gas_used(),
            ExecutionResult::Revert { output, .. } => {
                return Err(CallError::Revert {
                    reason: revert_reason(&output),
                    output,
                });
            }
            ExecutionResult::Halt { reason, .. } => {
                return Err(match format!("{reason:?}") {
                    r if r.contains("OutOfGas") => CallError::GasExceedsAllowance(cap),
                    r => CallError::Halt(r),
                });
            }
        };
        let succeeds = |gas: u64| -> Result<bool, CallError> {
            Ok(matches!(
                self.run_call(request, number, overrides, gas)?,
                ExecutionResult::Success { .. }
            ))
        };
        // Most calls need only what they used (plus the 63/64 reserve); try that first.
        let optimistic = (used + 2_300).saturating_mul(64) / 63;
        if optimistic < cap && succeeds(optimistic)? {
            let (mut low, mut high) = (used.saturating_sub(1), optimistic);
            while high - low > 1 + high / 100 {
                let mid = low + (high - low) / 2;
                if succeeds(mid)? {
                    high = mid
                } else {
                    low = mid
                }
            }
            return Ok(high);
        }
        let (mut low, mut high) = (used.saturating_sub(1), cap);
        while high - low > 1 + high / 100 {
            let mid = low + (high - low) / 2;
            if succeeds(mid)? {
                high = mid
            } else {
                low = mid
            }
        }
        Ok(high)
    }

    fn run_call(
        &self,
        request: &TransactionRequest,
        number: u64,
        overrides: Option<&StateOverride>,
        gas: u64,
    ) -> Result<ExecutionResult, CallError> {
        self.call_setup(request, number, overrides, gas)?
            .run_plain()
    }

    /// What a call of `request` with `gas` on the state after block `number` (with
    /// `overrides`) runs in.
    pub(crate) fn call_setup(
        &self,
        request: &TransactionRequest,
        number: u64,
        overrides: Option<&StateOverride>,
        gas: u64,
    ) -> Result<CallSetup, CallError> {
        let header = self.header(number)?.ok_or(CallError::UnknownBlock)?;
        let base = self.state_at(number);
        let pending = apply_overrides(&base, overrides)?;
        let ctx = self.call_context(&header);
        let mut cfg = ctx.cfg_env();
        cfg.disable_base_fee = true;
        cfg.disable_eip3607 = true;
        // Like geth, calls and estimates never fail on the nonce.
        cfg.disable_nonce_check = true;
        cfg.tx_gas_limit_cap = Some(MAX_TX_GAS);
        let mut block = ctx.block_env();
        block.gas_limit = block.gas_limit.max(gas);
        Ok(CallSetup {
            base,
            pending,
            block,
            cfg,
            tx: call_tx_env(request, gas, self.config().chain_id),
            ctx,
        })
    }
}

/// A call ready to run: the state it reads, its block and configuration, and the transaction.
pub(crate) struct CallSetup {
    base: StateAt,
    pending: PendingState,
    block: BlockEnv,
    cfg: CfgEnv,
    tx: TxEnv,
    ctx: BlockContext,
}

impl CallSetup {
    /// Runs the call. Nothing is written anywhere.
    pub(crate) fn run_plain(mut self) -> Result<ExecutionResult, CallError> {
        let tx = std::mem::take(&mut self.tx);
        self.with_evm((), |evm| {
            evm.transact(tx)
                .map(|outcome| outcome.result)
                .map_err(call_error)
        })
    }

    /// Runs the call under `inspector`, then hands its outcome, the inspector and the state
    /// before the call to `finish`. Nothing is written anywhere.
    pub(crate) fn run_inspected<I, R>(
        mut self,
        inspector: I,
        finish: impl FnOnce(ResultAndState, &mut I, &Overlay<'_>) -> Result<R, CallError>,
    ) -> Result<R, CallError>
    where
        I: for<'a> Inspector<ShardContext<Overlay<'a>>>,
    {
        let tx = std::mem::take(&mut self.tx);
        self.with_evm(inspector, |evm| {
            let outcome = evm.inspect_tx(tx).map_err(call_error)?;
            finish(
                outcome,
                &mut evm.inspector,
                &evm.ctx.journaled_state.database,
            )
        })
    }

    fn with_evm<I, R>(
        mut self,
        inspector: I,
        run: impl FnOnce(&mut ShardEvm<Overlay<'_>, I>) -> Result<R, CallError>,
    ) -> Result<R, CallError> {
        let overlay = Overlay {
            base: &self.base,
            pending: &mut self.pending,
        };
        let mut evm = build_evm(
            overlay,
            self.block,
            self.cfg,
            &self.ctx.precompiles,
            inspector,
        );
        run(&mut evm)
    }
}

fn call_error(error: EVMError<StateError>) -> CallError {
    match error {
        EVMError::Transaction(invalid) => CallError::Invalid(describe_invalid(&invalid)),
        EVMError::Database(e) => CallError::State(e),
        other => CallError::Invalid(other.to_string()),
    }
}

pub(crate) fn call_tx_env(request: &TransactionRequest, gas: u64, chain_id: u64) -> TxEnv {
    let gas_price = request.max_fee_per_gas.or(request.gas_price).unwrap_or(0);
    TxEnv {
        tx_type: if request.max_fee_per_gas.is_some() || request.max_priority_fee_per_gas.is_some()
        {
            2
        } else if request.access_list.is_some() {
            1
        } else {
            0
        },
        caller: request.from.unwrap_or_default(),
        gas_limit: gas,
        gas_price,
        gas_priority_fee: request
            .max_priority_fee_per_gas
            .map(|tip| tip.min(gas_price)),
        kind: request.to.unwrap_or(TxKind::Create),
        value: request.value.unwrap_or_default(),
        data: request.input.input().cloned().unwrap_or_default(),
        nonce: request.nonce.unwrap_or_default(),
        chain_id: Some(chain_id),
        access_list: request.access_list.clone().unwrap_or_default(),
        ..Default::default()
    }
}

pub(crate) fn apply_overrides(
    base: &StateAt,
    overrides: Option<&StateOverride>,
) -> Result<PendingState, StateError> {
    let mut pending = PendingState::default();
    for (address, o) in overrides.into_iter().flatten() {
        override_account(base, &mut pending, *address, o)?;
    }
    Ok(pending)
}

/// Overrides one account on top of `pending` (what earlier overrides or simulated blocks left;
/// the state `base` below that): balance, nonce, code, and all storage (`state`) or some
/// slots (`stateDiff`).
pub(crate) fn override_account(
    base: &StateAt,
    pending: &mut PendingState,
    address: alloy_primitives::Address,
    o: &AccountOverride,
) -> Result<(), StateError> {
    let mut info = match pending.accounts.get(&address) {
        Some(change) => change.info.clone().unwrap_or_default(),
        None => base.basic_ref(address)?.unwrap_or_default(),
    };
    if let Some(balance) = o.balance {
        info.balance = balance;
    }
    if let Some(nonce) = o.nonce {
        info.nonce = nonce;
    }
    if let Some(code) = &o.code {
        let bytecode = Bytecode::new_raw(code.clone());
        info.code_hash = bytecode.hash_slow();
        // The code itself too: an account that did not exist defaults to `Some(empty)`,
        // which revm would run instead of looking the hash up.
        info.code = Some(bytecode.clone());
        pending.contracts.insert(info.code_hash, bytecode);
    }
    let change = pending.accounts.entry(address).or_default();
    change.info = Some(info);
    if let Some(state) = &o.state {
        change.storage_wiped = true;
        change.storage = state
            .iter()
            .map(|(k, v)| (U256::from_be_bytes(k.0), U256::from_be_bytes(v.0)))
            .collect();
    }
    if let Some(diff) = &o.state_diff {
        change.storage.extend(
            diff.iter()
                .map(|(k, v)| (U256::from_be_bytes(k.0), U256::from_be_bytes(v.0))),
        );
    }
    Ok(())
}
