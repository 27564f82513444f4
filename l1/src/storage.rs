//! Durable storage on RocksDB: one database per chain, column families named by the chain's
//! schema, atomic write batches, and a clear error when another process holds the directory.
//!
//! The store knows nothing of what it holds; schemas (key layouts, encodings) belong to the
//! chains that use it. A block is committed as one [`WriteBatch`], so a crash (even `kill -9`)
//! leaves either the whole block or none of it: RocksDB's write-ahead log makes every completed
//! batch durable against process death, and `sync` batches also against power loss.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, DB, DBCompressionType, Direction, IteratorMode, Options,
};

/// Errors from the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "data directory {path} is in use by another process (its RocksDB lock is held); stop that process or choose another --data-dir"
    )]
    Locked { path: PathBuf },
    #[error("cannot open data directory {path}: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error(
        "data directory {path} was written by an older Kaimeng and this version cannot read it: {reason}"
    )]
    Incompatible { path: PathBuf, reason: String },
    #[error("unknown column family {0:?}")]
    UnknownColumn(&'static str),
    #[error("storage failure: {0}")]
    Db(#[from] rocksdb::Error),
}

/// A RocksDB database with a fixed set of column families.
#[derive(Clone)]
pub struct Store {
    db: Arc<DB>,
    path: PathBuf,
    sync_writes: bool,
    /// Columns every write to which is fsynced, whatever `sync_writes` says.
    synced_columns: Arc<[&'static str]>,
}

/// Tuning knobs for opening a [`Store`].
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Shared LRU block cache size in bytes.
    pub block_cache_bytes: usize,
    /// fsync every batch committed by [`Store::write`] (survives power loss, not just process
    /// death). [`Store::write_synced`] fsyncs whatever this says.
    pub sync_writes: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            block_cache_bytes: 256 << 20,
            sync_writes: false,
        }
    }
}

/// An atomic group of writes, applied all-or-nothing by [`Store::write`].
///
/// Writes are collected and handed to RocksDB sorted by column and key (a stable sort, so a
/// later write of the same key still wins): each column's memtable then inserts in ascending
/// order, reusing its last insertion point instead of searching the skip list from the top for
/// every key of a block.
pub struct WriteBatch<'a> {
    store: &'a Store,
    ops: Vec<BatchOp<'a>>,
    /// Whether the batch writes to one of the store's synced columns.
    touches_synced_column: bool,
}

struct BatchOp<'a> {
    column: &'static str,
    /// The column's handle, looked up once when the write is added.
    cf: &'a ColumnFamily,
    key: Vec<u8>,
    /// `None` deletes the key.
    value: Option<Vec<u8>>,
}

impl<'a> WriteBatch<'a> {
    pub fn put(
        &mut self,
        column: &'static str,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<(), StoreError> {
        self.note_column(column);
        self.ops.push(BatchOp {
            column,
            cf: self.store.cf(column)?,
            key: key.as_ref().to_vec(),
            value: Some(value.as_ref().to_vec()),
        });
        Ok(())
    }

    pub fn delete(
        &mut self,
        column: &'static str,
        key: impl AsRef<[u8]>,
    ) -> Result<(), StoreError> {
        self.note_column(column);
        self.ops.push(BatchOp {
            column,
            cf: self.store.cf(column)?,
            key: key.as_ref().to_vec(),
            value: None,
        });
        Ok(())
    }

