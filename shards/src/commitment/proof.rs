//! Membership and non-membership proofs, and their verification.

use alloy_primitives::{B256, Bytes};

use super::node::{Branch, Child, NodePath, hash_child_hashes};
use super::update::NodeReader;
use super::{leaf_hash, nibble};

/// The branches from the root to a key's position, and what sits there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MerkleProof {
    /// Child hashes of each branch on the path, root first.
    pub branches: Vec<[B256; 16]>,
    /// The leaf at the end of the path (possibly another key's), or `None` if the slot is empty.
    pub terminal: Option<(B256, B256)>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    #[error("proof does not lead to the expected root")]
    RootMismatch,
    #[error("proof node {0} is malformed")]
    Malformed(usize),
}

impl MerkleProof {
    /// Walks from `root` towards `key`, collecting the proof.
    pub fn build<R: NodeReader>(
        reader: &R,
        root: &Child,
        key: &B256,
    ) -> Result<MerkleProof, R::Error> {
        let mut branches = Vec::new();
        let mut path = NodePath::default();
        let mut current = root.clone();
        loop {
            match current {
                Child::Empty => {
                    return Ok(MerkleProof {
                        branches,
                        terminal: None,
                    });
                }
                Child::Leaf { key: k, value } => {
                    return Ok(MerkleProof {
                        branches,
                        terminal: Some((k, value)),
                    });
                }
                Child::Branch(_) => {
                    let branch: Branch =
                        reader.branch(&path)?.ok_or_else(|| reader.missing(&path))?;
                    let n = nibble(key, path.depth());
                    branches.push(branch.child_hashes());
                    current = branch.children[n as usize].clone();
                    path = path.child(n);
                }
            }
        }
    }

    /// Checks the proof against `root` and returns the value under `key` (`None`: absent).
    pub fn verify(&self, root: &B256, key: &B256) -> Result<Option<B256>, ProofError> {
        let mut hash = match &self.terminal {
            None => B256::ZERO,
            Some((k, v)) => leaf_hash(k, v),
        };
        for (depth, hashes) in self.branches.iter().enumerate().rev() {
            if hashes[nibble(key, depth) as usize] != hash {
                return Err(ProofError::RootMismatch);
            }
            hash = hash_child_hashes(hashes);
        }
        if hash != *root {
            return Err(ProofError::RootMismatch);
        }
        Ok(match &self.terminal {
            Some((k, v)) if k == key => Some(*v),
            _ => None,
        })
    }

    /// Wire form for `eth_getProof`: one item per branch (`0x01 ‖ 16 hashes`), then the leaf (`0x00 ‖ key ‖ value`).
    pub fn to_nodes(&self) -> Vec<Bytes> {
        let mut out: Vec<Bytes> = self
            .branches
            .iter()
            .map(|hashes| {
                let mut node = Vec::with_capacity(1 + 16 * 32);
                node.push(1);
                hashes
                    .iter()
                    .for_each(|h| node.extend_from_slice(h.as_slice()));
                node.into()
            })
            .collect();
        if let Some((k, v)) = &self.terminal {
            out.push([&[0u8][..], k.as_slice(), v.as_slice()].concat().into());
        }
        out
    }

    pub fn from_nodes(nodes: &[Bytes]) -> Result<MerkleProof, ProofError> {
        let mut proof = MerkleProof {
            branches: Vec::new(),
            terminal: None,
        };
        for (i, node) in nodes.iter().enumerate() {
            match (node.first(), node.len()) {
                (Some(1), 513) if proof.terminal.is_none() => {
                    proof.branches.push(std::array::from_fn(|j| {
                        B256::from_slice(&node[1 + j * 32..1 + (j + 1) * 32])
                    }));
                }
                (Some(0), 65) if proof.terminal.is_none() && i == nodes.len() - 1 => {
                    proof.terminal = Some((
                        B256::from_slice(&node[1..33]),
                        B256::from_slice(&node[33..]),
                    ));
                }
                _ => return Err(ProofError::Malformed(i)),
            }
        }
        Ok(proof)
    }
}
