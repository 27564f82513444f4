//! A block as it travels between nodes (proposals, block sync): the header and the
//! transactions' EIP-2718 bytes. Senders are not sent: the receiver recovers them (in
//! parallel), so a peer cannot attribute a transaction to the wrong account.
//!
//! Layout: `header length (4, BE) ‖ header RLP ‖ deliveries length (4, BE) ‖ deliveries ‖
//! { tx length (4, BE) ‖ EIP-2718 bytes }*`. The deliveries are the cross-shard messages the
//! block takes (`crate::crossshard::commitment::encode_deliveries`).
//!
//! A proposal ([`encode_proposal`]) names each transaction of at least [`NAMED_TX_BYTES`] by
//! its hash instead (`0x8000_0020 (4, BE) ‖ hash (32)`): its members already got it as a
//! transaction, and the receiver completes the body from its pool or a peer's (ADR 0117). A
//! block served by block sync always carries every transaction.

use std::sync::Arc;

use alloy_consensus::Header;
use alloy_primitives::{B256, Bytes, keccak256};
use alloy_rlp::{Decodable, Encodable};
use rayon::prelude::*;

use crate::block::StoredBlock;
use crate::crossshard::Delivery;
use crate::crossshard::commitment::{decode_deliveries, encode_deliveries};
use crate::tx::ShardTx;

/// Why a block from a peer could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("block bytes end early at byte {0}")]
    Truncated(usize),
    #[error("block header is not valid RLP: {0}")]
    Header(String),
    #[error("the block's cross-shard deliveries are invalid: {0}")]
    Deliveries(String),
    #[error("transaction {index} of the block is invalid: {reason}")]
    Transaction { index: usize, reason: String },
    #[error("the block names {} transactions this node does not hold", .0.len())]
    Missing(Vec<B256>),
}

/// A proposal names a transaction this long or longer by its hash (ADR 0117): rollup
/// verifications and decision steps are hundreds of KB, transfers and calls well below.
pub const NAMED_TX_BYTES: usize = 16 * 1024;

/// Most transactions a proposal may name: as many as fit a block's bytes
/// (`crate::executor::MAX_BLOCK_TX_BYTES`) at the smallest named size. A body naming more is
/// refused before anything is looked up or fetched for it.
pub const MAX_NAMED_TXS: usize = crate::executor::MAX_BLOCK_TX_BYTES / NAMED_TX_BYTES;

/// The length word of a named transaction: the flag and the hash's length. No transaction is
/// that long (`crate::tx::MAX_TX_BYTES`), so it never reads as one.
const NAMED: u32 = 0x8000_0020;

/// A transaction in a block's bytes: carried, or named by its hash.
enum Entry {
    Carried(Bytes),
    Named(B256),
}

/// A decoded block: header and transactions with recovered senders.
pub struct WireBlock {
    pub header: Header,
    pub deliveries: Vec<Delivery>,
    pub txs: Vec<Arc<ShardTx>>,
}

/// The block with every transaction (block sync, storage of kept proposals).
pub fn encode_block(block: &StoredBlock) -> Vec<u8> {
    encode(block, usize::MAX)
}

/// The block as its proposer gossips it: transactions of `name_from` bytes or more named by
/// their hashes ([`NAMED_TX_BYTES`] on the network).
pub fn encode_proposal(block: &StoredBlock, name_from: usize) -> Vec<u8> {
    encode(block, name_from)
}

fn encode(block: &StoredBlock, name_from: usize) -> Vec<u8> {
    let mut header = Vec::new();
    block.header.header.encode(&mut header);
    let body: usize = block.txs.iter().map(|t| 4 + t.encoded.len()).sum();
    let mut out = Vec::with_capacity(4 + header.len() + body);
    out.extend_from_slice(&(header.len() as u32).to_be_bytes());
    out.extend_from_slice(&header);
    let deliveries = encode_deliveries(&block.cross_shard.deliveries);
    out.extend_from_slice(&(deliveries.len() as u32).to_be_bytes());
    out.extend_from_slice(&deliveries);
    for tx in &block.txs {
        if tx.encoded.len() >= name_from {
            out.extend_from_slice(&NAMED.to_be_bytes());
            out.extend_from_slice(tx.hash.as_slice());
        } else {
            out.extend_from_slice(&(tx.encoded.len() as u32).to_be_bytes());
            out.extend_from_slice(&tx.encoded);
        }
    }
    out
}

/// Decodes a peer's block, checking every transaction's encoding, chain id and signature.
/// Every transaction must be carried.
pub fn decode_block(bytes: &[u8], chain_id: u64) -> Result<WireBlock, WireError> {
    decode(bytes, chain_id, false, |hashes| vec![None; hashes.len()])
}

