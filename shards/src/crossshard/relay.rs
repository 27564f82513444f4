//! What a shard proposer takes from the other shards' outboxes, and the check every member
//! makes of a block's deliveries. Both read crosslinks through [`Crosslinks`] (the node's
//! beacon chain; a test's own record), so the logic runs the same in the node and in tests.

use alloy_primitives::B256;
use kaimeng_l1::StoreError;

use super::block;
use super::commitment::{
    CrosslinkedHeader, Delivery, OutboxProof, check_delivery, deliveries_digest,
};
use super::message::Message;
use super::{MAX_DELIVERIES, MAX_DELIVERY_GAS_PER_BLOCK, delivery_gas};
use crate::{ChainError, ShardChain};

/// Where shard headers were crosslinked (in final beacon blocks).
pub trait Crosslinks {
    fn crosslinked(&self, shard: u32, number: u64)
    -> Result<Option<CrosslinkedHeader>, StoreError>;
}

/// The messages a block of `chain` on `parent`, referencing beacon height `reference`, takes
/// from `sources` (the other shards the node holds): the next ones of each source in nonce
/// order, taken in turn from every source so that no backlog starves the others, within
/// [`MAX_DELIVERIES`] and [`MAX_DELIVERY_GAS_PER_BLOCK`].
pub fn deliveries_for<'a, L: Crosslinks>(
    links: &L,
    sources: impl IntoIterator<Item = &'a dyn Outbox<L>>,
    chain: &ShardChain,
    parent: &B256,
    reference: u64,
) -> Result<Vec<Delivery>, ChainError>
where
    L: 'a,
{
    let me = chain.config().shard;
    let mut open = Vec::new();
    for source in sources {
        let shard = source.shard();
        if shard != me {
            open.push((source, chain.inbox_nonce(parent, shard)?, true));
        }
    }
    let (mut out, mut gas) = (Vec::new(), 0);
    while open.iter().any(|(_, _, more)| *more) {
        for (source, nonce, more) in open.iter_mut().filter(|(_, _, more)| *more) {
            if out.len() == MAX_DELIVERIES {
                return Ok(out);
            }
            match source.delivery(links, me, *nonce, reference)? {
                Some(delivery)
                    if gas + delivery_gas(&delivery.message) <= MAX_DELIVERY_GAS_PER_BLOCK =>
                {
                    gas += delivery_gas(&delivery.message);
                    out.push(delivery);
                    *nonce += 1;
                }
                // Not sent or not crosslinked yet, or it does not fit: this source waits.
                _ => *more = false,
            }
        }
    }
    Ok(out)
}

/// A shard's outbox as a proposer reads it: a chain this node holds, or the messages fetched
/// from peers that hold it ([`RemoteOutbox`]).
pub trait Outbox<L: Crosslinks> {
    fn shard(&self) -> u32;
    /// Message `nonce` to `destination`, with its proof, if it is sent and its block is
    /// crosslinked at or below `reference`.
    fn delivery(
        &self,
        links: &L,
        destination: u32,
        nonce: u64,
        reference: u64,
    ) -> Result<Option<Delivery>, ChainError>;
}

impl<L: Crosslinks> Outbox<L> for ShardChain {
    fn shard(&self) -> u32 {
        self.config().shard
    }

    fn delivery(
        &self,
        links: &L,
        destination: u32,
        nonce: u64,
        reference: u64,
    ) -> Result<Option<Delivery>, ChainError> {
        next_from(links, self, destination, nonce, reference)
    }
}

/// Messages of a shard this node does not hold, fetched from peers that do, each already
/// checked against the crosslinks ([`check_deliveries`]); members check them again in every
/// block that takes them.
#[derive(Clone, Debug, Default)]
pub struct RemoteOutbox {
    pub shard: u32,
    /// In nonce order.
    pub deliveries: Vec<Delivery>,
}

impl<L: Crosslinks> Outbox<L> for RemoteOutbox {
    fn shard(&self) -> u32 {
        self.shard
    }

    fn delivery(
        &self,
        _: &L,
        destination: u32,
        nonce: u64,
        reference: u64,
    ) -> Result<Option<Delivery>, ChainError> {
        Ok(self
            .deliveries
            .iter()
            .find(|d| d.message.destination == destination && d.message.nonce == nonce)
            .filter(|d| d.crosslinked_at <= reference)
            .cloned())
    }
}

/// The messages `source` sent to `destination` from nonce `from` on, with their proofs, as
/// far as they are crosslinked (at most `max`): what a node serves to peers that do not hold
/// `source`.
pub fn outbox_from(
    links: &impl Crosslinks,
    source: &ShardChain,
    destination: u32,
    from: u64,
    max: usize,
) -> Result<Vec<Delivery>, ChainError> {
    let mut out = Vec::new();
    while out.len() < max {
        match next_from(
            links,
            source,
            destination,
            from + out.len() as u64,
            u64::MAX,
        )? {
            Some(delivery) => out.push(delivery),
            None => break,
        }
    }
    Ok(out)
}

/// Message `nonce` from `source` to `destination`, with its proof, if it is sent and its block
/// is crosslinked at or below `reference`.
fn next_from(
    links: &impl Crosslinks,
    source: &ShardChain,
    destination: u32,
    nonce: u64,
    reference: u64,
) -> Result<Option<Delivery>, ChainError> {
    let store = source.store();
    let Some(id) = block::outbox_entry(store, destination, nonce)? else {
        return Ok(None);
    };
    let (number, index) = block::sent_at(store, &id)?.ok_or(ChainError::Corrupt(0))?;
    let Some(link) = links.crosslinked(source.config().shard, number)? else {
        return Ok(None);
    };
    if link.beacon_height > reference {
        return Ok(None);
    }
    let messages = block::get(store, number)?.ok_or(ChainError::Corrupt(number))?;
    let ids: Vec<B256> = messages.sent.iter().map(Message::id).collect();
    let message = messages
        .sent
        .get(index as usize)
        .cloned()
        .ok_or(ChainError::Corrupt(number))?;
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

/// Checks every delivery of a block of shard `shard` (of `shard_count`) that references beacon
/// height `reference`; the error names the first that fails and why.
pub fn check_deliveries(
    links: &impl Crosslinks,
    deliveries: &[Delivery],
    shard: u32,
    shard_count: u32,
    reference: u64,
) -> Result<(), ChainError> {
    for (index, delivery) in deliveries.iter().enumerate() {
        let link = links.crosslinked(delivery.message.source, delivery.source_height)?;
        check_delivery(delivery, shard, shard_count, reference, link)
            .map_err(|reason| ChainError::InvalidProposal(format!("delivery {index}: {reason}")))?;
    }
    Ok(())
}
