//! A block as it travels between nodes (proposals, block sync): the header and the
//! transactions' EIP-2718 bytes. Senders are not sent: the receiver recovers them (in
//! parallel), so a peer cannot attribute a transaction to the wrong account.
//!
//! Layout: `header length (4, BE) ‖ header RLP ‖ deliveries length (4, BE) ‖ deliveries ‖
//! { tx length (4, BE) ‖ EIP-2718 bytes }*`. The deliveries are the cross-shard messages the
//! block takes (`crate::crossshard::commitment::encode_deliveries`).

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
}

/// A decoded block: header and transactions with recovered senders.
pub struct WireBlock {
    pub header: Header,
    pub deliveries: Vec<Delivery>,
    pub txs: Vec<Arc<ShardTx>>,
}

pub fn encode_block(block: &StoredBlock) -> Vec<u8> {
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
        out.extend_from_slice(&(tx.encoded.len() as u32).to_be_bytes());
        out.extend_from_slice(&tx.encoded);
    }
    out
}

/// Decodes a peer's block, checking every transaction's encoding, chain id and signature.
pub fn decode_block(bytes: &[u8], chain_id: u64) -> Result<WireBlock, WireError> {
    decode_block_with(bytes, chain_id, |hashes| vec![None; hashes.len()])
}

/// Like [`decode_block`], but asks `known` (given every transaction's hash, in order) for
/// transactions already decoded, e.g. pooled ones, instead of recovering their senders again.
pub fn decode_block_with(
    bytes: &[u8],
    chain_id: u64,
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
    let mut raws = Vec::new();
    while !rest.is_empty() {
        let offset = bytes.len() - rest.len();
        let (raw, tail) = take_chunk(rest, offset)?;
        raws.push(Bytes::copy_from_slice(raw));
        rest = tail;
    }
    let hashes: Vec<B256> = raws.par_iter().map(keccak256).collect();
    let mut found = known(&hashes);
    // A short answer means "not known" for the rest, never a shorter block.
    found.resize(raws.len(), None);
    let txs = raws
        .par_iter()
        .zip(found)
        .enumerate()
        .map(|(index, (raw, found))| {
            if let Some(tx) = found.filter(|tx| tx.encoded == *raw) {
                return Ok(tx);
            }
            ShardTx::decode(raw, chain_id)
                .map(Arc::new)
                .map_err(|e| WireError::Transaction {
                    index,
                    reason: e.to_string(),
                })
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
