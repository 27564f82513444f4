//! Taking messages into a block, before its transactions (after the fee shares): each
//! delivery must carry the next nonce from its source, which makes it exactly-once and in
//! order. A call runs from the cross-shard account with the message's value and gas; if it
//! fails, or the message is past its delivery window, the value goes back to the sender as a
//! refund message. A refund credits its recipient without running code, so it cannot fail.
//! Proofs are checked before this, against the beacon chain (`commitment::check_delivery`).

use alloy_primitives::{B256, U256};
use revm::context::TxEnv;
use revm::context_interface::result::{EVMError, ResultAndState};
use revm::database_interface::DatabaseRef;
use revm::primitives::TxKind;
use revm::{ExecuteCommitEvm, ExecuteEvm};

use super::commitment::{Delivery, expired};
use super::message::{Message, MessageKind, inbox_slot, outbox_slot};
use super::{CROSS_SHARD_ADDRESS, Origin};
use crate::executor::{BlockContext, build_evm};
use crate::overlay::{Overlay, PendingState};
use crate::state::{StateAt, StateError};

/// What became of one message a block took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Its call ran and succeeded (or it was a plain transfer).
    Delivered { gas_used: u64 },
    /// Its call failed; `refund` is the refund message sent back.
    Failed { gas_used: u64, refund: B256 },
    /// It came after its delivery window; `refund` is the refund message sent back.
    Expired { refund: B256 },
    /// It was a refund, credited to its recipient.
    Refunded,
}

/// One delivery's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taken {
    pub id: B256,
    pub outcome: Outcome,
}

/// Why a block's deliveries cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    State(#[from] StateError),
}

/// Applies the block's deliveries on top of `pending`: the outcomes, and the messages the
/// deliveries send (a delivered call may send messages itself; a failed or expired one sends
/// its refund), in nonce order.
pub fn apply_deliveries(
    base: &StateAt,
    pending: &mut PendingState,
    ctx: &BlockContext,
    deliveries: &[Delivery],
) -> Result<(Vec<Taken>, Vec<Message>), DeliveryError> {
    let mut taken = Vec::with_capacity(deliveries.len());
    let mut sent = Vec::new();
    if deliveries.is_empty() {
        return Ok((taken, sent));
    }
    let Some(site) = ctx.precompiles.cross_shard() else {
        return Err(DeliveryError::Invalid(
            "this chain has no cross-shard contract".into(),
        ));
    };
    for delivery in deliveries {
        let message = &delivery.message;
        let id = message.id();
        let expected = read(base, pending, inbox_slot(message.source))?;
        if U256::from(message.nonce) != expected {
            return Err(DeliveryError::Invalid(format!(
                "message {id} from shard {} has nonce {}, but the next one taken is {expected}",
                message.source, message.nonce
            )));
        }
        write(
            base,
            pending,
            inbox_slot(message.source),
            expected + U256::from(1),
        )?;
        let failed = match message.kind {
            MessageKind::Refund => {
                pending.credit(base, message.to, message.value)?;
                taken.push(Taken {
                    id,
                    outcome: Outcome::Refunded,
                });
                continue;
            }
            MessageKind::Call if expired(message, delivery.crosslinked_at, ctx.beacon_height) => {
                None
            }
            MessageKind::Call => match call(base, pending, ctx, message, id)? {
                Ok((gas_used, logs)) => {
                    sent.extend(sent_by(&logs, site.shard));
                    taken.push(Taken {
                        id,
                        outcome: Outcome::Delivered { gas_used },
                    });
                    continue;
                }
                Err(gas_used) => Some(gas_used),
            },
        };
        let nonce = read(base, pending, outbox_slot(message.source))?;
        write(
            base,
            pending,
            outbox_slot(message.source),
            nonce + U256::from(1),
        )?;
        let refund = message.refund(nonce.saturating_to());
        let refund_id = refund.id();
        sent.push(refund);
        taken.push(Taken {
            id,
            outcome: match failed {
                Some(gas_used) => Outcome::Failed {
                    gas_used,
                    refund: refund_id,
                },
                None => Outcome::Expired { refund: refund_id },
            },
        });
    }
    Ok((taken, sent))
}

