//! The depth-32 sparse Merkle tree of account leaves, with membership proofs.
//!
//! Level 0 holds leaf hashes, level 32 the root. A parent is `H(left, right)` (see
//! [`crate::poseidon::hash2`]). Only nodes that differ from the empty subtree are stored, so the
//! memory used grows with the number of touched accounts, and an update costs 32 hashes.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::Fp;
use crate::account::Account;
use crate::poseidon::hash2;

/// Depth of the tree: 2^32 account slots.
pub const TREE_DEPTH: usize = 32;

/// The hashes of empty subtrees, by height (`[0]` is the empty leaf, `[32]` the empty root).
pub fn empty_hashes() -> &'static [Fp; TREE_DEPTH + 1] {
    static EMPTY: std::sync::OnceLock<[Fp; TREE_DEPTH + 1]> = std::sync::OnceLock::new();
    EMPTY.get_or_init(|| {
        let mut out = [Account::default().leaf_hash(); TREE_DEPTH + 1];
        for level in 1..=TREE_DEPTH {
            out[level] = hash2(out[level - 1], out[level - 1]);
        }
        out
    })
}

/// A sparse Merkle tree of leaf hashes.
#[derive(Clone, Debug)]
pub struct SparseMerkleTree {
    /// `levels[h]` maps a node index at height `h` to its hash, for non-empty subtrees.
    levels: Vec<HashMap<u64, Fp>>,
}

impl Default for SparseMerkleTree {
    fn default() -> Self {
        Self::new()
    }
}

impl SparseMerkleTree {
    /// The tree in which every slot holds the empty account.
    pub fn new() -> Self {
        Self {
            levels: vec![HashMap::new(); TREE_DEPTH + 1],
        }
    }

    /// The tree holding `leaves` (index, leaf hash) and the empty account everywhere else,
    /// built level by level: each non-empty node is hashed once, in parallel, so `n` leaves
    /// at neighbouring indices cost about `2n` hashes instead of `32n` for one update each.
    pub fn from_leaves(leaves: impl IntoIterator<Item = (u32, Fp)>) -> Self {
        let mut levels = Vec::with_capacity(TREE_DEPTH + 1);
        levels.push(
            leaves
                .into_iter()
                .map(|(index, leaf)| (u64::from(index), leaf))
                .collect::<HashMap<u64, Fp>>(),
        );
        for height in 0..TREE_DEPTH {
            let below = &levels[height];
            let mut parents: Vec<u64> = below.keys().map(|index| index >> 1).collect();
            parents.sort_unstable();
            parents.dedup();
            let empty = empty_hashes()[height];
            let child = |index: u64| below.get(&index).copied().unwrap_or(empty);
            let above: HashMap<u64, Fp> = parents
                .par_iter()
                .map(|parent| (*parent, hash2(child(parent << 1), child((parent << 1) | 1))))
                .collect();
            levels.push(above);
        }
        Self { levels }
    }

    fn node(&self, height: usize, index: u64) -> Fp {
        self.levels[height]
            .get(&index)
            .copied()
            .unwrap_or(empty_hashes()[height])
    }

    /// The root.
    pub fn root(&self) -> Fp {
        self.node(TREE_DEPTH, 0)
    }

    /// The leaf hash at `index`.
    pub fn leaf(&self, index: u32) -> Fp {
        self.node(0, u64::from(index))
    }

    /// Replaces the leaf at `index` and returns the new root.
    pub fn set_leaf(&mut self, index: u32, leaf: Fp) -> Fp {
        let mut idx = u64::from(index);
        let mut cur = leaf;
        self.levels[0].insert(idx, cur);
        for height in 0..TREE_DEPTH {
            let sibling = self.node(height, idx ^ 1);
            cur = if idx & 1 == 0 {
                hash2(cur, sibling)
            } else {
                hash2(sibling, cur)
            };
            idx >>= 1;
            self.levels[height + 1].insert(idx, cur);
        }
        cur
    }

