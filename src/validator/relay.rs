//! Cross-shard messages between the shards a node holds, read against its beacon chain: the
//! beacon chain's crosslink index is what proofs are checked against
//! (`kaimeng_shards::crossshard::relay` holds the logic).

use alloy_primitives::B256;
use kaimeng_l1::StoreError;
use kaimeng_shards::ShardChain;
use kaimeng_shards::crossshard::relay::{self, Crosslinks, Outbox, RemoteOutbox};
use kaimeng_shards::crossshard::{CrosslinkedHeader, Delivery};

use super::beacon::{BeaconChain, store};

impl Crosslinks for BeaconChain {
    fn crosslinked(
        &self,
        shard: u32,
        number: u64,
    ) -> Result<Option<CrosslinkedHeader>, StoreError> {
        store::crosslinked(self.store(), shard, number)
    }
}

/// The messages a block of `chain` on `parent`, referencing beacon height `reference`, takes:
/// from the outboxes of the shards this node holds, and from `remote` (fetched from peers) for
/// those it does not.
pub fn deliveries_for(
    beacon: &BeaconChain,
    chain: &ShardChain,
    remote: &[RemoteOutbox],
    parent: &B256,
    reference: u64,
) -> anyhow::Result<Vec<Delivery>> {
    let held: Vec<u32> = beacon.held_shards().map(|s| s.config().shard).collect();
    let sources = beacon
        .held_shards()
        .map(|s| s.as_ref() as &dyn Outbox<BeaconChain>)
        .chain(
            remote
                .iter()
                .filter(|r| !held.contains(&r.shard))
                .map(|r| r as &dyn Outbox<BeaconChain>),
        );
    Ok(relay::deliveries_for(
        beacon, sources, chain, parent, reference,
    )?)
}

/// Most messages served in one answer to a peer.
const MAX_SERVED_MESSAGES: usize = 64;

/// The messages held shard `source` sent to `destination` from nonce `from` on, encoded with
/// their proofs, for a peer that does not hold `source`; `None` if this node does not either.
pub fn serve_messages(
    beacon: &BeaconChain,
    source: u32,
    destination: u32,
    from: u64,
) -> Option<Vec<u8>> {
    let chain = beacon.held_shard(source)?;
    let deliveries =
        relay::outbox_from(beacon, chain, destination, from, MAX_SERVED_MESSAGES).ok()?;
    Some(kaimeng_shards::crossshard::commitment::encode_deliveries(
        &deliveries,
    ))
}

/// Checks messages a peer served for `chain` from shard `source`, starting at nonce `from`:
/// consecutive, from `source` to `chain`, each proven against the crosslinks final here.
pub fn check_served(
    beacon: &BeaconChain,
    chain: &ShardChain,
    source: u32,
    from: u64,
    deliveries: &[Delivery],
) -> anyhow::Result<()> {
    let shard = chain.config().shard;
    for (i, delivery) in deliveries.iter().enumerate() {
        let message = &delivery.message;
        if message.source != source
            || message.destination != shard
            || message.nonce != from + i as u64
        {
            anyhow::bail!(
                "served message {i} is {} -> {} nonce {}, not {source} -> {shard} nonce {}",
                message.source,
                message.destination,
                message.nonce,
                from + i as u64
            );
        }
    }
    check_deliveries(beacon, chain, deliveries, beacon.finalized_ref().height)
}

/// Checks every delivery of a block of `chain` that references beacon height `reference`.
pub fn check_deliveries(
    beacon: &BeaconChain,
    chain: &ShardChain,
    deliveries: &[Delivery],
    reference: u64,
) -> anyhow::Result<()> {
    let shard = chain.config().shard;
    Ok(relay::check_deliveries(
        beacon,
        deliveries,
        shard,
        beacon.shard_count(),
        reference,
    )?)
}
