//! The rules a transaction must pass before the pool takes it, beyond decoding: everything revm
//! checks about a transaction without reading state (intrinsic gas, the EIP-7623 calldata
//! floor, the EIP-3860 init-code limit, the block gas limit, fee fields). It runs revm's own
//! validation functions on the same block and config the executor uses, so a transaction the
//! pool accepts is never refused by the executor for a stateless reason.

use std::convert::Infallible;

use alloy_consensus::Transaction as _;
use alloy_primitives::{Address, B256};
use revm::MainContext;
use revm::context::Context;
use revm::context_interface::cfg::gas_params::Eip2780TxInfo;
use revm::context_interface::result::{EVMError, InvalidTransaction};
use revm::context_interface::{Cfg, ContextTr, Transaction as _};
use revm::handler::validation::{validate_env, validate_initial_tx_gas_with_gas_params};

use crate::executor::{BlockContext, describe_invalid};
use crate::tx::ShardTx;

/// What admission needs to know about the next block.
#[derive(Clone, Copy, Debug)]
pub struct NextBlock {
    pub chain_id: u64,
    pub number: u64,
    pub timestamp: u64,
    pub gas_limit: u64,
    pub base_fee: u64,
}

/// Checks `tx` against every stateless rule the executor applies to a block after `next`.
/// The base fee is not checked here: a fee cap below the current base fee waits in the pool.
pub fn check(tx: &ShardTx, next: &NextBlock) -> Result<(), String> {
    let block = BlockContext {
        chain_id: next.chain_id,
        number: next.number,
        timestamp: next.timestamp,
        beneficiary: Address::ZERO,
        treasury: Address::ZERO,
        base_fee: next.base_fee,
        gas_limit: next.gas_limit,
        prevrandao: B256::ZERO,
        payouts: Vec::new(),
        precompiles: crate::precompiles::ShardPrecompiles::standard(),
        deliveries: std::sync::Arc::from([]),
        beacon_height: 0,
    };
    let mut cfg = block.cfg_env();
    cfg.disable_base_fee = true;
    let mut ctx = Context::mainnet()
        .with_block(block.block_env())
        .with_cfg(cfg)
        .with_tx(tx.tx_env());
    let limits = Limits {
        gas: next.gas_limit,
        initcode: ctx.cfg().max_initcode_size(),
    };
    match validate_env::<_, EVMError<Infallible>>(&mut ctx) {
        Ok(()) => {}
        Err(EVMError::Transaction(invalid)) => return Err(describe(tx, limits, &invalid)),
        Err(other) => return Err(other.to_string()),
    }
    // As revm's handler computes the intrinsic gas (`Handler::validate_initial_tx_gas`).
    let cfg = ctx.cfg();
    let eip2780 = cfg.is_amsterdam_eip2780_enabled().then(|| Eip2780TxInfo {
        value: ctx.tx().value(),
        is_self_transfer: ctx.tx().kind().to() == Some(&ctx.tx().caller()),
    });
    validate_initial_tx_gas_with_gas_params(
        ctx.tx(),
        Cfg::spec(cfg).into(),
        cfg.gas_params(),
        cfg.is_eip7623_disabled(),
        cfg.is_amsterdam_eip8037_enabled(),
        cfg.tx_gas_limit_cap(),
        eip2780,
    )
    .map(|_| ())
    .map_err(|invalid| describe(tx, limits, &invalid))
}

#[derive(Clone, Copy)]
struct Limits {
    gas: u64,
    initcode: usize,
}

/// The wording Ethereum clients know (geth's pool errors), with the numbers that matter.
fn describe(tx: &ShardTx, limits: Limits, invalid: &InvalidTransaction) -> String {
    match invalid {
        InvalidTransaction::CreateInitCodeSizeLimit => format!(
            "max initcode size exceeded: init code is {} bytes, the limit is {} (EIP-3860)",
            tx.envelope.input().len(),
            limits.initcode
        ),
        InvalidTransaction::CallerGasLimitMoreThanBlock => format!(
            "exceeds block gas limit: tx gas {} is above the block gas limit {}",
            tx.envelope.gas_limit(),
            limits.gas
        ),
        InvalidTransaction::GasFloorMoreThanGasLimit {
            gas_floor,
            gas_limit,
        } => format!(
            "insufficient gas for floor data gas cost: gas {gas_limit}, minimum needed {gas_floor} (EIP-7623)"
        ),
        InvalidTransaction::PriorityFeeGreaterThanMaxFee => {
            "max priority fee per gas higher than max fee per gas".to_string()
        }
        other => describe_invalid(other),
    }
}
