//! How a shard block commits to its cross-shard traffic, and the proofs a destination checks.
//!
//! A block's `requests_hash` (EIP-7685's field for requests from execution to consensus) is
//! `keccak256("kaimeng/messages" ‖ outbox root ‖ deliveries digest)`, or Ethereum's empty value
//! when the block neither sends nor takes a message. The outbox root is a binary Merkle tree
//! over the ids of the messages the block sends, in order (leaf `keccak(0x00 ‖ id)`, node
//! `keccak(0x01 ‖ left ‖ right)`, an odd node moves up unchanged). The deliveries digest hashes
//! the ids of the messages the block takes. Crosslinks put every shard header into the beacon
//! chain, so a destination proves a message with a Merkle path to a crosslinked header.

pub use alloy_eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy_primitives::{B256, keccak256};

use super::message::{Message, MessageKind};

/// Beacon blocks a message may wait for delivery after its source block is crosslinked; a
/// destination block that references a later beacon block refunds it instead (ADR 0099).
pub const DELIVERY_WINDOW: u64 = 256;

/// The Merkle path of one message id in a block's outbox, with the deliveries digest that
/// completes the block's commitment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxProof {
    pub index: u32,
    pub count: u32,
    /// Sibling hashes from the leaf up.
    pub siblings: Vec<B256>,
    pub deliveries_digest: B256,
}

/// A message a destination block takes, with where it was sent and its proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub message: Message,
    /// The source block that sent it.
    pub source_height: u64,
    /// The beacon height that crosslinked that source block.
    pub crosslinked_at: u64,
    pub proof: OutboxProof,
}

/// A crosslinked shard header as the beacon chain recorded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrosslinkedHeader {
    pub beacon_height: u64,
    pub requests_hash: B256,
}

fn leaf(id: &B256) -> B256 {
    let mut bytes = [0u8; 33];
    bytes[1..].copy_from_slice(id.as_slice());
    keccak256(bytes)
}

fn node(left: &B256, right: &B256) -> B256 {
    let mut bytes = [0u8; 65];
    bytes[0] = 1;
    bytes[1..33].copy_from_slice(left.as_slice());
    bytes[33..].copy_from_slice(right.as_slice());
    keccak256(bytes)
}

fn next_level(level: &[B256]) -> Vec<B256> {
    level
        .chunks(2)
        .map(|pair| match pair {
            [left, right] => node(left, right),
            [odd] => *odd,
            _ => unreachable!("chunks of two"),
        })
        .collect()
}

/// The outbox root of `ids` (zero when there are none).
pub fn outbox_root(ids: &[B256]) -> B256 {
    let mut level: Vec<B256> = ids.iter().map(leaf).collect();
    if level.is_empty() {
        return B256::ZERO;
    }
    while level.len() > 1 {
        level = next_level(&level);
    }
    level[0]
}

/// The Merkle path of `ids[index]`.
pub fn outbox_path(ids: &[B256], index: usize) -> Vec<B256> {
    let mut level: Vec<B256> = ids.iter().map(leaf).collect();
    let mut at = index;
    let mut siblings = Vec::new();
    while level.len() > 1 {
        let sibling = at ^ 1;
        if sibling < level.len() {
            siblings.push(level[sibling]);
        }
        level = next_level(&level);
        at /= 2;
    }
    siblings
}

/// The root a path leads to from `id` at `index` of `count`, or `None` if its length is wrong.
fn root_from_path(id: &B256, index: u32, count: u32, siblings: &[B256]) -> Option<B256> {
    if index >= count {
        return None;
    }
    let (mut at, mut width) = (index as usize, count as usize);
    let mut hash = leaf(id);
    let mut used = 0;
    while width > 1 {
        let sibling = at ^ 1;
        if sibling < width {
            let other = siblings.get(used)?;
            used += 1;
            hash = if at % 2 == 0 {
                node(&hash, other)
            } else {
                node(other, &hash)
            };
        }
        at /= 2;
        width = width.div_ceil(2);
    }
    (used == siblings.len()).then_some(hash)
}

/// The digest of the messages a block takes.
pub fn deliveries_digest(deliveries: &[Delivery]) -> B256 {
    let mut bytes = Vec::with_capacity(deliveries.len() * 32);
    for delivery in deliveries {
        bytes.extend_from_slice(delivery.message.id().as_slice());
    }
    keccak256(bytes)
}

/// A block's `requests_hash` from its outbox root and deliveries digest.
pub fn block_commitment(outbox_root: B256, deliveries_digest: B256, empty: bool) -> B256 {
    if empty {
        return EMPTY_REQUESTS_HASH;
    }
    let mut bytes = b"kaimeng/messages".to_vec();
    bytes.extend_from_slice(outbox_root.as_slice());
    bytes.extend_from_slice(deliveries_digest.as_slice());
    keccak256(bytes)
}

/// The `requests_hash` of a block that sends `sent` and takes `taken`.
pub fn commitment_of(sent: &[Message], taken: &[Delivery]) -> B256 {
    let ids: Vec<B256> = sent.iter().map(Message::id).collect();
    block_commitment(
        outbox_root(&ids),
        deliveries_digest(taken),
        sent.is_empty() && taken.is_empty(),
    )
}