    fn note_column(&mut self, column: &'static str) {
        if !self.touches_synced_column {
            self.touches_synced_column = self.store.synced_columns.contains(&column);
        }
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The RocksDB batch, in column-then-key order.
    fn into_sorted(mut self) -> rocksdb::WriteBatch {
        self.ops
            .sort_by(|a, b| a.column.cmp(b.column).then_with(|| a.key.cmp(&b.key)));
        let mut batch = rocksdb::WriteBatch::default();
        for op in &self.ops {
            match &op.value {
                Some(value) => batch.put_cf(op.cf, &op.key, value),
                None => batch.delete_cf(op.cf, &op.key),
            }
        }
        batch
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path` with the given column families.
    pub fn open(
        path: &Path,
        columns: &[&'static str],
        options: &StoreOptions,
    ) -> Result<Self, StoreError> {
        std::fs::create_dir_all(path).map_err(|e| StoreError::Open {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let cache = Cache::new_lru_cache(options.block_cache_bytes);
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&cache);
        table.set_bloom_filter(10.0, false);
        table.set_cache_index_and_filter_blocks(true);
        let mut cf_opts = Options::default();
        cf_opts.set_block_based_table_factory(&table);
        cf_opts.set_compression_type(DBCompressionType::Lz4);
        let mut db_opts = cf_opts.clone();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.increase_parallelism(2);
        let descriptors = columns
            .iter()
            .map(|name| rocksdb::ColumnFamilyDescriptor::new(*name, cf_opts.clone()));
        let db = DB::open_cf_descriptors(&db_opts, path, descriptors)
            .map_err(|e| classify_open_error(path, e))?;
        Ok(Self {
            db: Arc::new(db),
            path: path.to_owned(),
            sync_writes: options.sync_writes,
            synced_columns: Arc::new([]),
        })
    }

    /// The column families of the database at `path`; empty when there is none.
    pub fn existing_columns(path: &Path) -> Vec<String> {
        if !path.join("CURRENT").exists() {
            return Vec::new();
        }
        DB::list_cf(&Options::default(), path).unwrap_or_default()
    }

    /// This store with every batch that writes to one of `columns` fsynced, whatever
    /// `sync_writes` says: for records that must survive power loss even where block data
    /// need not, such as a validator's own votes. Set by whoever owns the schema, so every
    /// writer of such a column is covered.
    pub fn with_synced_columns(mut self, columns: &[&'static str]) -> Self {
        self.synced_columns = columns.into();
        self
    }

    /// Whether every write to `column` is fsynced (by `sync_writes` or by the column).
    pub fn syncs_every_write_to(&self, column: &'static str) -> bool {
        self.sync_writes || self.synced_columns.contains(&column)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn cf(&self, column: &'static str) -> Result<&ColumnFamily, StoreError> {
        self.db
            .cf_handle(column)
            .ok_or(StoreError::UnknownColumn(column))
    }

    pub fn get(
        &self,
        column: &'static str,
        key: impl AsRef<[u8]>,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get_cf(self.cf(column)?, key)?)
    }

    /// Point reads of many keys in one call (RocksDB batches the lookups).
    pub fn multi_get(
        &self,
        column: &'static str,
        keys: &[Vec<u8>],
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let cf = self.cf(column)?;
        self.db
            .batched_multi_get_cf(cf, keys, false)
            .into_iter()
            .map(|r| Ok(r?.map(|v| v.to_vec())))
            .collect()
    }

    /// The greatest entry with key `<= key` that shares `prefix` (for "value as of version" reads).
    pub fn get_at_or_before(
        &self,
        column: &'static str,
        prefix: &[u8],
        key: &[u8],
    ) -> Result<Option<(Vec<u8>, Vec<u8>)>, StoreError> {
        let mut iter = self.db.raw_iterator_cf(self.cf(column)?);
        iter.seek_for_prev(key);
        if let (Some(k), Some(v)) = (iter.key(), iter.value()) {
            if k.starts_with(prefix) {
                return Ok(Some((k.to_vec(), v.to_vec())));
            }
        }
        iter.status()?;
        Ok(None)
    }

    /// All entries whose key starts with `prefix`, in key order.
    pub fn scan_prefix(
        &self,
        column: &'static str,
        prefix: &[u8],
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        let iter = self.db.iterator_cf(
            self.cf(column)?,
            IteratorMode::From(prefix, Direction::Forward),
        );
        let mut out = Vec::new();
        for item in iter {
            let (k, v) = item?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    /// Calls `visit` with every entry whose key starts with `prefix`, in key order, without
    /// holding them all in memory (for scans of a whole column).
    pub fn for_each_prefix<E: From<StoreError>>(
        &self,
        column: &'static str,
        prefix: &[u8],
        mut visit: impl FnMut(&[u8], &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut iter = self.db.raw_iterator_cf(self.cf(column)?);
        iter.seek(prefix);
        while let (Some(key), Some(value)) = (iter.key(), iter.value()) {
            if !key.starts_with(prefix) {
                break;
            }
            visit(key, value)?;
            iter.next();
        }
        iter.status().map_err(StoreError::from)?;
        Ok(())
    }

    /// Up to `limit` entries whose key starts with `prefix`, after skipping the first `skip`;
    /// newest (greatest) key first when `newest_first`. For paged listings of an index.
    pub fn page_prefix(
        &self,
        column: &'static str,
        prefix: &[u8],
        newest_first: bool,
        skip: usize,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        self.page_prefix_from(column, prefix, newest_first, None, skip, limit)
    }

    /// [`Store::page_prefix`] starting just past `after` (in the direction of the listing):
    /// the next page of a listing whose last key was `after`, found by one seek however deep.
    pub fn page_prefix_from(
        &self,
        column: &'static str,
        prefix: &[u8],
        newest_first: bool,
        after: Option<&[u8]>,
        skip: usize,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        let mut iter = self.db.raw_iterator_cf(self.cf(column)?);
        if let Some(after) = after {
            if newest_first {
                iter.seek_for_prev(after);
                if iter.key() == Some(after) {
                    iter.prev();
                }
            } else {
                iter.seek(after);
                if iter.key() == Some(after) {
                    iter.next();
                }
            }
        } else if newest_first {
            // Every key under `prefix` sorts before `prefix ‖ 0xff…` of this length.
            let mut last = prefix.to_vec();
            last.extend_from_slice(&[0xff; 96]);
            iter.seek_for_prev(&last);
        } else {
            iter.seek(prefix);
        }
        let mut out = Vec::with_capacity(limit.min(1024));
        let mut seen = 0usize;
        while let (Some(key), Some(value)) = (iter.key(), iter.value()) {
            if !key.starts_with(prefix) || out.len() >= limit {
                break;
            }
            if seen >= skip {
                out.push((key.to_vec(), value.to_vec()));
            }
            seen += 1;
            if newest_first {
                iter.prev();
            } else {
                iter.next();
            }
        }
        iter.status()?;
        Ok(out)
    }

    pub fn batch(&self) -> WriteBatch<'_> {
        WriteBatch {
            store: self,
            ops: Vec::new(),
            touches_synced_column: false,
        }
    }

    /// Applies a batch atomically, fsynced if the store was opened with `sync_writes` or the
    /// batch writes to a synced column ([`Store::with_synced_columns`]).
    pub fn write(&self, batch: WriteBatch<'_>) -> Result<(), StoreError> {
        let sync = self.sync_writes || batch.touches_synced_column;
        self.write_with_sync(batch, sync)
    }

    /// Applies a batch atomically and fsyncs the write-ahead log before returning, whatever
    /// the store's `sync_writes`: for records that must survive power loss even where block
    /// data may not, such as a validator's own votes (a vote lost after it was sent lets the
    /// restarted validator vote twice). Earlier unsynced batches become durable with it.
    pub fn write_synced(&self, batch: WriteBatch<'_>) -> Result<(), StoreError> {
        self.write_with_sync(batch, true)
    }

    fn write_with_sync(&self, batch: WriteBatch<'_>, sync: bool) -> Result<(), StoreError> {
        let mut opts = rocksdb::WriteOptions::default();
        opts.set_sync(sync);
        self.db.write_opt(batch.into_sorted(), &opts)?;
        Ok(())
    }
}

fn classify_open_error(path: &Path, error: rocksdb::Error) -> StoreError {
    let text = error.to_string();
    if text.contains("lock")
        && (text.contains("Resource temporarily unavailable")
            || text.contains("No locks available")
            || text.contains("lock hold"))
    {
        StoreError::Locked {
            path: path.to_owned(),
        }
    } else {
        StoreError::Open {
            path: path.to_owned(),
            reason: text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Store, StoreError, StoreOptions};

    fn store(dir: &std::path::Path) -> Store {
        Store::open(dir, &["a", "b"], &StoreOptions::default()).unwrap()
    }

    #[test]
    fn within_a_batch_the_last_write_of_a_key_wins_although_writes_are_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let mut batch = store.batch();
        batch.put("b", b"z", b"1").unwrap();
        batch.put("a", b"k", b"first").unwrap();
        batch.delete("a", b"k").unwrap();
        batch.put("a", b"j", b"gone").unwrap();
        batch.put("a", b"m", b"old").unwrap();
        batch.delete("a", b"j").unwrap();
        batch.put("a", b"j", b"back").unwrap();
        batch.put("a", b"m", b"new").unwrap();
        batch.put("a", b"c", b"c").unwrap();
        assert_eq!(batch.len(), 9);
        store.write(batch).unwrap();
        assert_eq!(store.get("a", b"k").unwrap(), None);
        assert_eq!(store.get("a", b"j").unwrap().as_deref(), Some(&b"back"[..]));
        assert_eq!(store.get("a", b"m").unwrap().as_deref(), Some(&b"new"[..]));
        assert_eq!(store.get("a", b"c").unwrap().as_deref(), Some(&b"c"[..]));
        assert_eq!(store.get("b", b"z").unwrap().as_deref(), Some(&b"1"[..]));
    }

    /// How many times the write-ahead log was fsynced (RocksDB's DB stats, kept always).
    fn wal_syncs(store: &Store) -> u64 {
        let stats = store
            .db
            .property_value("rocksdb.dbstats")
            .unwrap()
            .expect("DB stats");
        let line = stats
            .lines()
            .find(|l| l.starts_with("Cumulative WAL:"))
            .expect("a WAL line in the DB stats");
        // "Cumulative WAL: 3 writes, 1 syncs, ..."
        let syncs = line
            .split(',')
            .find(|part| part.trim_end().ends_with("syncs"))
            .expect("a sync count");
        syncs.trim().split(' ').next().unwrap().parse().unwrap()
    }

    fn one_put<'a>(store: &'a Store, key: &[u8]) -> super::WriteBatch<'a> {
        let mut batch = store.batch();
        batch.put("a", key, b"v").unwrap();
        batch
    }

    #[test]
    fn write_synced_fsyncs_even_when_the_store_does_not_sync_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        assert_eq!(wal_syncs(&store), 0);
        store.write(one_put(&store, b"unsynced")).unwrap();
        assert_eq!(wal_syncs(&store), 0, "the default here is unsynced");
        store.write_synced(one_put(&store, b"vote")).unwrap();
        assert_eq!(wal_syncs(&store), 1);
        store.write(one_put(&store, b"block")).unwrap();
        assert_eq!(wal_syncs(&store), 1);
        assert!(store.get("a", b"vote").unwrap().is_some());

        let dir = tempfile::tempdir().unwrap();
        let synced = Store::open(
            dir.path(),
            &["a"],
            &StoreOptions {
                sync_writes: true,
                ..StoreOptions::default()
            },
        )
        .unwrap();
        synced.write(one_put(&synced, b"block")).unwrap();
        assert_eq!(wal_syncs(&synced), 1, "sync_writes fsyncs every write");
    }

    #[test]
    fn every_write_to_a_synced_column_is_fsynced_and_no_other() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).with_synced_columns(&["b"]);
        assert!(store.syncs_every_write_to("b"));
        assert!(!store.syncs_every_write_to("a"));
        store.write(one_put(&store, b"block")).unwrap();
        assert_eq!(wal_syncs(&store), 0);
        let mut vote = store.batch();
        vote.put("b", b"vote", b"v").unwrap();
        store.write(vote).unwrap();
        assert_eq!(wal_syncs(&store), 1);
        let mut mixed = one_put(&store, b"block 2");
        mixed.delete("b", b"vote").unwrap();
        store.write(mixed).unwrap();
        assert_eq!(wal_syncs(&store), 2);
        // Clones share the rule.
        let clone = store.clone();
        let mut vote = clone.batch();
        vote.put("b", b"vote 2", b"v").unwrap();
        clone.write(vote).unwrap();
        assert_eq!(wal_syncs(&store), 3);
    }

    #[test]
    fn a_write_to_an_unknown_column_is_refused_when_it_is_added() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let mut batch = store.batch();
        assert!(matches!(
            batch.put("nope", b"k", b"v"),
            Err(StoreError::UnknownColumn("nope"))
        ));
        assert!(batch.is_empty());
    }
}
