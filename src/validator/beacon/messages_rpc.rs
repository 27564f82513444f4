//! `kaimeng_supply`: the native supply per shard and in flight, whose total is conserved.
//! `kaimeng_getCrossShardMessage`: where a cross-shard message stands, read from the stores of
//! the shards this node holds and its beacon chain's crosslink index: sent (in a source block),
//! crosslinked (that block is in a final beacon block), delivered (taken and its call
//! succeeded), refund pending (taken but failed or expired; the refund is on its way back) or
//! refunded (the refund was credited on the source).

use std::sync::Arc;

use alloy_primitives::{B256, U256};
use jsonrpsee::RpcModule;
use kaimeng_shards::ShardChain;
use kaimeng_shards::account::AccountRecord;
use kaimeng_shards::crossshard::block::{self, BlockMessages};
use kaimeng_shards::crossshard::deliver::Outcome;
use kaimeng_shards::crossshard::message::{inbox_slot, outbox_slot};
use kaimeng_shards::crossshard::{CROSS_SHARD_ADDRESS, Message, MessageKind};
use serde_json::{Value, json};

use super::BeaconChain;
use super::rpc::{internal, invalid, reason};
use kaimeng_shards::crossshard::relay::Crosslinks;

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
        .register_blocking_method("kaimeng_supply", |_, beacon, _| {
            supply(&beacon).map_err(|e| internal(format!("{e:#}")))
        })
        .expect("kaimeng_supply is registered once");
    module
}

/// Reads of the supply that a finalization interrupts are taken again, at most this often.
const SUPPLY_ATTEMPTS: usize = 5;

/// `kaimeng_supply`: the native supply of every held shard (the sum of its balances at its
/// head) and the value in flight between them (messages sent and not yet taken). The total
/// is conserved. It reads every account, so it costs time in proportion to the state: an
/// operator's and a test's check, not a method for every page view. The shards' heads are read before and after; if any moved, the read is taken
/// again, so the answer is one consistent cut (`consistent` says whether one was found).
pub fn supply(beacon: &BeaconChain) -> anyhow::Result<Value> {
    if beacon.held_shards().count() != beacon.shard_count() as usize {
        anyhow::bail!(
            "the supply needs every shard's state, and this validator executes only its committees' shards ([shards] hold = \"committees\"); ask a full node"
        );
    }
    let heads = || -> Vec<u64> { beacon.held_shards().map(|s| s.head().number()).collect() };
    let mut last = None;
    for _ in 0..SUPPLY_ATTEMPTS {
        let before = heads();
        let answer = supply_cut(beacon)?;
        let consistent = heads() == before;
        last = Some((answer, before, consistent));
        if consistent {
            break;
        }
    }
    let ((shards, in_flight, messages), heights, consistent) = last.expect("one attempt");
    let total = shards.iter().fold(U256::ZERO, |a, b| a + b) + in_flight;
    Ok(json!({
        "shards": beacon.held_shards().zip(shards.iter().zip(&heights)).map(|(chain, (balance, height))| json!({
            "shard": chain.config().shard, "height": height, "balances": balance.to_string(),
        })).collect::<Vec<_>>(),
        "inFlight": in_flight.to_string(),
        "inFlightMessages": messages,
        "total": total.to_string(),
        "consistent": consistent,
    }))
}

/// Balances per shard, value in flight and the number of messages in flight.
fn supply_cut(beacon: &BeaconChain) -> anyhow::Result<(Vec<U256>, U256, u64)> {
    let shards: Vec<_> = beacon.held_shards().collect();
    let mut balances = Vec::with_capacity(shards.len());
    for shard in &shards {
        let state = shard.latest_state();
        let mut sum = U256::ZERO;
        for (_, record) in state.scan_latest(kaimeng_shards::schema::ACCOUNTS, &[])? {
            let record = AccountRecord::decode(&record)
                .ok_or_else(|| anyhow::anyhow!("an account record is corrupt"))?;
            sum += record.balance;
        }
        balances.push(sum);
    }
    let (mut in_flight, mut count) = (U256::ZERO, 0);
    for source in &shards {
        for destination in &shards {
            let (s, d) = (source.config().shard, destination.config().shard);
            if s == d {
                continue;
            }
            let sent = counter(source, outbox_slot(d))?;
            let taken = counter(destination, inbox_slot(s))?;
            for nonce in taken..sent {
                let id = block::outbox_entry(source.store(), d, nonce)?.ok_or_else(|| {
                    anyhow::anyhow!("shard {s}'s message {nonce} to shard {d} is not indexed")
                })?;
                let (message, _, _) = find_sent(beacon, &id)?
                    .ok_or_else(|| anyhow::anyhow!("message {id} is not stored"))?;
                in_flight += message.value;
                count += 1;
            }
        }
    }
    Ok((balances, in_flight, count))
}

fn counter(chain: &ShardChain, slot: U256) -> anyhow::Result<u64> {
    Ok(chain
        .latest_state()
        .storage_value(&CROSS_SHARD_ADDRESS, &B256::from(slot))?
        .saturating_to())
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