/// Runs a message's call from the cross-shard account: `Ok((gas, logs))` if it succeeded,
/// `Err(gas)` if it failed (its value then stays out of circulation for the refund).
fn call(
    base: &StateAt,
    pending: &mut PendingState,
    ctx: &BlockContext,
    message: &Message,
    id: B256,
) -> Result<Result<(u64, Vec<alloy_primitives::Log>), u64>, StateError> {
    pending.credit(base, CROSS_SHARD_ADDRESS, message.value)?;
    let origin = Origin {
        shard: message.source,
        from: message.from,
        id,
    };
    let mut cfg = ctx.cfg_env();
    cfg.disable_base_fee = true;
    cfg.disable_nonce_check = true;
    cfg.disable_block_gas_limit = true;
    let tx = TxEnv {
        caller: CROSS_SHARD_ADDRESS,
        kind: TxKind::Call(message.to),
        value: message.value,
        data: message.data.clone(),
        gas_limit: super::delivery_gas(message),
        gas_price: 0,
        gas_priority_fee: None,
        chain_id: Some(ctx.chain_id),
        ..Default::default()
    };
    let outcome = {
        let overlay = Overlay {
            base,
            pending: &mut *pending,
        };
        let mut evm = build_evm(
            overlay,
            ctx.block_env(),
            cfg,
            &ctx.precompiles.clone().delivering(origin),
            (),
        );
        match evm.transact(tx) {
            Ok(ResultAndState { result, state }) => {
                evm.commit(state);
                let (success, gas_used) = (result.is_success(), result.tx_gas_used());
                Ok((success, gas_used, result.into_logs()))
            }
            Err(EVMError::Database(e)) => Err(e),
            // A call the EVM will not start (e.g. intrinsic gas) fails like a reverted one.
            Err(_) => Ok((false, 0, Vec::new())),
        }
    };
    let (success, gas_used, logs) = outcome?;
    if success {
        return Ok(Ok((gas_used, logs)));
    }
    if !pending.debit(base, CROSS_SHARD_ADDRESS, message.value)? {
        return Err(StateError::Corrupt(
            "the cross-shard account lost the value of a failed delivery".into(),
        ));
    }
    Ok(Err(gas_used))
}

fn read(base: &StateAt, pending: &mut PendingState, slot: U256) -> Result<U256, StateError> {
    Overlay { base, pending }.storage_ref(CROSS_SHARD_ADDRESS, slot)
}

/// Writes a counter of the cross-shard account, giving it a nonce if it has none, so EIP-161
/// never clears it (and its counters) as empty.
fn write(
    base: &StateAt,
    pending: &mut PendingState,
    slot: U256,
    value: U256,
) -> Result<(), StateError> {
    let info = match pending.accounts.get(&CROSS_SHARD_ADDRESS) {
        Some(change) => change.info.clone().unwrap_or_default(),
        None => base.basic_ref(CROSS_SHARD_ADDRESS)?.unwrap_or_default(),
    };
    let mut info = info;
    if info.nonce == 0 {
        info.nonce = 1;
    }
    let entry = pending.accounts.entry(CROSS_SHARD_ADDRESS).or_default();
    entry.info = Some(info);
    entry.storage.insert(slot, value);
    Ok(())
}

/// The messages a block's transactions sent, from their receipts' `MessageSent` logs.
pub fn sent_by<'a>(
    logs: impl IntoIterator<Item = &'a alloy_primitives::Log>,
    source: u32,
) -> Vec<Message> {
    logs.into_iter()
        .filter_map(|log| super::precompile::message_of_log(log, source))
        .collect()
}

/// Checks that `deliveries` may be taken on top of `base`: at most [`super::MAX_DELIVERIES`],
/// and from each source the next nonces in order.
pub fn check_order(base: &StateAt, deliveries: &[Delivery]) -> Result<(), DeliveryError> {
    if deliveries.len() > super::MAX_DELIVERIES {
        return Err(DeliveryError::Invalid(format!(
            "{} deliveries, above the block limit of {}",
            deliveries.len(),
            super::MAX_DELIVERIES
        )));
    }
    let gas: u64 = deliveries
        .iter()
        .map(|d| super::delivery_gas(&d.message))
        .sum();
    if gas > super::MAX_DELIVERY_GAS_PER_BLOCK {
        return Err(DeliveryError::Invalid(format!(
            "deliveries carry {gas} gas, above the block limit of {}",
            super::MAX_DELIVERY_GAS_PER_BLOCK
        )));
    }
    let mut next = std::collections::HashMap::new();
    for delivery in deliveries {
        let message = &delivery.message;
        let expected = match next.get(&message.source) {
            Some(nonce) => *nonce,
            None => base
                .storage_value(
                    &CROSS_SHARD_ADDRESS,
                    &B256::from(inbox_slot(message.source)),
                )?
                .saturating_to::<u64>(),
        };
        if message.nonce != expected {
            return Err(DeliveryError::Invalid(format!(
                "message {} from shard {} has nonce {}, but the next one to take is {expected}",
                message.id(),
                message.source,
                message.nonce
            )));
        }
        next.insert(message.source, expected + 1);
    }
    Ok(())
}
