//! State snapshots for shard state sync: the pure checks, no IO. The account tree is cut at
//! depth two into 256 subtrees. A [`Manifest`] lists each subtree's top child and proves
//! against a state root (for example a crosslinked header's). A chunk, the accounts of one
//! subtree with their storage and code, proves against its manifest entry. So a chunk that
//! does not belong to the root is refused on arrival, not at the end of the sync.
//!
//! The tree's shape depends only on its key set (`crate::commitment`): an empty subtree is
//! `Empty`, a subtree of one leaf is that leaf, and a subtree of two or more leaves is a branch
//! over its sixteen children.
//!
//! Reading chunks from a store and installing a checked snapshot are in
//! `crate::snapshot_store`; how parts travel is [`parts`] (ADR 0100).

pub mod parts;

use alloy_primitives::{Address, B256, Bytes, keccak256};
use revm::primitives::KECCAK_EMPTY;

use crate::account::AccountRecord;
use crate::commitment::{Branch, Child, nibble};

/// The depth at which the account tree is cut into chunks: 2 nibbles, 256 subtrees.
pub const CHUNK_DEPTH: usize = 2;
/// How many chunks a snapshot has.
pub const CHUNKS: usize = 1 << (4 * CHUNK_DEPTH);

/// One account of a chunk: its record, every non-zero storage slot and its code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotAccount {
    pub address: Address,
    pub record: AccountRecord,
    /// `(slot, value)`, every non-zero slot.
    pub storage: Vec<(B256, B256)>,
    /// The code, when the record's code hash is not the empty code's.
    pub code: Option<Bytes>,
}

/// Why a manifest or a chunk is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error("a manifest has {CHUNKS} entries, this one {0}")]
    ManifestSize(usize),
    #[error("the manifest does not prove against state root {expected} (it gives {found})")]
    ManifestRoot { expected: B256, found: B256 },
    #[error("there is no chunk {0} (a snapshot has {CHUNKS})")]
    NoSuchChunk(usize),
    #[error("account {address} does not belong in chunk {chunk}")]
    WrongChunk { address: Address, chunk: usize },
    #[error("account {0} appears twice in the chunk")]
    Duplicate(Address),
    #[error("account {0}'s storage does not match its storage root")]
    StorageRoot(Address),
    #[error("account {0}'s code is missing or does not match its code hash")]
    Code(Address),
    #[error(
        "chunk {0} does not match its manifest entry (an account is missing, extra or altered)"
    )]
    ChunkRoot(usize),
}

/// The child that `leaves` form below a path of `depth` nibbles (`leaves` sorted by key, all
/// sharing that path).
pub fn subtree(leaves: &[(B256, B256)], depth: usize) -> Child {
    match leaves {
        [] => Child::Empty,
        [(key, value)] => Child::Leaf {
            key: *key,
            value: *value,
        },
        _ => {
            let mut branch = Branch::default();
            let mut start = 0;
            while start < leaves.len() {
                let slot = nibble(&leaves[start].0, depth);
                let end = start
                    + leaves[start..]
                        .iter()
                        .take_while(|(key, _)| nibble(key, depth) == slot)
                        .count();
                branch.children[slot as usize] = subtree(&leaves[start..end], depth + 1);
                start = end;
            }
            Child::Branch(branch.hash())
        }
    }
}

/// The child that sixteen sibling children form one level up.
fn compose(children: &[Child]) -> Child {
    let mut present = children.iter().filter(|c| !c.is_empty());
    match (present.next(), present.next()) {
        (None, _) => Child::Empty,
        (Some(leaf @ Child::Leaf { .. }), None) => leaf.clone(),
        _ => {
            let mut branch = Branch::default();
            branch.children.clone_from_slice(children);
            Child::Branch(branch.hash())
        }
    }
}

/// The chunk an account belongs to: the first byte (two nibbles) of its tree key.
pub fn chunk_of(address: &Address) -> usize {
    keccak256(address)[0] as usize
}

fn sorted_leaves(items: impl Iterator<Item = (B256, B256)>) -> Vec<(B256, B256)> {
    let mut leaves: Vec<_> = items.collect();
    leaves.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    leaves
}

/// The root of an account's storage from its non-zero slots.
pub fn storage_root(storage: &[(B256, B256)]) -> B256 {
    subtree(
        &sorted_leaves(
            storage
                .iter()
                .map(|(slot, value)| (keccak256(slot), *value)),
        ),
        0,
    )
    .hash()
}

/// The top child of each of the 256 subtrees: what a syncing node checks first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    pub subtrees: Vec<Child>,
}

impl Manifest {
    /// The manifest of a whole account set (what a serving node computes).
    pub fn of(accounts: impl IntoIterator<Item = (Address, AccountRecord)>) -> Self {
        let leaves = sorted_leaves(
            accounts
                .into_iter()
                .map(|(address, record)| (keccak256(address), record.commitment())),
        );
        let mut subtrees = Vec::with_capacity(CHUNKS);
        let mut start = 0;
        for chunk in 0..CHUNKS {
            let end = start
                + leaves[start..]
                    .iter()
                    .take_while(|(key, _)| key[0] as usize == chunk)
                    .count();
            subtrees.push(subtree(&leaves[start..end], CHUNK_DEPTH));
            start = end;
        }
        Self { subtrees }
    }

    /// The state root the manifest gives.
    pub fn root(&self) -> B256 {
        let upper: Vec<Child> = self.subtrees.chunks(16).map(compose).collect();
        compose(&upper).hash()
    }

    /// Checks the manifest against a trusted state root.
    pub fn check(&self, state_root: B256) -> Result<(), SnapshotError> {
        if self.subtrees.len() != CHUNKS {
            return Err(SnapshotError::ManifestSize(self.subtrees.len()));
        }
        let found = self.root();
        if found != state_root {
            return Err(SnapshotError::ManifestRoot {
                expected: state_root,
                found,
            });
        }
        Ok(())
    }

    /// Checks chunk `chunk` against this (checked) manifest: every account belongs there, its
    /// storage gives its storage root, its code its code hash, and together they give the
    /// manifest's entry, so nothing is missing, extra or altered.
    pub fn check_chunk(
        &self,
        chunk: usize,
        accounts: &[SnapshotAccount],
    ) -> Result<(), SnapshotError> {
        let expected = self
            .subtrees
            .get(chunk)
            .ok_or(SnapshotError::NoSuchChunk(chunk))?;
        let mut leaves = Vec::with_capacity(accounts.len());
        for account in accounts {
            let address = account.address;
            if chunk_of(&address) != chunk {
                return Err(SnapshotError::WrongChunk { address, chunk });
            }
            if storage_root(&account.storage) != account.record.storage_root
                || account.storage.iter().any(|(_, value)| value.is_zero())
            {
                return Err(SnapshotError::StorageRoot(address));
            }
            let code_ok = match &account.code {
                None => account.record.code_hash == KECCAK_EMPTY,
                Some(code) => keccak256(code) == account.record.code_hash,
            };
            if !code_ok {
                return Err(SnapshotError::Code(address));
            }
            leaves.push((keccak256(address), account.record.commitment()));
        }
        leaves.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if let Some(pair) = leaves.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            let twice = accounts
                .iter()
                .find(|a| keccak256(a.address) == pair[0].0)
                .map_or(Address::ZERO, |a| a.address);
            return Err(SnapshotError::Duplicate(twice));
        }
        if &subtree(&leaves, CHUNK_DEPTH) != expected {
            return Err(SnapshotError::ChunkRoot(chunk));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
