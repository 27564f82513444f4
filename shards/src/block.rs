//! Blocks as the shard stores and serves them: sealed headers, bodies (transactions with their
//! senders) and receipts, with their compact storage encodings.

use std::sync::Arc;

use alloy_consensus::{Header, ReceiptEnvelope, Transaction};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{Address, B256, U256};
use alloy_rlp::{Decodable, Encodable};

use crate::tx::ShardTx;

/// A header with its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedHeader {
    pub header: Header,
    pub hash: B256,
}

impl SealedHeader {
    pub fn seal(header: Header) -> Self {
        let hash = header.hash_slow();
        Self { header, hash }
    }

    pub fn number(&self) -> u64 {
        self.header.number
    }

    /// `hash ‖ RLP(header)`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.hash.to_vec();
        self.header.encode(&mut out);
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let hash = B256::from_slice(bytes.get(..32)?);
        let header = Header::decode(&mut &bytes[32..]).ok()?;
        Some(Self { header, hash })
    }
}

/// A receipt with what Ethereum's RPC reports beside it.
#[derive(Clone, Debug)]
pub struct StoredReceipt {
    pub envelope: ReceiptEnvelope,
    pub gas_used: u64,
    pub contract_address: Option<Address>,
}

/// A finalized block with everything the RPC serves about it.
#[derive(Clone, Debug)]
pub struct StoredBlock {
    pub header: SealedHeader,
    pub txs: Vec<Arc<ShardTx>>,
    pub receipts: Vec<StoredReceipt>,
    /// Fee shares paid from the treasury before the first transaction: the system changes
    /// execution applied, which a trace must apply again.
    pub payouts: Vec<(Address, U256)>,
    /// Cross-shard messages taken (before the transactions, after the payouts) and sent.
    pub cross_shard: crate::crossshard::BlockMessages,
}

impl StoredBlock {
    pub fn number(&self) -> u64 {
        self.header.number()
    }

    pub fn hash(&self) -> B256 {
        self.header.hash
    }
}

/// Body: per transaction `sender (20) ‖ length (4) ‖ EIP-2718 bytes`.
pub fn encode_body(txs: &[Arc<ShardTx>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(txs.iter().map(|t| 24 + t.encoded.len()).sum());
    for tx in txs {
        out.extend_from_slice(tx.sender.as_slice());
        out.extend_from_slice(&(tx.encoded.len() as u32).to_be_bytes());
        out.extend_from_slice(&tx.encoded);
    }
    out
}

pub fn decode_body(mut bytes: &[u8]) -> Option<Vec<Arc<ShardTx>>> {
    let mut txs = Vec::new();
    while !bytes.is_empty() {
        let sender = Address::from_slice(bytes.get(..20)?);
        let len = u32::from_be_bytes(bytes.get(20..24)?.try_into().ok()?) as usize;
        let raw = bytes.get(24..24 + len)?;
        txs.push(Arc::new(ShardTx::from_stored(raw, sender).ok()?));
        bytes = &bytes[24 + len..];
    }
    Some(txs)
}

/// Payouts: per payout `recipient (20) ‖ amount (32, BE)`.
pub fn encode_payouts(payouts: &[(Address, U256)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payouts.len() * 52);
    for (recipient, amount) in payouts {
        out.extend_from_slice(recipient.as_slice());
        out.extend_from_slice(&amount.to_be_bytes::<32>());
    }
    out
}

pub fn decode_payouts(bytes: &[u8]) -> Option<Vec<(Address, U256)>> {
    if !bytes.len().is_multiple_of(52) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(52)
            .map(|c| (Address::from_slice(&c[..20]), U256::from_be_slice(&c[20..])))
            .collect(),
    )
}

/// Receipts: per receipt `length (4) ‖ EIP-2718 bytes`.
pub fn encode_receipts(receipts: &[StoredReceipt]) -> Vec<u8> {
    let mut out = Vec::new();
    for receipt in receipts {
        let encoded = receipt.envelope.encoded_2718();
        out.extend_from_slice(&(encoded.len() as u32).to_be_bytes());
        out.extend_from_slice(&encoded);
    }
    out
}

/// Decodes receipts and derives per-transaction gas and created addresses from the body.
pub fn decode_receipts(mut bytes: &[u8], txs: &[Arc<ShardTx>]) -> Option<Vec<StoredReceipt>> {
    let mut out = Vec::with_capacity(txs.len());
    let mut previous_cumulative = 0;
    for tx in txs {
        let len = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
        let envelope = ReceiptEnvelope::decode_2718(&mut bytes.get(4..4 + len)?).ok()?;
        bytes = &bytes[4 + len..];
        let cumulative = envelope.cumulative_gas_used();
        let contract_address =
            (tx.envelope.is_create() && envelope.status()).then(|| tx.sender.create(tx.nonce()));
        out.push(StoredReceipt {
            envelope,
            // Cumulative gas never decreases; a record where it does is corrupt.
            gas_used: cumulative.checked_sub(previous_cumulative)?,
            contract_address,
        });
        previous_cumulative = cumulative;
    }
    bytes.is_empty().then_some(out)
}
