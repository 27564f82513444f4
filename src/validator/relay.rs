//! Cross-shard messages between the shards a node holds: what a shard proposer takes from the
//! other shards' outboxes (the next messages from each source, once their source block is
//! crosslinked in a final beacon block at or below the block's reference), and the check every
//! member makes of a proposed block's deliveries against its own beacon chain.

use alloy_primitives::B256;
use anyhow::Context;
use kaimeng_shards::ShardChain;
use kaimeng_shards::crossshard::commitment::{check_delivery, deliveries_digest};
use kaimeng_shards::crossshard::{Delivery, MAX_DELIVERIES, Message, OutboxProof, block};

use super::beacon::BeaconChain;

/// The messages a block of `chain` on `parent`, referencing beacon height `reference`, takes:
/// from each other shard this node holds, the next ones in nonce order (at most
/// [`MAX_DELIVERIES`] in all).
pub fn deliveries_for(
    beacon: &BeaconChain,
    chain: &ShardChain,
    parent: &B256,
    reference: u64,
) -> anyhow::Result<Vec<Delivery>> {
    let me = chain.config().shard;
    let mut out = Vec::new();
    for source in beacon.held_shards() {
        let source_shard = source.config().shard;
        if source_shard == me {
            continue;
        }
        let mut nonce = chain.inbox_nonce(parent, source_shard)?;
        while out.len() < MAX_DELIVERIES {
            let Some(delivery) = next_from(beacon, source, me, nonce, reference)? else {
                break;
            };
            out.push(delivery);
            nonce += 1;
        }
    }
    Ok(out)
}

/// Message `nonce` from `source` to `destination`, with its proof, if it is sent and
/// crosslinked at or below `reference`.
fn next_from(
    beacon: &BeaconChain,
    source: &ShardChain,
    destination: u32,
    nonce: u64,
    reference: u64,
) -> anyhow::Result<Option<Delivery>> {
    let store = source.store();
    let Some(id) = block::outbox_entry(store, destination, nonce)? else {
        return Ok(None);
    };
    let (number, index) = block::sent_at(store, &id)?
        .with_context(|| format!("message {id} is in the outbox but not indexed"))?;
    let shard = source.config().shard;
    let Some(link) = beacon.crosslinked(shard, number)? else {
        return Ok(None);
    };
    if link.beacon_height > reference {
        return Ok(None);
    }
    let messages = block::get(store, number)?
        .with_context(|| format!("shard {shard} block {number}'s messages are unreadable"))?;
    let ids: Vec<B256> = messages.sent.iter().map(Message::id).collect();
    let message = messages
        .sent
        .get(index as usize)
        .cloned()
        .with_context(|| format!("shard {shard} block {number} has no message {index}"))?;
    Ok(Some(Delivery {
        message,
        source_height: number,
        crosslinked_at: link.beacon_height,
        proof: OutboxProof::build(
            &ids,
            index as usize,
            deliveries_digest(&messages.deliveries),
        ),
    }))
}

/// Checks every delivery of a block of `chain` that references beacon height `reference`.
pub fn check_deliveries(
    beacon: &BeaconChain,
    chain: &ShardChain,
    deliveries: &[Delivery],
    reference: u64,
) -> anyhow::Result<()> {
    let shard = chain.config().shard;
    let shard_count = beacon.shard_count();
    for (index, delivery) in deliveries.iter().enumerate() {
        let link = beacon.crosslinked(delivery.message.source, delivery.source_height)?;
        check_delivery(delivery, shard, shard_count, reference, link)
            .map_err(|reason| anyhow::anyhow!("delivery {index}: {reason}"))?;
    }
    Ok(())
}