/// Like [`decode_block`], but asks `known` (given every transaction's hash, in order) for
/// transactions already decoded, e.g. pooled ones, instead of recovering their senders again.
pub fn decode_block_with(
    bytes: &[u8],
    chain_id: u64,
    known: impl FnOnce(&[B256]) -> Vec<Option<Arc<ShardTx>>>,
) -> Result<WireBlock, WireError> {
    decode(bytes, chain_id, false, known)
}

/// Decodes a proposal ([`encode_proposal`]): like [`decode_block_with`], and a named
/// transaction is taken from `known`. [`WireError::Missing`] lists those `known` lacks.
pub fn decode_proposal_with(
    bytes: &[u8],
    chain_id: u64,
    known: impl FnOnce(&[B256]) -> Vec<Option<Arc<ShardTx>>>,
) -> Result<WireBlock, WireError> {
    decode(bytes, chain_id, true, known)
}

fn decode(
    bytes: &[u8],
    chain_id: u64,
    named_allowed: bool,
    known: impl FnOnce(&[B256]) -> Vec<Option<Arc<ShardTx>>>,
) -> Result<WireBlock, WireError> {
    let (mut header_bytes, rest) = take_chunk(bytes, 0)?;
    let header = Header::decode(&mut header_bytes).map_err(|e| WireError::Header(e.to_string()))?;
    if !header_bytes.is_empty() {
        // One encoding per block: the chunk is exactly the header's RLP.
        return Err(WireError::Header(format!(
            "{} trailing bytes after the header",
            header_bytes.len()
        )));
    }
    let (deliveries, mut rest) = take_chunk(rest, bytes.len() - rest.len())?;
    let deliveries = decode_deliveries(deliveries).map_err(WireError::Deliveries)?;
    let mut entries = Vec::new();
    let mut named = 0;
    while !rest.is_empty() {
        let offset = bytes.len() - rest.len();
        if rest.get(..4) == Some(&NAMED.to_be_bytes()[..]) {
            if !named_allowed {
                return Err(WireError::Transaction {
                    index: entries.len(),
                    reason: "named by its hash in a block that must carry it".into(),
                });
            }
            let hash = rest.get(4..36).ok_or(WireError::Truncated(offset + 4))?;
            named += 1;
            if named > MAX_NAMED_TXS {
                return Err(WireError::Transaction {
                    index: entries.len(),
                    reason: format!("more than {MAX_NAMED_TXS} named transactions"),
                });
            }
            entries.push(Entry::Named(B256::from_slice(hash)));
            rest = &rest[36..];
            continue;
        }
        let (raw, tail) = take_chunk(rest, offset)?;
        entries.push(Entry::Carried(Bytes::copy_from_slice(raw)));
        rest = tail;
    }
    let hashes: Vec<B256> = entries
        .par_iter()
        .map(|entry| match entry {
            Entry::Carried(raw) => keccak256(raw),
            Entry::Named(hash) => *hash,
        })
        .collect();
    let mut found = known(&hashes);
    // A short answer means "not known" for the rest, never a shorter block.
    found.resize(entries.len(), None);
    let missing: Vec<B256> = entries
        .iter()
        .zip(&found)
        .filter_map(|(entry, found)| match (entry, found) {
            (Entry::Named(hash), found) if found.as_ref().is_none_or(|tx| tx.hash != *hash) => {
                Some(*hash)
            }
            _ => None,
        })
        .collect();
    if !missing.is_empty() {
        return Err(WireError::Missing(missing));
    }
    let txs = entries
        .par_iter()
        .zip(found)
        .enumerate()
        .map(|(index, (entry, found))| match entry {
            Entry::Named(_) => Ok(found.expect("checked above")),
            Entry::Carried(raw) => {
                if let Some(tx) = found.filter(|tx| tx.encoded == *raw) {
                    return Ok(tx);
                }
                ShardTx::decode(raw, chain_id)
                    .map(Arc::new)
                    .map_err(|e| WireError::Transaction {
                        index,
                        reason: e.to_string(),
                    })
            }
        })
        .collect::<Result<_, _>>()?;
    Ok(WireBlock {
        header,
        deliveries,
        txs,
    })
}

fn take_chunk(bytes: &[u8], offset: usize) -> Result<(&[u8], &[u8]), WireError> {
    let len = bytes.get(..4).ok_or(WireError::Truncated(offset))?;
    let len = u32::from_be_bytes(len.try_into().expect("four bytes")) as usize;
    let end = 4usize
        .checked_add(len)
        .ok_or(WireError::Truncated(offset))?;
    let chunk = bytes.get(4..end).ok_or(WireError::Truncated(offset + 4))?;
    Ok((chunk, &bytes[end..]))
}