    /// The membership proof (authentication path) for `index`.
    pub fn proof(&self, index: u32) -> MerkleProof {
        let mut idx = u64::from(index);
        let mut siblings = [Fp::default(); TREE_DEPTH];
        for (height, sibling) in siblings.iter_mut().enumerate() {
            *sibling = self.node(height, idx ^ 1);
            idx >>= 1;
        }
        MerkleProof { index, siblings }
    }
}

/// An authentication path from a leaf to the root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MerkleProof {
    /// The leaf position; bit `h` says whether the node at height `h` is a right child.
    pub index: u32,
    /// Siblings from the leaf level upwards.
    pub siblings: [Fp; TREE_DEPTH],
}

impl MerkleProof {
    /// The root obtained by hashing `leaf` up this path.
    pub fn root_for(&self, leaf: Fp) -> Fp {
        self.siblings
            .iter()
            .enumerate()
            .fold(leaf, |cur, (height, sibling)| {
                if (self.index >> height) & 1 == 0 {
                    hash2(cur, *sibling)
                } else {
                    hash2(*sibling, cur)
                }
            })
    }

    /// Whether `leaf` sits at this path's index under `root`.
    pub fn verify(&self, root: Fp, leaf: Fp) -> bool {
        self.root_for(leaf) == root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_tree_root_is_the_empty_subtree_hash() {
        let t = SparseMerkleTree::new();
        assert_eq!(t.root(), empty_hashes()[TREE_DEPTH]);
        assert!(t.proof(12345).verify(t.root(), empty_hashes()[0]));
    }

    #[test]
    fn proofs_verify_after_updates_and_fail_for_wrong_leaves() {
        let mut t = SparseMerkleTree::new();
        let indices = [0u32, 1, 2, 7, 1 << 31, u32::MAX, 99_999];
        for (n, i) in indices.iter().enumerate() {
            t.set_leaf(*i, Fp::from(n as u64 + 100));
        }
        let root = t.root();
        for (n, i) in indices.iter().enumerate() {
            let proof = t.proof(*i);
            assert!(proof.verify(root, Fp::from(n as u64 + 100)));
            assert!(!proof.verify(root, Fp::from(n as u64 + 101)));
        }
        // A proof for the wrong index does not verify the leaf.
        let mut wrong = t.proof(1);
        wrong.index = 3;
        assert!(!wrong.verify(root, Fp::from(101)));
    }

    #[test]
    fn a_tree_built_at_once_equals_one_built_leaf_by_leaf() {
        let indices = [
            0u32,
            1,
            2,
            3,
            4,
            9,
            1 << 20,
            (1 << 20) + 1,
            u32::MAX,
            77_777,
        ];
        let leaves: Vec<(u32, Fp)> = indices
            .iter()
            .enumerate()
            .map(|(n, i)| (*i, Fp::from(n as u64 * 7 + 3)))
            .collect();
        let mut one_by_one = SparseMerkleTree::new();
        for (index, leaf) in &leaves {
            one_by_one.set_leaf(*index, *leaf);
        }
        let at_once = SparseMerkleTree::from_leaves(leaves.iter().copied());
        assert_eq!(at_once.root(), one_by_one.root());
        for index in indices.iter().chain(&[5u32, 1 << 31]) {
            assert_eq!(at_once.proof(*index), one_by_one.proof(*index));
        }
        assert_eq!(
            SparseMerkleTree::from_leaves([]).root(),
            SparseMerkleTree::new().root()
        );
    }

    #[test]
    fn set_leaf_returns_root_matching_path_recomputation() {
        let mut t = SparseMerkleTree::new();
        let before = t.proof(5);
        let root = t.set_leaf(5, Fp::from(42));
        assert_eq!(root, t.root());
        assert_eq!(before.root_for(Fp::from(42)), root);
    }
}
