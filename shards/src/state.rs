//! Reading shard state from the store, as of the head or of any past block, or on top of
//! unfinalized blocks ([`Layers`]), for revm.

use std::sync::Arc;

use alloy_primitives::{Address, B256, U256, keccak256};
use kaimeng_l1::{Store, StoreError};
use revm::bytecode::Bytecode;
use revm::database_interface::{DBErrorMarker, DatabaseRef};
use revm::state::AccountInfo;

use crate::account::AccountRecord;
use crate::commitment::{Branch, Child, MerkleProof, NodePath, NodeReader};
use crate::layers::Layers;
use crate::schema::{self, TreeId};
use crate::state_cache::StateCache;

/// A failure to read state. Reads fail only when the store does (or is corrupt).
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("corrupt state: {0}")]
    Corrupt(String),
}

impl DBErrorMarker for StateError {}

/// State as of a block: `None` reads the finalized head (plain state) with `layers` of
/// unfinalized blocks on top, `Some(n)` reads history.
#[derive(Clone)]
pub struct StateAt {
    store: Store,
    block: Option<u64>,
    layers: Layers,
    /// The finalized state's cache, read before the store (latest and pending states only).
    cache: Option<Arc<StateCache>>,
}

impl StateAt {
    pub fn latest(store: Store) -> Self {
        Self {
            store,
            block: None,
            layers: Layers::default(),
            cache: None,
        }
    }

    /// The state after the unfinalized blocks whose writes are `layers`.
    pub fn pending(store: Store, layers: Layers) -> Self {
        Self {
            store,
            block: None,
            layers,
            cache: None,
        }
    }

    pub fn at_block(store: Store, block: u64) -> Self {
        Self {
            store,
            block: Some(block),
            layers: Layers::default(),
            cache: None,
        }
    }

