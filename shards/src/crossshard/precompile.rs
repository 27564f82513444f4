//! The cross-shard contract as the EVM runs it. `send` checks its arguments, charges the
//! destination's gas up front, numbers the message in the per-destination outbox counter,
//! burns the value (it returns on delivery or refund) and logs `MessageSent`, which the
//! executor collects into the block's outbox. Views read the counters and, during a delivery,
//! the message's origin. Every refusal reverts with a reason, so the value stays with the caller.

use alloy_primitives::{B256, Bytes, U256};
use alloy_sol_types::{Revert, SolCall, SolError, SolEvent, SolValue};
use revm::context_interface::journaled_state::account::JournaledAccountTr;
use revm::context_interface::{ContextTr, JournalTr};
use revm::handler::precompile_output_to_interpreter_result;
use revm::interpreter::{CallInputs, CallScheme, InterpreterResult};
use revm::precompile::{PrecompileHalt, PrecompileOutput};
use revm::primitives::Log;

use super::abi;
use super::message::{Message, MessageKind, inbox_slot, outbox_slot};
use super::{
    CROSS_SHARD_ADDRESS, CrossShardSite, MAX_DELIVERY_GAS, MAX_MESSAGE_DATA, Origin, SEND_GAS,
    VIEW_GAS,
};

/// Runs a call to the cross-shard contract. `Err` only for a database failure.
pub fn run<CTX: ContextTr>(
    site: &CrossShardSite,
    delivering: Option<&Origin>,
    context: &mut CTX,
    inputs: &CallInputs,
) -> Result<InterpreterResult, String> {
    let input = inputs.input.as_bytes(context).to_vec();
    let output = dispatch(site, delivering, context, inputs, &input)?;
    Ok(precompile_output_to_interpreter_result(
        output,
        inputs.gas_limit,
    ))
}

fn revert(reason: impl Into<String>, gas: u64, reservoir: u64) -> PrecompileOutput {
    let bytes = Revert::from(reason.into()).abi_encode();
    PrecompileOutput::revert(gas, Bytes::from(bytes), reservoir)
}

fn dispatch<CTX: ContextTr>(
    site: &CrossShardSite,
    delivering: Option<&Origin>,
    context: &mut CTX,
    inputs: &CallInputs,
    input: &[u8],
) -> Result<PrecompileOutput, String> {
    let reservoir = inputs.reservoir;
    let selector: [u8; 4] = match input.get(..4) {
        Some(s) => s.try_into().expect("4"),
        None => return Ok(revert("call data has no function selector", 0, reservoir)),
    };
    if selector == abi::sendCall::SELECTOR {
        return send(site, context, inputs, input);
    }
    if inputs.gas_limit < VIEW_GAS {
        return Ok(PrecompileOutput::halt(PrecompileHalt::OutOfGas, reservoir));
    }
    if !inputs.value.get().is_zero() {
        return Ok(revert("only send is payable", VIEW_GAS, reservoir));
    }
    let bytes = match selector {
        abi::outboxNonceCall::SELECTOR | abi::inboxNonceCall::SELECTOR => {
            let Ok(shard) = <u32>::abi_decode(&input[4..]) else {
                return Ok(revert("expected one uint32 shard", VIEW_GAS, reservoir));
            };
            let slot = if selector == abi::outboxNonceCall::SELECTOR {
                outbox_slot(shard)
            } else {
                inbox_slot(shard)
            };
            let value = read_slot(context, slot)?;
            value.saturating_to::<u64>().abi_encode()
        }
        abi::originCall::SELECTOR => match delivering {
            Some(origin) => (origin.shard, origin.from, origin.id).abi_encode_params(),
            None => {
                return Ok(revert(
                    "origin() answers only during a cross-shard delivery",
                    VIEW_GAS,
                    reservoir,
                ));
            }
        },
        _ => return Ok(revert("unknown function", VIEW_GAS, reservoir)),
    };
    Ok(PrecompileOutput::new(
        VIEW_GAS,
        Bytes::from(bytes),
        reservoir,
    ))
}

fn read_slot<CTX: ContextTr>(context: &mut CTX, slot: U256) -> Result<U256, String> {
    let mut account = context
        .journal_mut()
        .load_account_mut(CROSS_SHARD_ADDRESS)
        .map_err(|e| e.to_string())?;
    let value = account
        .data
        .sload(slot, false)
        .map_err(|e| format!("{e:?}"))?
        .data
        .present_value;
    Ok(value)
}

