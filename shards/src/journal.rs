//! The journal of transactions submitted to this node's RPC, so that a restart does not lose
//! them: each is written to RocksDB (its write-ahead log) before its hash is returned, and
//! forgotten when it is finalized or leaves the pool. On open, the chain pools them again.
//!
//! Durability follows the store: the write reaches the operating system before the hash is
//! returned, so it survives `kill -9` of the node; with `sync_writes` it also survives power
//! loss. Transactions that reached this node only by gossip are not journaled (their sender's
//! node holds them).

use std::collections::HashSet;
use std::sync::Arc;

use alloy_primitives::{Address, B256};
use kaimeng_l1::storage::WriteBatch;
use kaimeng_l1::{Store, StoreError};
use parking_lot::Mutex;

use crate::schema;
use crate::tx::ShardTx;

pub struct PoolJournal {
    store: Store,
    /// Hashes journaled and not yet forgotten.
    live: Mutex<HashSet<B256>>,
}

impl PoolJournal {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            live: Mutex::new(HashSet::new()),
        }
    }

    /// Whether `hash` is journaled and not yet forgotten.
    pub fn is_live(&self, hash: &B256) -> bool {
        self.live.lock().contains(hash)
    }

    /// Writes `tx` (sender ‖ encoding) under its hash.
    pub fn record(&self, tx: &ShardTx) -> Result<(), StoreError> {
        let mut value = Vec::with_capacity(20 + tx.encoded.len());
        value.extend_from_slice(tx.sender.as_slice());
        value.extend_from_slice(&tx.encoded);
        self.live.lock().insert(tx.hash);
        let mut batch = self.store.batch();
        batch.put(schema::POOL_JOURNAL, tx.hash, value)?;
        self.store.write(batch)
    }

    /// Adds to `batch` the deletion of every journaled transaction among `included`.
    pub fn forget_included(
        &self,
        batch: &mut WriteBatch<'_>,
        included: &[Arc<ShardTx>],
    ) -> Result<(), StoreError> {
        let mut live = self.live.lock();
        if live.is_empty() {
            return Ok(());
        }
        for tx in included {
            if live.remove(&tx.hash) {
                batch.delete(schema::POOL_JOURNAL, tx.hash)?;
            }
        }
        Ok(())
    }

    /// Deletes the journaled ones among `hashes` (they left the pool without being included).
    pub fn forget(&self, hashes: &[B256]) -> Result<(), StoreError> {
        let mut batch = self.store.batch();
        {
            let mut live = self.live.lock();
            for hash in hashes {
                if live.remove(hash) {
                    batch.delete(schema::POOL_JOURNAL, hash)?;
                }
            }
        }
        if batch.is_empty() {
            return Ok(());
        }
        self.store.write(batch)
    }

    /// Every journaled transaction, in nonce order per sender. Entries that no longer decode
    /// are deleted and skipped.
    pub fn load(&self) -> Result<Vec<ShardTx>, StoreError> {
        let mut txs = Vec::new();
        let mut broken = self.store.batch();
        for (key, value) in self.store.scan_prefix(schema::POOL_JOURNAL, &[])? {
            let decoded = (value.len() > 20)
                .then(|| ShardTx::from_stored(&value[20..], Address::from_slice(&value[..20])))
                .and_then(Result::ok);
            match decoded {
                Some(tx) => txs.push(tx),
                None => {
                    tracing::warn!(key = %alloy_primitives::hex::encode(&key), "dropping a pool journal entry that does not decode");
                    broken.delete(schema::POOL_JOURNAL, key)?;
                }
            }
        }
        if !broken.is_empty() {
            self.store.write(broken)?;
        }
        txs.sort_by_key(|tx| (tx.sender, tx.nonce()));
        self.live.lock().extend(txs.iter().map(|tx| tx.hash));
        Ok(txs)
    }
}
