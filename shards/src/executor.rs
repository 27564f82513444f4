//! Executing a block with revm on top of a state view: the system changes before the first
//! transaction (fee shares paid from the treasury), then the transactions in order, with
//! receipts, logs, bloom, fee accounting (base fee to the treasury, tips to the block's fee
//! recipient) and the block's change set. Building, checking and tracing a block all run
//! [`execute_block_observed`] (tracing with a [`TxObserver`] that inspects chosen
//! transactions), and every EVM a shard runs comes from [`build_evm`] with the chain's
//! precompiles. Pure with respect to IO: it only reads through the state view.

use std::collections::HashSet;
use std::sync::Arc;

use alloy_consensus::{
    Eip658Value, Receipt, ReceiptEnvelope, ReceiptWithBloom, Transaction, TxType,
};
use alloy_primitives::{Address, B256, Bloom, U256};
use revm::context::{BlockEnv, CfgEnv, Context, Evm, Journal, TxEnv};
use revm::context_interface::result::{
    EVMError, ExecutionResult, InvalidTransaction, ResultAndState,
};
use revm::handler::instructions::EthInstructions;
use revm::handler::{EthFrame, MainBuilder};
use revm::inspector::{InspectEvm, Inspector, NoOpInspector};
use revm::interpreter::interpreter::EthInterpreter;
use revm::primitives::hardfork::SpecId;
use revm::{Database, ExecuteCommitEvm, ExecuteEvm, MainContext};

use crate::crossshard::deliver::{DeliveryError, Taken, apply_deliveries, sent_by};
use crate::crossshard::{Delivery, Message};
use crate::overlay::{Overlay, PendingState};
use crate::precompiles::ShardPrecompiles;
use crate::state::{StateAt, StateError};
use crate::tx::ShardTx;

/// The Ethereum rules the shards run.
pub const SPEC: SpecId = SpecId::OSAKA;

/// Most bytes of transactions (as encoded) in one block. A proposal's body must travel as one
/// gossip message, at most 4 MiB (`kaimeng_network::Limits`); this leaves room for the header
/// and the cross-shard deliveries. Gas bounds it only loosely: EIP-7623's floor charges 10 gas
/// a zero calldata byte, so a block of 30 M gas can carry about 2.9 MiB, and one whose limit
/// governance raised to 60 M twice that.
pub const MAX_BLOCK_TX_BYTES: usize = 3 * 1024 * 1024;

/// Everything about the block being built that execution depends on.
#[derive(Clone, Debug)]
pub struct BlockContext {
    pub chain_id: u64,
    pub number: u64,
    pub timestamp: u64,
    pub beneficiary: Address,
    pub treasury: Address,
    pub base_fee: u64,
    pub gas_limit: u64,
    pub prevrandao: B256,
    /// Paid from the treasury before the first transaction (members' fee shares at an
    /// epoch boundary).
    pub payouts: Vec<(Address, U256)>,
    /// The chain's precompiles.
    pub precompiles: ShardPrecompiles,
    /// Cross-shard messages taken before the transactions (after the payouts).
    pub deliveries: Arc<[Delivery]>,
    /// The beacon height the block references (a message's delivery window ends there).
    pub beacon_height: u64,
}

impl BlockContext {
    pub fn block_env(&self) -> BlockEnv {
        BlockEnv {
            number: U256::from(self.number),
            beneficiary: self.beneficiary,
            timestamp: U256::from(self.timestamp),
            gas_limit: self.gas_limit,
            basefee: self.base_fee,
            difficulty: U256::ZERO,
            prevrandao: Some(self.prevrandao),
            blob_excess_gas_and_price: Some(
                revm::context_interface::block::BlobExcessGasAndPrice::new_with_spec(0, SPEC),
            ),
            ..Default::default()
        }
    }