fn send<CTX: ContextTr>(
    site: &CrossShardSite,
    context: &mut CTX,
    inputs: &CallInputs,
    input: &[u8],
) -> Result<PrecompileOutput, String> {
    let reservoir = inputs.reservoir;
    let refuse = |reason: String| Ok(revert(reason, 0, reservoir));
    if inputs.scheme != CallScheme::Call || inputs.target_address != CROSS_SHARD_ADDRESS {
        return refuse("send must be called with CALL, not DELEGATECALL or CALLCODE".into());
    }
    if inputs.is_static {
        return refuse("send changes state and cannot run in a static call".into());
    }
    if !site.carries_messages {
        return refuse(
            "this node has no beacon chain to carry cross-shard messages (a single sealer); \
             run a network of validators, e.g. kaimeng dev --validators 2 --shards 2"
                .into(),
        );
    }
    let call = match abi::sendCall::abi_decode(input) {
        Ok(call) => call,
        Err(e) => return refuse(format!("send(uint32,address,uint64,bytes): {e}")),
    };
    if call.shard == site.shard {
        return refuse(format!("shard {} is this shard", call.shard));
    }
    if call.shard >= site.shard_count {
        return refuse(format!(
            "shard {} does not exist (this network has {})",
            call.shard, site.shard_count
        ));
    }
    if call.gasLimit > MAX_DELIVERY_GAS {
        return refuse(format!(
            "gasLimit {} is above the most a message may carry, {MAX_DELIVERY_GAS}",
            call.gasLimit
        ));
    }
    if call.data.len() > MAX_MESSAGE_DATA {
        return refuse(format!(
            "data of {} bytes is above the most a message may carry, {MAX_MESSAGE_DATA}",
            call.data.len()
        ));
    }
    let cost = SEND_GAS + 16 * call.data.len() as u64 + call.gasLimit;
    if cost > inputs.gas_limit {
        return Ok(PrecompileOutput::halt(PrecompileHalt::OutOfGas, reservoir));
    }
    let value = inputs.value.get();
    let mut account = context
        .journal_mut()
        .load_account_mut(CROSS_SHARD_ADDRESS)
        .map_err(|e| e.to_string())?;
    let slot = outbox_slot(call.shard);
    let nonce = account
        .data
        .sload(slot, false)
        .map_err(|e| format!("{e:?}"))?
        .data
        .present_value;
    account
        .data
        .sstore(slot, nonce + U256::from(1), false)
        .map_err(|e| format!("{e:?}"))?;
    // The value leaves circulation until it is delivered or refunded.
    if !account.data.decr_balance(value) {
        return Err("the cross-shard account lacks the value just sent to it".into());
    }
    // A nonce keeps the account from being cleared as empty (EIP-161) with its counters.
    if account.data.nonce() == 0 {
        account.data.set_nonce(1);
    }
    drop(account);
    let message = Message {
        kind: MessageKind::Call,
        source: site.shard,
        destination: call.shard,
        nonce: nonce.saturating_to(),
        from: inputs.caller,
        to: call.to,
        value,
        gas_limit: call.gasLimit,
        data: call.data,
    };
    let id = message.id();
    context.journal_mut().log(sent_log(&message, id));
    Ok(PrecompileOutput::new(
        cost,
        Bytes::from(id.abi_encode()),
        reservoir,
    ))
}

/// The `MessageSent` log of `message`.
pub fn sent_log(message: &Message, id: B256) -> Log {
    let event = abi::MessageSent {
        id,
        destination: message.destination,
        from: message.from,
        nonce: message.nonce,
        to: message.to,
        value: message.value,
        gasLimit: message.gas_limit,
        data: message.data.clone(),
    };
    Log {
        address: CROSS_SHARD_ADDRESS,
        data: event.encode_log_data(),
    }
}

/// The message a `MessageSent` log of a shard `source` block records, if `log` is one.
pub fn message_of_log(log: &Log, source: u32) -> Option<Message> {
    if log.address != CROSS_SHARD_ADDRESS {
        return None;
    }
    let event = abi::MessageSent::decode_log_data(&log.data).ok()?;
    Some(Message {
        kind: MessageKind::Call,
        source,
        destination: event.destination,
        nonce: event.nonce,
        from: event.from,
        to: event.to,
        value: event.value,
        gas_limit: event.gasLimit,
        data: event.data,
    })
}
