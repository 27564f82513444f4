//! A cross-shard message: what it says, its byte encoding and its id, and where the cross-shard
//! account keeps its per-shard counters.

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};

use super::CROSS_SHARD_ADDRESS;

/// What a message asks its destination to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// Call `to` with `value` and `data` (a plain transfer when `to` has no code).
    Call = 0,
    /// Give `value` back to `to`, the sender of a message that failed or expired. A refund
    /// runs no code, so it cannot fail, and it never expires.
    Refund = 1,
}

/// One message from shard `source` to shard `destination`. `nonce` counts the messages from
/// `source` to `destination`: the destination takes them in that order, each exactly once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub kind: MessageKind,
    pub source: u32,
    pub destination: u32,
    pub nonce: u64,
    /// The account that sent it (for a refund, the cross-shard account).
    pub from: Address,
    pub to: Address,
    pub value: U256,
    /// Gas for the call on the destination, paid on the source when sent.
    pub gas_limit: u64,
    /// Call data (for a refund, the id of the message it refunds).
    pub data: Bytes,
}

/// Bytes before the data: kind, source, destination, nonce, from, to, value, gas, data length.
const FIXED: usize = 1 + 4 + 4 + 8 + 20 + 20 + 32 + 8 + 4;

impl Message {
    /// `kind (1) ‖ source (4) ‖ destination (4) ‖ nonce (8) ‖ from (20) ‖ to (20) ‖ value (32)
    /// ‖ gas limit (8) ‖ data length (4) ‖ data`, integers big-endian.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FIXED + self.data.len());
        out.push(self.kind as u8);
        out.extend_from_slice(&self.source.to_be_bytes());
        out.extend_from_slice(&self.destination.to_be_bytes());
        out.extend_from_slice(&self.nonce.to_be_bytes());
        out.extend_from_slice(self.from.as_slice());
        out.extend_from_slice(self.to.as_slice());
        out.extend_from_slice(&self.value.to_be_bytes::<32>());
        out.extend_from_slice(&self.gas_limit.to_be_bytes());
        out.extend_from_slice(&(self.data.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.data);
        out
    }

    /// Decodes one message from the front of `bytes`, returning it and the rest.
    pub fn decode_prefix(bytes: &[u8]) -> Result<(Self, &[u8]), String> {
        if bytes.len() < FIXED {
            return Err(format!(
                "a message needs at least {FIXED} bytes, got {}",
                bytes.len()
            ));
        }
        let kind = match bytes[0] {
            0 => MessageKind::Call,
            1 => MessageKind::Refund,
            other => return Err(format!("unknown message kind {other}")),
        };
        let u32_at = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4"));
        let u64_at = |at: usize| u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8"));
        let len = u32_at(FIXED - 4) as usize;
        let data = bytes
            .get(FIXED..FIXED.saturating_add(len))
            .ok_or_else(|| format!("message data of {len} bytes is cut short"))?;
        let message = Self {
            kind,
            source: u32_at(1),
            destination: u32_at(5),
            nonce: u64_at(9),
            from: Address::from_slice(&bytes[17..37]),
            to: Address::from_slice(&bytes[37..57]),
            value: U256::from_be_slice(&bytes[57..89]),
            gas_limit: u64_at(89),
            data: Bytes::copy_from_slice(data),
        };
        Ok((message, &bytes[FIXED + len..]))
    }

    /// `keccak256("kaimeng/cross-shard" ‖ encoding)`: names the message everywhere.
    pub fn id(&self) -> B256 {
        let mut bytes = b"kaimeng/cross-shard".to_vec();
        bytes.extend_from_slice(&self.encode());
        keccak256(bytes)
    }

    /// The refund of this message: its value back to its sender, on its source shard.
    pub fn refund(&self, nonce: u64) -> Self {
        Self {
            kind: MessageKind::Refund,
            source: self.destination,
            destination: self.source,
            nonce,
            from: CROSS_SHARD_ADDRESS,
            to: self.from,
            value: self.value,
            gas_limit: 0,
            data: Bytes::copy_from_slice(self.id().as_slice()),
        }
    }

    /// The id of the message a refund gives back (`None` for a call).
    pub fn refunds(&self) -> Option<B256> {
        (self.kind == MessageKind::Refund && self.data.len() == 32)
            .then(|| B256::from_slice(&self.data))
    }
}

/// A list of messages: `count (4) ‖ messages`.
pub fn encode_messages(messages: &[Message]) -> Vec<u8> {
    let mut out = (messages.len() as u32).to_be_bytes().to_vec();
    for message in messages {
        out.extend_from_slice(&message.encode());
    }
    out
}

pub fn decode_messages(bytes: &[u8]) -> Result<Vec<Message>, String> {
    let count = bytes
        .get(..4)
        .map(|b| u32::from_be_bytes(b.try_into().expect("4")))
        .ok_or("a message list needs its count")?;
    let mut rest = &bytes[4..];
    let mut out = Vec::with_capacity((count as usize).min(1024));
    for _ in 0..count {
        let (message, tail) = Message::decode_prefix(rest)?;
        out.push(message);
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(format!("{} bytes after the message list", rest.len()));
    }
    Ok(out)
}

/// The cross-shard account's slot counting messages sent to `destination`.
pub fn outbox_slot(destination: u32) -> U256 {
    slot(b"outbox", destination)
}

/// The cross-shard account's slot counting messages taken from `source`.
pub fn inbox_slot(source: u32) -> U256 {
    slot(b"inbox", source)
}

fn slot(name: &[u8], shard: u32) -> U256 {
    let mut bytes = name.to_vec();
    bytes.extend_from_slice(&shard.to_be_bytes());
    U256::from_be_bytes(keccak256(bytes).0)
}
