//! An in-memory copy of the hot part of the finalized state (accounts, storage, code and tree
//! branches), read before RocksDB.
//!
//! Every transaction reads its sender's account and a few storage slots, and every block reads
//! the tree branches above the keys it changed; those keys were written moments ago and sit in
//! RocksDB's memtable, whose skip-list search was a tenth of a busy node's CPU. The cache holds
//! what the store holds: a miss loads from the store, and a block's writes are applied to the
//! cache right after its store write. Each application starts a new generation, and a value
//! loaded during another generation than the one its miss saw is returned but not kept, so a
//! value from before a block never lands in the cache after that block's writes. Readers never
//! wait for the store write itself.

use alloy_primitives::map::HashMap;
use parking_lot::Mutex;

use crate::commit::WriteOp;
use crate::schema;

/// The columns of the latest state that are cached (all others are read from the store).
const CACHED: [&str; 4] = [
    schema::ACCOUNTS,
    schema::STORAGE,
    schema::CODE,
    schema::TRIE,
];

/// Bytes of keys and values held before the cache starts afresh.
pub const DEFAULT_CAPACITY: usize = 64 << 20;

/// Bookkeeping bytes counted per entry besides its key and value.
const ENTRY_OVERHEAD: usize = 64;

/// Per cached column (in [`CACHED`] order): key to value, `None` for a key known absent.
type Entries = [HashMap<Vec<u8>, Option<Vec<u8>>>; CACHED.len()];

pub struct StateCache {
    inner: Mutex<Inner>,
    capacity: usize,
}

#[derive(Default)]
struct Inner {
    entries: Entries,
    /// Bytes the entries count.
    bytes: usize,
    /// Bumped whenever a block's writes are applied.
    generation: u64,
}

impl StateCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            capacity,
        }
    }

    /// Forgets everything and starts a new generation (the store's state was replaced).
    pub fn clear(&self) {
        let mut inner = self.inner.lock();
        inner.entries = Entries::default();
        inner.bytes = 0;
        inner.generation += 1;
    }

    /// Where `column`'s entries are, if it is cached.
    fn column_index(column: &str) -> Option<usize> {
        CACHED.iter().position(|cached| *cached == column)
    }

    pub fn caches(column: &str) -> bool {
        Self::column_index(column).is_some()
    }

    /// The finalized value of `key`: from memory, or from `load` (the store), remembered.
    pub fn get<E>(
        &self,
        column: &'static str,
        key: &[u8],
        load: impl FnOnce() -> Result<Option<Vec<u8>>, E>,
    ) -> Result<Option<Vec<u8>>, E> {
        let Some(index) = Self::column_index(column) else {
            return load();
        };
        let generation = {
            let inner = self.inner.lock();
            if let Some(value) = inner.entries[index].get(key) {
                return Ok(value.clone());
            }
            inner.generation
        };
        let value = load()?;
        let mut inner = self.inner.lock();
        if inner.generation == generation {
            inner.remember(index, key.to_vec(), value.clone(), self.capacity);
        }
        Ok(value)
    }

    /// Runs `write` (the store write of `ops`) and, if it succeeds, applies the cached
    /// columns' writes of `ops` to the cache. The caller serialises writes.
    pub fn write_through<T, E>(
        &self,
        ops: &[WriteOp],
        write: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        let written = write()?;
        let mut inner = self.inner.lock();
        inner.generation += 1;
        for op in ops {
            let (column, key, value) = match op {
                WriteOp::Put(column, key, value) => (column, key, Some(value.clone())),
                WriteOp::Delete(column, key) => (column, key, None),
            };
            if let Some(index) = Self::column_index(column) {
                inner.remember(index, key.clone(), value, self.capacity);
            }
        }
        Ok(written)
    }

    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.inner.lock().bytes
    }
}