    /// This latest or pending state, reading the finalized state through `cache`.
    pub fn with_cache(mut self, cache: Arc<StateCache>) -> Self {
        if self.block.is_none() {
            self.cache = Some(cache);
        }
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The unfinalized blocks' writes this state reads through.
    pub fn layers(&self) -> &Layers {
        &self.layers
    }

    /// Reads `key` of the latest state: the layers first, then the cache, then the store.
    pub fn get_latest(
        &self,
        column: &'static str,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, StateError> {
        if let Some(value) = self.layers.get(column, key) {
            return Ok(value.map(<[u8]>::to_vec));
        }
        let load = || self.store.get(column, key);
        Ok(match &self.cache {
            Some(cache) => cache.get(column, key, load)?,
            None => load()?,
        })
    }

    /// Every `(key, value)` under `prefix` in `column` of the latest state, layers included.
    pub fn scan_latest(
        &self,
        column: &'static str,
        prefix: &[u8],
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StateError> {
        let mut merged: std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>> = self
            .store
            .scan_prefix(column, prefix)?
            .into_iter()
            .map(|(k, v)| (k.to_vec(), Some(v.to_vec())))
            .collect();
        merged.extend(self.layers.scan_prefix(column, prefix));
        Ok(merged
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect())
    }

    pub fn account(&self, address: &Address) -> Result<Option<AccountRecord>, StateError> {
        let bytes = match self.block {
            None => self.get_latest(schema::ACCOUNTS, address.as_slice())?,
            Some(n) => self
                .store
                .get_at_or_before(
                    schema::ACCOUNT_HISTORY,
                    address.as_slice(),
                    &schema::account_history_key(address, n),
                )?
                .map(|(_, v)| v),
        };
        match bytes {
            None => Ok(None),
            Some(v) if v.is_empty() => Ok(None),
            Some(v) => AccountRecord::decode(&v)
                .map(Some)
                .ok_or_else(|| StateError::Corrupt(format!("account record of {address}"))),
        }
    }

    pub fn storage_value(&self, address: &Address, slot: &B256) -> Result<U256, StateError> {
        let key = schema::storage_key(address, slot);
        let bytes = match self.block {
            None => self.get_latest(schema::STORAGE, &key)?,
            Some(n) => self
                .store
                .get_at_or_before(
                    schema::STORAGE_HISTORY,
                    &key,
                    &schema::storage_history_key(address, slot, n),
                )?
                .map(|(_, v)| v),
        };
        Ok(bytes.map(|v| U256::from_be_slice(&v)).unwrap_or_default())
    }

    pub fn code(&self, code_hash: &B256) -> Result<Bytecode, StateError> {
        if *code_hash == revm::primitives::KECCAK_EMPTY || code_hash.is_zero() {
            return Ok(Bytecode::default());
        }
        let raw = self
            .get_latest(schema::CODE, code_hash.as_slice())?
            .ok_or_else(|| StateError::Corrupt(format!("missing code {code_hash}")))?;
        Ok(Bytecode::new_raw(raw.into()))
    }

    pub fn block_hash(&self, number: u64) -> Result<B256, StateError> {
        Ok(self
            .get_latest(schema::HEADERS, &schema::number_key(number))?
            .map(|v| B256::from_slice(&v[..32]))
            .unwrap_or_default())
    }

    /// Proof of `address`'s account and of `slots` in its storage, against the head's roots.
    /// Only the head is provable: tree nodes are kept for the latest state.
    pub fn proof(&self, address: &Address, slots: &[B256]) -> Result<AccountProof, StateError> {
        let accounts = TrieNodes::new(self, TreeId::Accounts);
        let account_proof = MerkleProof::build(&accounts, &accounts.root()?, &keccak256(address))?;
        let storage_tree = TrieNodes::new(self, TreeId::Storage(*address));
        let storage_root = storage_tree.root()?;
        let storage_proofs = slots
            .iter()
            .map(|slot| {
                Ok((
                    *slot,
                    self.storage_value(address, slot)?,
                    MerkleProof::build(&storage_tree, &storage_root, &keccak256(slot))?,
                ))
            })
            .collect::<Result<Vec<_>, StateError>>()?;
        Ok(AccountProof {
            account: self.account(address)?,
            account_proof,
            storage_root: storage_root.hash(),
            storage_proofs,
        })
    }
}

/// An account with its membership proof and proofs of some of its storage slots.
#[derive(Clone, Debug)]
pub struct AccountProof {
    pub account: Option<AccountRecord>,
    pub account_proof: MerkleProof,
    pub storage_root: B256,
    pub storage_proofs: Vec<(B256, U256, MerkleProof)>,
}

impl DatabaseRef for StateAt {
    type Error = StateError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, StateError> {
        Ok(self.account(&address)?.map(|a| a.info()))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, StateError> {
        self.code(&code_hash)
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, StateError> {
        self.storage_value(&address, &B256::from(index))
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, StateError> {
        self.block_hash(number)
    }
}

/// The stored branches of one tree in the latest state (layers included).
pub struct TrieNodes<'a> {
    state: &'a StateAt,
    prefix: Vec<u8>,
    tree: TreeId,
}

impl<'a> TrieNodes<'a> {
    pub fn new(state: &'a StateAt, tree: TreeId) -> Self {
        Self {
            state,
            prefix: tree.prefix(),
            tree,
        }
    }

    pub fn node_key(&self, path: &NodePath) -> Vec<u8> {
        [&self.prefix[..], &path.encode()].concat()
    }

    pub fn root(&self) -> Result<Child, StateError> {
        match self.state.get_latest(schema::TRIE, &self.tree.root_key())? {
            None => Ok(Child::Empty),
            Some(bytes) => Child::decode(&bytes)
                .ok_or_else(|| StateError::Corrupt(format!("root record of {:?}", self.tree))),
        }
    }
}

impl NodeReader for TrieNodes<'_> {
    type Error = StateError;

    fn branch(&self, path: &NodePath) -> Result<Option<Branch>, StateError> {
        match self.state.get_latest(schema::TRIE, &self.node_key(path))? {
            None => Ok(None),
            Some(bytes) => Branch::decode(&bytes)
                .map(Some)
                .ok_or_else(|| StateError::Corrupt(format!("branch {path:?} of {:?}", self.tree))),
        }
    }

    fn missing(&self, path: &NodePath) -> StateError {
        StateError::Corrupt(format!("missing branch {path:?} of {:?}", self.tree))
    }
}
