//! Unfinalized block bodies kept on disk (`pending_bodies`, key `number ‖ hash`) and their index
//! by hash (`pending_numbers`: hash → number), written in the same batch as the body. A kept
//! block is found by two point reads and forgotten by two point deletes: neither finding one
//! after a restart nor finalizing scans the column.
//!
//! Data directories written before the index existed have bodies without index entries. On
//! open, [`prepare`] indexes them once (logged) and records that in `meta` (`pending_index`);
//! it also forgets bodies at or below the finalized head left by an earlier run (final or
//! abandoned while that run was down), so that leftovers never pile up.

use alloy_primitives::B256;
use kaimeng_l1::{Store, StoreError, WriteBatch};

use crate::schema::{self, META, META_PENDING_INDEX, PENDING_BODIES, PENDING_NUMBERS};

/// Adds the body of kept block `(number, hash)` and its index entry to `batch`.
pub fn put(
    batch: &mut WriteBatch<'_>,
    number: u64,
    hash: &B256,
    body: &[u8],
) -> Result<(), StoreError> {
    batch.put(PENDING_BODIES, schema::pending_body_key(number, hash), body)?;
    batch.put(PENDING_NUMBERS, hash, number.to_be_bytes())
}

/// Adds the deletion of kept block `(number, hash)`'s body and index entry to `batch`.
pub fn delete(batch: &mut WriteBatch<'_>, number: u64, hash: &B256) -> Result<(), StoreError> {
    batch.delete(PENDING_BODIES, schema::pending_body_key(number, hash))?;
    batch.delete(PENDING_NUMBERS, hash)
}

/// The persisted body of kept block `hash`, if there is one.
pub fn body(store: &Store, hash: &B256) -> Result<Option<Vec<u8>>, StoreError> {
    let Some(number) = store
        .get(PENDING_NUMBERS, hash)?
        .and_then(|v| <[u8; 8]>::try_from(v).ok())
        .map(u64::from_be_bytes)
    else {
        return Ok(None);
    };
    store.get(PENDING_BODIES, schema::pending_body_key(number, hash))
}

/// Run once when a chain opens with finalized head `head`: indexes bodies written before the
/// index existed, and forgets bodies at or below the head.
pub fn prepare(store: &Store, head: u64) -> Result<(), StoreError> {
    let mut batch = store.batch();
    if store.get(META, META_PENDING_INDEX)?.is_none() {
        let mut indexed = 0usize;
        for (key, _) in store.scan_prefix(PENDING_BODIES, &[])? {
            match parse_key(&key) {
                Some((number, hash)) => {
                    batch.put(PENDING_NUMBERS, hash, number.to_be_bytes())?;
                    indexed += 1;
                }
                None => batch.delete(PENDING_BODIES, &key)?,
            }
        }
        batch.put(META, META_PENDING_INDEX, [1])?;
        tracing::info!(
            path = %store.path().display(),
            indexed,
            "indexed the unfinalized block bodies of a data directory written before the index (once)"
        );
    }
    store.write(batch)?;
    let mut batch = store.batch();
    for (hash, number) in store.scan_prefix(PENDING_NUMBERS, &[])? {
        let Some(number) = <[u8; 8]>::try_from(number).ok().map(u64::from_be_bytes) else {
            batch.delete(PENDING_NUMBERS, &hash)?;
            continue;
        };
        if number <= head && hash.len() == 32 {
            delete(&mut batch, number, &B256::from_slice(&hash))?;
        } else if hash.len() != 32 {
            batch.delete(PENDING_NUMBERS, &hash)?;
        }
    }
    if !batch.is_empty() {
        store.write(batch)?;
    }
    Ok(())
}

fn parse_key(key: &[u8]) -> Option<(u64, B256)> {
    if key.len() != 40 {
        return None;
    }
    let number = u64::from_be_bytes(key[..8].try_into().ok()?);
    Some((number, B256::from_slice(&key[8..])))
}
