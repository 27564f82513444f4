//! A block's cross-shard traffic as the shard stores it: the messages it took (with their
//! proofs and outcomes) and the messages it sent, and the indexes that find a message by id
//! or by `(destination, nonce)`.

use alloy_primitives::B256;
use kaimeng_l1::{Store, StoreError, WriteBatch};

use super::commitment::{Delivery, decode_deliveries, encode_deliveries};
use super::deliver::{Outcome, Taken};
use super::message::{Message, decode_messages, encode_messages};
use crate::schema;

/// What a block took and sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockMessages {
    pub deliveries: Vec<Delivery>,
    /// One per delivery, in order.
    pub taken: Vec<Taken>,
    pub sent: Vec<Message>,
}

impl BlockMessages {
    pub fn is_empty(&self) -> bool {
        self.deliveries.is_empty() && self.sent.is_empty()
    }

    /// `deliveries ‖ outcomes ‖ sent messages`.
    pub fn encode(&self) -> Vec<u8> {
        let deliveries = encode_deliveries(&self.deliveries);
        let mut out = (deliveries.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(&deliveries);
        for taken in &self.taken {
            out.extend_from_slice(taken.id.as_slice());
            out.extend_from_slice(&encode_outcome(&taken.outcome));
        }
        out.extend_from_slice(&encode_messages(&self.sent));
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let len = bytes
            .get(..4)
            .map(|b| u32::from_be_bytes(b.try_into().expect("4")) as usize)
            .ok_or("cross-shard record is empty")?;
        let deliveries = decode_deliveries(bytes.get(4..4 + len).ok_or("deliveries cut short")?)?;
        let mut rest = &bytes[4 + len..];
        let mut taken = Vec::with_capacity(deliveries.len());
        for _ in 0..deliveries.len() {
            let id = B256::from_slice(rest.get(..32).ok_or("outcome cut short")?);
            let outcome =
                decode_outcome(rest.get(32..32 + OUTCOME_LEN).ok_or("outcome cut short")?)?;
            taken.push(Taken { id, outcome });
            rest = &rest[32 + OUTCOME_LEN..];
        }
        Ok(Self {
            deliveries,
            taken,
            sent: decode_messages(rest)?,
        })
    }
}

const OUTCOME_LEN: usize = 1 + 8 + 32;

/// `tag (1) ‖ gas used (8) ‖ refund id (32, zero when none)`.
pub fn encode_outcome(outcome: &Outcome) -> [u8; OUTCOME_LEN] {
    let (tag, gas, refund) = match outcome {
        Outcome::Delivered { gas_used } => (0, *gas_used, B256::ZERO),
        Outcome::Failed { gas_used, refund } => (1, *gas_used, *refund),
        Outcome::Expired { refund } => (2, 0, *refund),
        Outcome::Refunded => (3, 0, B256::ZERO),
    };
    let mut out = [0u8; OUTCOME_LEN];
    out[0] = tag;
    out[1..9].copy_from_slice(&gas.to_be_bytes());
    out[9..].copy_from_slice(refund.as_slice());
    out
}

pub fn decode_outcome(bytes: &[u8]) -> Result<Outcome, String> {
    if bytes.len() != OUTCOME_LEN {
        return Err(format!(
            "an outcome is {OUTCOME_LEN} bytes, got {}",
            bytes.len()
        ));
    }
    let gas_used = u64::from_be_bytes(bytes[1..9].try_into().expect("8"));
    let refund = B256::from_slice(&bytes[9..]);
    Ok(match bytes[0] {
        0 => Outcome::Delivered { gas_used },
        1 => Outcome::Failed { gas_used, refund },
        2 => Outcome::Expired { refund },
        3 => Outcome::Refunded,
        other => return Err(format!("unknown outcome {other}")),
    })
}

fn outbox_key(destination: u32, nonce: u64) -> [u8; 12] {
    let mut key = [0u8; 12];
    key[..4].copy_from_slice(&destination.to_be_bytes());
    key[4..].copy_from_slice(&nonce.to_be_bytes());
    key
}

/// Writes final block `number`'s traffic and its indexes.
pub fn put(
    batch: &mut WriteBatch<'_>,
    number: u64,
    messages: &BlockMessages,
) -> Result<(), StoreError> {
    if messages.is_empty() {
        return Ok(());
    }
    let key = schema::number_key(number);
    batch.put(schema::CROSS_SHARD, key, messages.encode())?;
    for (index, message) in messages.sent.iter().enumerate() {
        let id = message.id();
        let mut location = key.to_vec();
        location.extend_from_slice(&(index as u32).to_be_bytes());
        batch.put(schema::SENT_MESSAGES, id, location)?;
        batch.put(
            schema::OUTBOX,
            outbox_key(message.destination, message.nonce),
            id,
        )?;
    }
    for taken in &messages.taken {
        let mut value = key.to_vec();
        value.extend_from_slice(&encode_outcome(&taken.outcome));
        batch.put(schema::TAKEN_MESSAGES, taken.id, value)?;
    }
    Ok(())
}

/// Final block `number`'s traffic (empty when it had none).
pub fn get(store: &Store, number: u64) -> Result<Option<BlockMessages>, StoreError> {
    match store.get(schema::CROSS_SHARD, schema::number_key(number))? {
        None => Ok(Some(BlockMessages::default())),
        Some(bytes) => Ok(BlockMessages::decode(&bytes).ok()),
    }
}

/// Where message `id` was sent on this shard: `(block, index in its outbox)`.
pub fn sent_at(store: &Store, id: &B256) -> Result<Option<(u64, u32)>, StoreError> {
    Ok(store.get(schema::SENT_MESSAGES, id)?.and_then(|v| {
        let number = u64::from_be_bytes(v.get(..8)?.try_into().ok()?);
        let index = u32::from_be_bytes(v.get(8..12)?.try_into().ok()?);
        Some((number, index))
    }))
}

/// The id of the message this shard sent to `destination` with `nonce`.
pub fn outbox_entry(
    store: &Store,
    destination: u32,
    nonce: u64,
) -> Result<Option<B256>, StoreError> {
    Ok(store
        .get(schema::OUTBOX, outbox_key(destination, nonce))?
        .filter(|v| v.len() == 32)
        .map(|v| B256::from_slice(&v)))
}

/// Where and how message `id` was taken on this shard.
pub fn taken_at(store: &Store, id: &B256) -> Result<Option<(u64, Outcome)>, StoreError> {
    Ok(store.get(schema::TAKEN_MESSAGES, id)?.and_then(|v| {
        let number = u64::from_be_bytes(v.get(..8)?.try_into().ok()?);
        Some((number, decode_outcome(v.get(8..)?).ok()?))
    }))
}
