//! The state commitment: a hexary sparse Merkle tree over 256-bit keys, updated incrementally.
//!
//! A key's path is its 64 nibbles. A subtree that holds one leaf is represented by that leaf
//! placed where the path first becomes unique; a branch exists exactly where two or more leaves
//! share a prefix. The shape therefore depends only on the key set (every node computes the
//! same root), and an update of `k` keys reads and rewrites only the `O(k · log16 n)` branches
//! on their paths. See `docs/adr/0002-state-commitment.md`.
//!
//! Hashes (keccak-256): empty = 0, leaf = H(0x00 ‖ key ‖ value), branch = H(0x01 ‖ child₀ … child₁₅).

#[cfg(test)]
pub(crate) mod mem_nodes;
mod node;
mod proof;
mod update;

pub use node::{Branch, Child, NodePath};
pub use proof::{MerkleProof, ProofError};
pub use update::{NodeReader, TreeUpdate, update_tree};

use alloy_primitives::{B256, keccak256};

/// Hash of a leaf holding `value` under `key`.
pub fn leaf_hash(key: &B256, value: &B256) -> B256 {
    let mut buf = [0u8; 65];
    buf[1..33].copy_from_slice(key.as_slice());
    buf[33..].copy_from_slice(value.as_slice());
    keccak256(buf)
}

/// The nibble of `key` at `depth` (0 = most significant).
pub fn nibble(key: &B256, depth: usize) -> u8 {
    let byte = key[depth / 2];
    if depth % 2 == 0 {
        byte >> 4
    } else {
        byte & 0x0f
    }
}

#[cfg(test)]
mod tests;