    pub fn cfg_env(&self) -> CfgEnv {
        let mut cfg = CfgEnv::new_with_spec(SPEC);
        cfg.chain_id = self.chain_id;
        cfg
    }
}

/// Why a candidate was left out of a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Less gas is left in the block than the transaction's limit: it may fit the next one.
    BlockFull { gas_left: u64 },
    /// The block's transactions would pass [`MAX_BLOCK_TX_BYTES`] with it: it may fit the
    /// next one.
    BlockBytesFull { bytes_left: usize },
    /// An earlier transaction of its sender was left out of this block: it waits with it
    /// (executing it now would only fail as "nonce too high").
    SenderHeldBack,
    /// Its nonce is below the sender's in the block's parent state.
    NonceTooLow { next: u64, got: u64 },
    /// Any other rule it breaks in this state, in Ethereum clients' wording.
    Invalid(String),
}

impl Skip {
    /// Whether the transaction may go into a later block unchanged.
    pub fn may_fit_later(&self) -> bool {
        matches!(
            self,
            Skip::BlockFull { .. } | Skip::BlockBytesFull { .. } | Skip::SenderHeldBack
        )
    }
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::BlockFull { gas_left } => {
                write!(f, "block gas left {gas_left} is below the gas limit")
            }
            Skip::BlockBytesFull { bytes_left } => write!(
                f,
                "the block has room for {bytes_left} more bytes of transactions, fewer than this one's"
            ),
            Skip::SenderHeldBack => {
                f.write_str("an earlier transaction of its sender waits for a later block")
            }
            Skip::NonceTooLow { next, got } => {
                write!(f, "nonce too low: next nonce {next}, tx nonce {got}")
            }
            Skip::Invalid(reason) => f.write_str(reason),
        }
    }
}

/// A transaction as executed in a block.
#[derive(Clone, Debug)]
pub struct ExecutedTx {
    pub tx: Arc<ShardTx>,
    pub receipt: ReceiptEnvelope,
    pub gas_used: u64,
    pub contract_address: Option<Address>,
}

/// The outcome of executing a block.
#[derive(Debug, Default)]
pub struct BlockExecution {
    pub txs: Vec<ExecutedTx>,
    /// Candidates left out, with the reason.
    pub skipped: Vec<(Arc<ShardTx>, Skip)>,
    pub pending: PendingState,
    pub gas_used: u64,
    pub logs_bloom: Bloom,
    /// Base fees collected for the treasury.
    pub base_fees: U256,
    /// Cross-shard messages the block sends: refunds of the messages it took, then what its
    /// transactions sent, in order.
    pub sent: Vec<Message>,
    /// What became of each message the block took.
    pub taken: Vec<Taken>,
}

/// The revm context a shard's EVM runs in, over database `DB`.
pub type ShardContext<DB> = Context<BlockEnv, TxEnv, CfgEnv, DB, Journal<DB>, ()>;

/// A shard's EVM: mainnet rules at [`SPEC`], the chain's precompiles, inspector `I`.
pub type ShardEvm<DB, I = ()> = Evm<
    ShardContext<DB>,
    I,
    EthInstructions<EthInterpreter, ShardContext<DB>>,
    ShardPrecompiles,
    EthFrame<EthInterpreter>,
>;

/// Builds the EVM a shard runs: the one place an EVM is made, so block building, calls,
/// estimates and traces always see the same rules and the chain's precompiles.
pub fn build_evm<DB: Database, I>(
    db: DB,
    block: BlockEnv,
    cfg: CfgEnv,
    precompiles: &ShardPrecompiles,
    inspector: I,
) -> ShardEvm<DB, I> {
    Context::mainnet()
        .with_db(db)
        .with_block(block)
        .with_cfg(cfg)
        .build_mainnet_with_inspector(inspector)
        .with_precompiles(precompiles.clone())
}

/// Watches chosen transactions of a block while it executes (tracing). Building and checking
/// blocks observe nothing ([`NoObserver`]).
pub trait TxObserver {
    /// The inspector a watched transaction runs under.
    type Inspector: Default;

