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
use crate::poseidon_lanes::hash2_many;

/// Parents hashed together by one task: enough for the SIMD lanes (ADR 0116) and for rayon's
/// overhead to vanish, few enough to spread a level over every core.
const PARENTS_PER_TASK: usize = 64;

/// `hash2` of each pair, in order, over every core and the SIMD lanes.
fn parents_of(pairs: &[(Fp, Fp)]) -> Vec<Fp> {
    pairs
        .par_chunks(PARENTS_PER_TASK)
        .flat_map_iter(hash2_many)
        .collect()
}

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

    /// Sets many leaves (each index once) and returns the new root. The tree is rehashed level
    /// by level: each node above a changed leaf is hashed once, in parallel, so `n` leaves at
    /// neighbouring indices cost about `2n` hashes instead of `32n` for one update each.
    pub fn set_leaves(&mut self, leaves: impl IntoIterator<Item = (u32, Fp)>) -> Fp {
        let mut changed: Vec<u64> = Vec::new();
        for (index, leaf) in leaves {
            self.levels[0].insert(u64::from(index), leaf);
            changed.push(u64::from(index));
        }
        for height in 0..TREE_DEPTH {
            let mut parents: Vec<u64> = changed.iter().map(|index| index >> 1).collect();
            parents.sort_unstable();
            parents.dedup();
            let children: Vec<(Fp, Fp)> = parents
                .iter()
                .map(|parent| {
                    let left = self.node(height, parent << 1);
                    (left, self.node(height, (parent << 1) | 1))
                })
                .collect();
            let above = parents_of(&children);
            self.levels[height + 1].extend(parents.iter().copied().zip(above));
            changed = parents;
        }
        self.root()
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

    /// Applies `updates` in order, each a leaf index and its new leaf hash (`None`: the leaf
    /// is left as it is), and returns for each the path and roots it saw: exactly what
    /// [`Self::proof`], [`Self::root`] and [`Self::set_leaf`] one update at a time would give.
    ///
    /// The work goes level by level. At each height a cheap ordered pass finds every update's
    /// sibling as it stood just before that update, and then the parent hashes of all updates are
    /// computed in parallel: they are independent once the siblings are known.
    pub fn apply_updates(&mut self, updates: &[(u32, Option<Fp>)]) -> Vec<UpdateTrace> {
        let n = updates.len();
        let root_before_all = self.root();
        let mut siblings = vec![[Fp::default(); TREE_DEPTH]; n];
        // The node on each update's path at the current height, right after that update (for
        // a changing update; an unchanged one reads the node as it stands).
        let mut current: Vec<Fp> = updates
            .iter()
            .map(|(_, leaf)| leaf.unwrap_or_default())
            .collect();
        for height in 0..TREE_DEPTH {
            let mut latest: HashMap<u64, Fp> = HashMap::new();
            let mut pairs = Vec::with_capacity(n);
            for (u, (index, leaf)) in updates.iter().enumerate() {
                let position = u64::from(*index) >> height;
                let read = |node: u64| {
                    latest
                        .get(&node)
                        .copied()
                        .unwrap_or_else(|| self.node(height, node))
                };
                let sibling = read(position ^ 1);
                siblings[u][height] = sibling;
                if leaf.is_some() {
                    latest.insert(position, current[u]);
                    pairs.push(if position & 1 == 0 {
                        (current[u], sibling)
                    } else {
                        (sibling, current[u])
                    });
                } else {
                    current[u] = read(position);
                }
            }
            for (node, value) in latest {
                self.levels[height].insert(node, value);
            }
            let mut parents = parents_of(&pairs);
            for (u, (_, leaf)) in updates.iter().enumerate().rev() {
                if leaf.is_some() {
                    current[u] = parents.pop().expect("one parent per changing update");
                }
            }
        }
        let mut root = root_before_all;
        let traces = updates
            .iter()
            .enumerate()
            .map(|(u, (index, leaf))| {
                let root_before = root;
                if leaf.is_some() {
                    root = current[u];
                }
                UpdateTrace {
                    path: MerkleProof {
                        index: *index,
                        siblings: siblings[u],
                    },
                    root_before,
                    root_after: root,
                }
            })
            .collect();
        self.levels[TREE_DEPTH].insert(0, root);
        traces
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

/// What one update of [`SparseMerkleTree::apply_updates`] saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpdateTrace {
    /// The leaf's path before the update.
    pub path: MerkleProof,
    /// The root before the update.
    pub root_before: Fp,
    /// The root after it.
    pub root_after: Fp,
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
    fn leaves_set_at_once_equal_leaves_set_one_by_one() {
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
        // On an empty tree, and on one that already holds leaves (some of them replaced).
        let mut before = SparseMerkleTree::new();
        for start in [0, 3] {
            let mut one_by_one = before.clone();
            for (index, leaf) in &leaves[start..] {
                one_by_one.set_leaf(*index, *leaf);
            }
            let mut at_once = before.clone();
            let root = at_once.set_leaves(leaves[start..].iter().copied());
            assert_eq!(root, one_by_one.root());
            for index in indices.iter().chain(&[5u32, 1 << 31]) {
                assert_eq!(at_once.proof(*index), one_by_one.proof(*index));
            }
            before.set_leaf(indices[4], Fp::from(99));
            before.set_leaf(7, Fp::from(98));
        }
        let mut unchanged = SparseMerkleTree::new();
        assert_eq!(unchanged.set_leaves([]), SparseMerkleTree::new().root());
    }

    /// Updates in one call give the paths and roots, and leave the tree, that one update at
    /// a time gives: repeated leaves, neighbours, far leaves and unchanged leaves mixed.
    #[test]
    fn updates_applied_at_once_match_one_at_a_time() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let pool = [
            0u32,
            1,
            2,
            3,
            5,
            8,
            1 << 16,
            (1 << 16) + 1,
            u32::MAX,
            u32::MAX - 1,
        ];
        for round in 0..20 {
            let mut sequential = SparseMerkleTree::new();
            for (n, index) in pool.iter().enumerate().take(round % 6) {
                sequential.set_leaf(*index, Fp::from(n as u64 + 1_000));
            }
            let mut at_once = sequential.clone();
            let updates: Vec<(u32, Option<Fp>)> = (0..(1 + round * 3))
                .map(|_| {
                    let index = pool[(next() % pool.len() as u64) as usize];
                    let leaf = (next() % 4 != 0).then(|| Fp::from(next() % 1_000));
                    (index, leaf)
                })
                .collect();
            let traces = at_once.apply_updates(&updates);
            for ((index, leaf), trace) in updates.iter().zip(&traces) {
                assert_eq!(trace.path, sequential.proof(*index), "round {round}");
                assert_eq!(trace.root_before, sequential.root());
                if let Some(leaf) = leaf {
                    sequential.set_leaf(*index, *leaf);
                }
                assert_eq!(trace.root_after, sequential.root());
            }
            assert_eq!(at_once.root(), sequential.root());
            for index in pool {
                assert_eq!(at_once.proof(index), sequential.proof(index));
            }
        }
        assert!(SparseMerkleTree::new().apply_updates(&[]).is_empty());
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
