//! Cross-shard messages between the shards a node holds, read against its beacon chain: the
//! beacon chain's crosslink index is what proofs are checked against
//! (`kaimeng_shards::crossshard::relay` holds the logic).

use alloy_primitives::B256;
use kaimeng_l1::StoreError;
use kaimeng_shards::ShardChain;
use kaimeng_shards::crossshard::relay::{self, Crosslinks};
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

/// The messages a block of `chain` on `parent`, referencing beacon height `reference`, takes.
pub fn deliveries_for(
    beacon: &BeaconChain,
    chain: &ShardChain,
    parent: &B256,
    reference: u64,
) -> anyhow::Result<Vec<Delivery>> {
    let sources = beacon.held_shards().map(|s| s.as_ref());
    Ok(relay::deliveries_for(
        beacon, sources, chain, parent, reference,
    )?)
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