    /// The inspector to run candidate `index` under, or `None` to run it unwatched.
    fn inspector_for(&mut self, index: usize, tx: &ShardTx) -> Option<Self::Inspector>;

    /// Candidate `index` ran under `inspector` with `outcome` (its result and the changes it
    /// makes, not yet applied); `before` is the block's state just before it.
    fn observed(
        &mut self,
        index: usize,
        tx: &ShardTx,
        inspector: &mut Self::Inspector,
        outcome: &ResultAndState,
        before: &Overlay<'_>,
    ) -> Result<(), StateError>;

    /// Whether the rest of the block is of no interest (execution stops here).
    fn done(&self) -> bool {
        false
    }
}

/// Watches nothing: plain block execution.
pub struct NoObserver;

impl TxObserver for NoObserver {
    type Inspector = NoOpInspector;

    fn inspector_for(&mut self, _: usize, _: &ShardTx) -> Option<NoOpInspector> {
        None
    }

    fn observed(
        &mut self,
        _: usize,
        _: &ShardTx,
        _: &mut NoOpInspector,
        _: &ResultAndState,
        _: &Overlay<'_>,
    ) -> Result<(), StateError> {
        Ok(())
    }
}

/// Executes `candidates` in order on top of `base`, skipping those that are invalid in context.
pub fn execute_block(
    base: &StateAt,
    ctx: &BlockContext,
    candidates: impl IntoIterator<Item = Arc<ShardTx>>,
) -> Result<BlockExecution, StateError> {
    execute_block_observed(base, ctx, candidates, &mut NoObserver)
}

