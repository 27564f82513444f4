//! Block sync's unit and its check. A peer serves each final block with the certificate that
//! made it final; a syncing node executes nothing until the blocks link up to a certified
//! block and the certificate verifies against the validator set of that block's epoch. So one
//! peer is enough, honest or not: it cannot make this node accept a block the validators did
//! not finalize.
//!
//! Encoding of one served block: `certified height (8, BE) ‖ certificate length (4, BE) ‖
//! certificate (only at the certified height) ‖ wire block`.

use alloy_primitives::B256;
use kaimeng_consensus::codec::decode_certificate;
use kaimeng_consensus::{Digest, FinalityClaim, FinalityError, ValidatorSet, verify_finality};
use kaimeng_shards::StoredBlock;
use kaimeng_shards::wire::{self, WireBlock};

use super::crypto::SuiteVerifier;

/// A final block as block sync delivers it, beacon or shard.
pub struct Served<B> {
    pub block: B,
    pub number: u64,
    pub parent: B256,
    pub hash: B256,
    /// The block whose certificate makes this one final (itself or a descendant); 0 when the
    /// serving node kept no certificate.
    pub certified: u64,
    /// The encoded certificate, present at the certified height only.
    pub certificate: Vec<u8>,
}

/// A shard block as block sync delivers it.
pub type SyncedBlock = Served<WireBlock>;

/// Why a sync answer was refused.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("undecodable block: {0}")]
    Decode(String),
    #[error("the peer has no certificate for block {0}")]
    Uncertified(u64),
    #[error("the answer is empty")]
    Empty,
    #[error("block {number} points to certified block {certified}, which is not in the answer")]
    Incomplete { number: u64, certified: u64 },
    #[error("blocks do not link up to the certified block {0}")]
    Unlinked(u64),
    #[error("certified block {certified} is past the end of epoch {epoch} (height {last})")]
    PastEpoch {
        certified: u64,
        epoch: u64,
        last: u64,
    },
    #[error("undecodable certificate of block {certified}: {reason}")]
    BadCertificate { certified: u64, reason: String },
    #[error("certificate of block {certified} does not verify: {error}")]
    NotFinal {
        certified: u64,
        error: FinalityError,
    },
}

/// Encodes a final block (`block`, the chain's encoding of block `number`) for a peer that
/// syncs.
pub fn encode(number: u64, block: &[u8], certificate: Option<(u64, Vec<u8>)>) -> Vec<u8> {
    let (certified, certificate) = match certificate {
        Some((certified, certificate)) if certified == number => (certified, certificate),
        Some((certified, _)) => (certified, Vec::new()),
        None => (0, Vec::new()),
    };
    let mut out = Vec::new();
    out.extend_from_slice(&certified.to_be_bytes());
    out.extend_from_slice(&(certificate.len() as u32).to_be_bytes());
    out.extend_from_slice(&certificate);
    out.extend_from_slice(block);
    out
}

/// Encodes a final shard block for a peer that syncs.
pub fn encode_shard(block: &StoredBlock, certificate: Option<(u64, Vec<u8>)>) -> Vec<u8> {
    encode(block.number(), &wire::encode_block(block), certificate)
}

/// Splits a served block from untrusted bytes: certified height, certificate, block bytes.
pub fn split(bytes: &[u8]) -> Result<(u64, Vec<u8>, &[u8]), SyncError> {
    let short = || SyncError::Decode("answer ends early".into());
    let certified = u64::from_be_bytes(bytes.get(..8).ok_or_else(short)?.try_into().expect("8"));
    let len = u32::from_be_bytes(bytes.get(8..12).ok_or_else(short)?.try_into().expect("4"));
    let end = 12usize.checked_add(len as usize).ok_or_else(short)?;
    let certificate = bytes.get(12..end).ok_or_else(short)?.to_vec();
    Ok((certified, certificate, &bytes[end..]))
}

/// Decodes a served shard block from untrusted bytes.
pub fn decode(bytes: &[u8], chain_id: u64) -> Result<SyncedBlock, SyncError> {
    let (certified, certificate, block) = split(bytes)?;
    let block = wire::decode_block(block, chain_id)
        .map_err(|error| SyncError::Decode(error.to_string()))?;
    Ok(Served {
        number: block.header.number,
        parent: block.header.parent_hash,
        hash: block.header.hash_slow(),
        block,
        certified,
        certificate,
    })
}

/// One epoch's validators as a syncing node knows them from its finalized state.
pub struct EpochValidators<'a> {
    pub namespace: &'a [u8],
    pub epoch: u64,
    /// The epoch's last height.
    pub last_height: u64,
    pub validators: &'a ValidatorSet,
    pub verifier: &'a SuiteVerifier,
}

/// How many of `blocks` (which follow the block `head`) are proven final: the blocks up to the
/// first certified one, after its certificate verified under `epoch`. Never zero on success.
pub fn certified_prefix<B>(
    blocks: &[Served<B>],
    head: B256,
    epoch: &EpochValidators<'_>,
) -> Result<usize, SyncError> {
    let first = blocks.first().ok_or(SyncError::Empty)?;
    let number = first.number;
    if first.certified == 0 || first.certified < number {
        return Err(SyncError::Uncertified(number));
    }
    let certified = first.certified;
    let Some(end) = blocks.iter().position(|b| b.number == certified) else {
        return Err(SyncError::Incomplete { number, certified });
    };
    if certified > epoch.last_height {
        return Err(SyncError::PastEpoch {
            certified,
            epoch: epoch.epoch,
            last: epoch.last_height,
        });
    }
    let mut parent = head;
    for block in &blocks[..=end] {
        if block.parent != parent {
            return Err(SyncError::Unlinked(certified));
        }
        parent = block.hash;
    }
    let certificate = decode_certificate(&blocks[end].certificate).map_err(|error| {
        SyncError::BadCertificate {
            certified,
            reason: error.to_string(),
        }
    })?;
    let claim = FinalityClaim {
        epoch: epoch.epoch,
        height: certified,
        payload: Digest(parent.0),
    };
    verify_finality(
        &certificate,
        claim,
        epoch.namespace,
        epoch.validators,
        epoch.verifier,
    )
    .map_err(|error| SyncError::NotFinal { certified, error })?;
    Ok(end + 1)
}

#[cfg(test)]
#[path = "sync_tests.rs"]
mod tests;