impl Inner {
    fn remember(&mut self, index: usize, key: Vec<u8>, value: Option<Vec<u8>>, capacity: usize) {
        let size = |value: &Option<Vec<u8>>| {
            key.len() + value.as_ref().map_or(0, Vec::len) + ENTRY_OVERHEAD
        };
        let added = size(&value);
        let replaced = self.entries[index].get(&key).map_or(0, size);
        if self.bytes - replaced + added > capacity {
            self.entries.iter_mut().for_each(HashMap::clear);
            self.bytes = 0;
        } else {
            self.bytes -= replaced;
        }
        self.entries[index].insert(key, value);
        self.bytes += added;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(value: Option<&[u8]>) -> impl FnOnce() -> Result<Option<Vec<u8>>, ()> {
        let value = value.map(<[u8]>::to_vec);
        move || Ok(value)
    }

    fn put(column: &'static str, key: &[u8], value: &[u8]) -> WriteOp {
        WriteOp::Put(column, key.to_vec(), value.to_vec())
    }

    #[test]
    fn a_loaded_value_is_served_from_memory_until_a_write_replaces_it() {
        let cache = StateCache::new(DEFAULT_CAPACITY);
        let key = b"alice";
        assert_eq!(
            cache.get(schema::ACCOUNTS, key, load(Some(b"v1"))),
            Ok(Some(b"v1".to_vec()))
        );
        let not_loaded = || -> Result<Option<Vec<u8>>, ()> { panic!("should be cached") };
        assert_eq!(
            cache.get(schema::ACCOUNTS, key, not_loaded),
            Ok(Some(b"v1".to_vec()))
        );

        let ops = [
            put(schema::ACCOUNTS, key, b"v2"),
            WriteOp::Delete(schema::TRIE, b"n".to_vec()),
        ];
        cache.write_through(&ops, || Ok::<_, ()>(())).unwrap();
        assert_eq!(
            cache.get(schema::ACCOUNTS, key, not_loaded),
            Ok(Some(b"v2".to_vec()))
        );
        // A delete is remembered as absent.
        assert_eq!(cache.get(schema::TRIE, b"n", not_loaded), Ok(None));
    }

    #[test]
    fn a_value_loaded_while_a_block_was_applied_is_returned_but_not_kept() {
        let cache = StateCache::new(DEFAULT_CAPACITY);
        let key = b"bob";
        // The miss reads the store before the block's write lands; the block is applied to
        // the cache before the miss could remember its (now old) value.
        let racing_load = || {
            cache
                .write_through(&[put(schema::ACCOUNTS, key, b"new")], || Ok::<_, ()>(()))
                .unwrap();
            Ok::<_, ()>(Some(b"old".to_vec()))
        };
        assert_eq!(
            cache.get(schema::ACCOUNTS, key, racing_load),
            Ok(Some(b"old".to_vec()))
        );
        assert_eq!(
            cache.get(schema::ACCOUNTS, key, load(None)),
            Ok(Some(b"new".to_vec()))
        );
    }

    #[test]
    fn a_failed_store_write_leaves_the_cache_as_it_was() {
        let cache = StateCache::new(DEFAULT_CAPACITY);
        cache
            .get(schema::STORAGE, b"k", load(Some(b"old")))
            .unwrap();
        let failed = cache.write_through(&[put(schema::STORAGE, b"k", b"new")], || {
            Err::<(), _>("disk")
        });
        assert_eq!(failed, Err("disk"));
        assert_eq!(
            cache.get(schema::STORAGE, b"k", load(None)),
            Ok(Some(b"old".to_vec()))
        );
    }

    #[test]
    fn a_load_error_is_returned_and_not_remembered() {
        let cache = StateCache::new(DEFAULT_CAPACITY);
        assert_eq!(cache.get(schema::CODE, b"c", || Err("io")), Err("io"));
        assert_eq!(
            cache.get(schema::CODE, b"c", load(Some(b"x"))),
            Ok(Some(b"x".to_vec()))
        );
    }

    #[test]
    fn writes_to_uncached_columns_are_ignored() {
        let cache = StateCache::new(DEFAULT_CAPACITY);
        cache
            .write_through(&[put(schema::HEADERS, b"h", b"x")], || Ok::<_, ()>(()))
            .unwrap();
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn the_cache_starts_afresh_instead_of_growing_past_its_capacity() {
        let cache = StateCache::new(10 * (ENTRY_OVERHEAD + 8));
        for i in 0u32..100 {
            cache
                .get(
                    schema::STORAGE,
                    &i.to_be_bytes(),
                    load(Some(&i.to_le_bytes())),
                )
                .unwrap();
            assert!(cache.bytes() <= 10 * (ENTRY_OVERHEAD + 8));
        }
        // Rewriting a key replaces its size instead of adding to it.
        let before = cache.bytes();
        cache
            .get(schema::STORAGE, &99u32.to_be_bytes(), load(None))
            .unwrap();
        cache
            .write_through(
                &[put(schema::STORAGE, &99u32.to_be_bytes(), b"abcd")],
                || Ok::<_, ()>(()),
            )
            .unwrap();
        assert_eq!(cache.bytes(), before);
        // Every value read back is still the latest one written or loaded.
        assert_eq!(
            cache.get(schema::STORAGE, &99u32.to_be_bytes(), load(None)),
            Ok(Some(b"abcd".to_vec()))
        );
    }
}