/// Checks that `delivery` may go into a block of shard `shard` (of `shard_count`) that
/// references beacon height `reference`, given what the beacon chain recorded for its source
/// header (`None`: not crosslinked on this node).
pub fn check_delivery(
    delivery: &Delivery,
    shard: u32,
    shard_count: u32,
    reference: u64,
    crosslinked: Option<CrosslinkedHeader>,
) -> Result<(), String> {
    let message = &delivery.message;
    if message.destination != shard {
        return Err(format!(
            "message for shard {} delivered on shard {shard}",
            message.destination
        ));
    }
    if message.source == shard || message.source >= shard_count {
        return Err(format!(
            "message from shard {}, which cannot send to shard {shard}",
            message.source
        ));
    }
    if message.kind == MessageKind::Call && message.gas_limit > super::MAX_DELIVERY_GAS {
        return Err(format!(
            "message gas limit {} is above {}",
            message.gas_limit,
            super::MAX_DELIVERY_GAS
        ));
    }
    let crosslinked = crosslinked.ok_or_else(|| {
        format!(
            "shard {} block {} is not crosslinked in a final beacon block here",
            message.source, delivery.source_height
        )
    })?;
    if crosslinked.beacon_height != delivery.crosslinked_at {
        return Err(format!(
            "claims crosslink at beacon height {}, but it is at {}",
            delivery.crosslinked_at, crosslinked.beacon_height
        ));
    }
    if crosslinked.beacon_height > reference {
        return Err(format!(
            "source block crosslinked at beacon height {}, after the referenced {reference}",
            crosslinked.beacon_height
        ));
    }
    let proof = &delivery.proof;
    let root = root_from_path(&message.id(), proof.index, proof.count, &proof.siblings)
        .ok_or("the outbox path does not fit its index and count")?;
    if block_commitment(root, proof.deliveries_digest, false) != crosslinked.requests_hash {
        return Err(format!(
            "the message is not in shard {} block {}'s outbox",
            message.source, delivery.source_height
        ));
    }
    Ok(())
}

/// Whether a call message crosslinked at `crosslinked_at` is past its delivery window in a
/// block that references beacon height `reference`.
pub fn expired(message: &Message, crosslinked_at: u64, reference: u64) -> bool {
    message.kind == MessageKind::Call && reference > crosslinked_at.saturating_add(DELIVERY_WINDOW)
}

impl OutboxProof {
    /// The proof of message `index` among the block's sent message ids.
    pub fn build(ids: &[B256], index: usize, deliveries_digest: B256) -> Self {
        Self {
            index: index as u32,
            count: ids.len() as u32,
            siblings: outbox_path(ids, index),
            deliveries_digest,
        }
    }
}

impl Delivery {
    /// `source height (8) ‖ crosslinked at (8) ‖ index (4) ‖ count (4) ‖ deliveries digest (32)
    /// ‖ sibling count (1) ‖ siblings ‖ message`.
    pub fn encode(&self) -> Vec<u8> {
        let proof = &self.proof;
        let mut out = Vec::new();
        out.extend_from_slice(&self.source_height.to_be_bytes());
        out.extend_from_slice(&self.crosslinked_at.to_be_bytes());
        out.extend_from_slice(&proof.index.to_be_bytes());
        out.extend_from_slice(&proof.count.to_be_bytes());
        out.extend_from_slice(proof.deliveries_digest.as_slice());
        out.push(proof.siblings.len() as u8);
        for sibling in &proof.siblings {
            out.extend_from_slice(sibling.as_slice());
        }
        out.extend_from_slice(&self.message.encode());
        out
    }

    pub fn decode_prefix(bytes: &[u8]) -> Result<(Self, &[u8]), String> {
        const HEAD: usize = 8 + 8 + 4 + 4 + 32 + 1;
        if bytes.len() < HEAD {
            return Err("a delivery is cut short".into());
        }
        let siblings = bytes[HEAD - 1] as usize;
        let end = HEAD + siblings * 32;
        let path = bytes
            .get(HEAD..end)
            .ok_or("a delivery's proof is cut short")?;
        let (message, rest) = Message::decode_prefix(&bytes[end..])?;
        let delivery = Self {
            source_height: u64::from_be_bytes(bytes[..8].try_into().expect("8")),
            crosslinked_at: u64::from_be_bytes(bytes[8..16].try_into().expect("8")),
            proof: OutboxProof {
                index: u32::from_be_bytes(bytes[16..20].try_into().expect("4")),
                count: u32::from_be_bytes(bytes[20..24].try_into().expect("4")),
                deliveries_digest: B256::from_slice(&bytes[24..56]),
                siblings: path.chunks_exact(32).map(B256::from_slice).collect(),
            },
            message,
        };
        Ok((delivery, rest))
    }
}

/// A list of deliveries: `count (4) ‖ deliveries`.
pub fn encode_deliveries(deliveries: &[Delivery]) -> Vec<u8> {
    let mut out = (deliveries.len() as u32).to_be_bytes().to_vec();
    for delivery in deliveries {
        out.extend_from_slice(&delivery.encode());
    }
    out
}

pub fn decode_deliveries(bytes: &[u8]) -> Result<Vec<Delivery>, String> {
    let count = bytes
        .get(..4)
        .map(|b| u32::from_be_bytes(b.try_into().expect("4")))
        .ok_or("a delivery list needs its count")?;
    if count as usize > super::MAX_DELIVERIES {
        return Err(format!(
            "{count} deliveries, above the block limit of {}",
            super::MAX_DELIVERIES
        ));
    }
    let mut rest = &bytes[4..];
    let mut out = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let (delivery, tail) = Delivery::decode_prefix(rest)?;
        out.push(delivery);
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(format!("{} bytes after the delivery list", rest.len()));
    }
    Ok(out)
}
