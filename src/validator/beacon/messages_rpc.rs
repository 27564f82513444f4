//! `kaimeng_getCrossShardMessage`: where a cross-shard message stands, read from the stores of
//! the shards this node holds and its beacon chain's crosslink index: sent (in a source block),
//! crosslinked (that block is in a final beacon block), delivered (taken and its call
//! succeeded), refund pending (taken but failed or expired; the refund is on its way back) or
//! refunded (the refund was credited on the source).

use std::sync::Arc;

use alloy_primitives::B256;
use jsonrpsee::RpcModule;
use kaimeng_shards::crossshard::block::{self, BlockMessages};
use kaimeng_shards::crossshard::deliver::Outcome;
use kaimeng_shards::crossshard::{Message, MessageKind};
use serde_json::{Value, json};

use super::BeaconChain;
use super::rpc::{internal, invalid, reason};

/// Registers `kaimeng_getCrossShardMessage`.
pub fn message_methods(beacon: Arc<BeaconChain>) -> RpcModule<Arc<BeaconChain>> {
    let mut module = RpcModule::new(beacon);
    module
        .register_blocking_method("kaimeng_getCrossShardMessage", |params, beacon, _| {
            let id: B256 = params.one().map_err(|e| {
                invalid(format!(
                    "kaimeng_getCrossShardMessage takes a message id (32 bytes, 0x-hex): {}",
                    reason(&e)
                ))
            })?;
            message_status(&beacon, &id).map_err(|e| internal(format!("{e:#}")))
        })
        .expect("kaimeng_getCrossShardMessage is registered once");
    module
}

/// The message's status, or `null` if no shard this node holds sent it.
pub fn message_status(beacon: &BeaconChain, id: &B256) -> anyhow::Result<Value> {
    let Some((message, source_block, index)) = find_sent(beacon, id)? else {
        return Ok(Value::Null);
    };
    let crosslinked = beacon.crosslinked(message.source, source_block)?;
    let taken = match beacon.held_shard(message.destination) {
        Some(destination) => block::taken_at(destination.store(), id)?,
        None => None,
    };
    let refund = match &taken {
        Some((_, Outcome::Failed { refund, .. } | Outcome::Expired { refund })) => {
            let credited = match beacon.held_shard(message.source) {
                Some(source) => block::taken_at(source.store(), refund)?.map(|(n, _)| n),
                None => None,
            };
            Some(json!({ "id": refund, "creditedInBlock": credited }))
        }
        _ => None,
    };
    let status = match (&taken, &refund) {
        (None, _) if crosslinked.is_none() => "sent",
        (None, _) => "crosslinked",
        (Some((_, Outcome::Delivered { .. } | Outcome::Refunded)), _) => "delivered",
        (Some(_), Some(refund)) if !refund["creditedInBlock"].is_null() => "refunded",
        (Some(_), _) => "refundPending",
    };
    let delivery = taken.map(|(number, outcome)| {
        let (result, gas_used) = match outcome {
            Outcome::Delivered { gas_used } => ("succeeded", Some(gas_used)),
            Outcome::Failed { gas_used, .. } => ("failed", Some(gas_used)),
            Outcome::Expired { .. } => ("expired", None),
            Outcome::Refunded => ("credited", None),
        };
        json!({ "block": number, "result": result, "gasUsed": gas_used })
    });
    Ok(json!({
        "id": id,
        "status": status,
        "kind": match message.kind { MessageKind::Call => "call", MessageKind::Refund => "refund" },
        "refunds": message.refunds(),
        "source": { "shard": message.source, "block": source_block, "index": index },
        "destination": message.destination,
        "nonce": message.nonce,
        "from": message.from,
        "to": message.to,
        "value": message.value.to_string(),
        "gasLimit": message.gas_limit,
        "data": message.data,
        "crosslinkedAt": crosslinked.map(|c| c.beacon_height),
        "delivery": delivery,
        "refund": refund,
    }))
}

/// The message with `id` from whichever held shard sent it, with its block and index.
fn find_sent(beacon: &BeaconChain, id: &B256) -> anyhow::Result<Option<(Message, u64, u32)>> {
    for shard in beacon.held_shards() {
        let Some((number, index)) = block::sent_at(shard.store(), id)? else {
            continue;
        };
        let messages: BlockMessages = block::get(shard.store(), number)?
            .ok_or_else(|| anyhow::anyhow!("block {number}'s messages are unreadable"))?;
        let message = messages
            .sent
            .get(index as usize)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("block {number} has no message {index}"))?;
        return Ok(Some((message, number, index)));
    }
    Ok(None)
}