/// [`execute_block`] with `observer` watching the transactions it chooses.
pub fn execute_block_observed<O>(
    base: &StateAt,
    ctx: &BlockContext,
    candidates: impl IntoIterator<Item = Arc<ShardTx>>,
    observer: &mut O,
) -> Result<BlockExecution, StateError>
where
    O: TxObserver,
    O::Inspector: for<'a> Inspector<ShardContext<Overlay<'a>>>,
{
    let mut out = BlockExecution::default();
    let mut pending = PendingState::default();
    let total: U256 = ctx.payouts.iter().map(|(_, amount)| *amount).sum();
    if !pending.debit(base, ctx.treasury, total)? {
        return Err(StateError::Corrupt(format!(
            "the treasury cannot pay the fee shares of {total} wei"
        )));
    }
    for (recipient, amount) in &ctx.payouts {
        pending.credit(base, *recipient, *amount)?;
    }
    let (taken, refunds) =
        apply_deliveries(base, &mut pending, ctx, &ctx.deliveries).map_err(|e| match e {
            DeliveryError::State(e) => e,
            // The chain checks the order before executing: this is a bug, not bad input.
            DeliveryError::Invalid(reason) => StateError::Corrupt(reason),
        })?;
    out.taken = taken;
    out.sent = refunds;
    let source = ctx.precompiles.cross_shard().map(|site| site.shard);
    {
        let overlay = Overlay {
            base,
            pending: &mut pending,
        };
        let mut evm = build_evm(
            overlay,
            ctx.block_env(),
            ctx.cfg_env(),
            &ctx.precompiles,
            O::Inspector::default(),
        );
        let mut tx_bytes = 0usize;
        // Senders with a transaction left out: their later ones wait too.
        let mut held_back: HashSet<Address> = HashSet::new();
        for (index, tx) in candidates.into_iter().enumerate() {
            if held_back.contains(&tx.sender) {
                out.skipped.push((tx, Skip::SenderHeldBack));
                continue;
            }
            let gas_left = ctx.gas_limit - out.gas_used;
            let bytes_left = MAX_BLOCK_TX_BYTES - tx_bytes;
            let no_room = if tx.envelope.gas_limit() > gas_left {
                Some(Skip::BlockFull { gas_left })
            } else if tx.encoded.len() > bytes_left {
                Some(Skip::BlockBytesFull { bytes_left })
            } else {
                None
            };
            if let Some(skip) = no_room {
                held_back.insert(tx.sender);
                out.skipped.push((tx, skip));
                continue;
            }
            let outcome = match observer.inspector_for(index, &tx) {
                None => evm.transact(tx.tx_env()),
                Some(inspector) => {
                    evm.set_inspector(inspector);
                    let outcome = evm.inspect_tx(tx.tx_env());
                    if let Ok(outcome) = &outcome {
                        observer.observed(
                            index,
                            &tx,
                            &mut evm.inspector,
                            outcome,
                            &evm.ctx.journaled_state.database,
                        )?;
                    }
                    outcome
                }
            };
            match outcome {
                Ok(ResultAndState { result, state }) => {
                    evm.commit(state);
                    tx_bytes += tx.encoded.len();
                    let gas_used = result.tx_gas_used();
                    out.gas_used += gas_used;
                    out.base_fees += U256::from(gas_used) * U256::from(ctx.base_fee);
                    let contract_address = result.created_address();
                    let receipt = receipt_for(&tx, result, out.gas_used);
                    if let Some(source) = source {
                        out.sent.extend(sent_by(receipt.logs(), source));
                    }
                    out.logs_bloom.accrue_bloom(receipt.logs_bloom());
                    out.txs.push(ExecutedTx {
                        tx,
                        receipt,
                        gas_used,
                        contract_address,
                    });
                }
                Err(EVMError::Transaction(InvalidTransaction::NonceTooLow { tx: got, state })) => {
                    out.skipped
                        .push((tx, Skip::NonceTooLow { next: state, got }))
                }
                Err(EVMError::Transaction(invalid)) => {
                    held_back.insert(tx.sender);
                    out.skipped
                        .push((tx, Skip::Invalid(describe_invalid(&invalid))))
                }
                Err(EVMError::Database(e)) => return Err(e),
                Err(other) => {
                    held_back.insert(tx.sender);
                    out.skipped.push((tx, Skip::Invalid(other.to_string())))
                }
            }
            if observer.done() {
                break;
            }
        }
    }
    pending.credit(base, ctx.treasury, out.base_fees)?;
    out.pending = pending;
    Ok(out)
}

fn receipt_for(tx: &ShardTx, result: ExecutionResult, cumulative_gas_used: u64) -> ReceiptEnvelope {
    let success = result.is_success();
    let logs = result.into_logs();
    let receipt = Receipt {
        status: Eip658Value::Eip658(success),
        cumulative_gas_used,
        logs,
    };
    let tx_type: TxType = tx.envelope.tx_type();
    ReceiptEnvelope::from_typed(tx_type, ReceiptWithBloom::from(receipt))
}

/// Ethereum-client wording for transactions that cannot run in the current state.
pub fn describe_invalid(invalid: &InvalidTransaction) -> String {
    match invalid {
        InvalidTransaction::NonceTooLow { tx, state } => {
            format!("nonce too low: next nonce {state}, tx nonce {tx}")
        }
        InvalidTransaction::NonceTooHigh { tx, state } => {
            format!("nonce too high: next nonce {state}, tx nonce {tx}")
        }
        InvalidTransaction::LackOfFundForMaxFee { fee, balance } => {
            format!("insufficient funds for gas * price + value: balance {balance}, tx cost {fee}")
        }
        InvalidTransaction::GasPriceLessThanBasefee => {
            "max fee per gas less than block base fee".to_string()
        }
        InvalidTransaction::CallGasCostMoreThanGasLimit {
            initial_gas,
            gas_limit,
        } => format!("intrinsic gas too low: gas {gas_limit}, minimum needed {initial_gas}"),
        other => other.to_string(),
    }
}
