//! Tree nodes: child references, branches and their compact storage encoding.

use alloy_primitives::{B256, keccak256};

use super::leaf_hash;

/// What a branch slot (or a tree root) points at.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Child {
    #[default]
    Empty,
    /// A single leaf, stored inline in its parent.
    Leaf { key: B256, value: B256 },
    /// A branch stored under its own path; the hash is cached here.
    Branch(B256),
}

impl Child {
    pub fn hash(&self) -> B256 {
        match self {
            Child::Empty => B256::ZERO,
            Child::Leaf { key, value } => leaf_hash(key, value),
            Child::Branch(hash) => *hash,
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Child::Empty)
    }

    /// Encoding used for a tree's root record.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Child::Empty => vec![0],
            Child::Leaf { key, value } => [&[1u8][..], key.as_slice(), value.as_slice()].concat(),
            Child::Branch(hash) => [&[2u8][..], hash.as_slice()].concat(),
        }
    }

    pub fn decode(bytes: &[u8]) -> Option<Child> {
        match (bytes.first()?, bytes.len()) {
            (0, 1) => Some(Child::Empty),
            (1, 65) => Some(Child::Leaf {
                key: B256::from_slice(&bytes[1..33]),
                value: B256::from_slice(&bytes[33..]),
            }),
            (2, 33) => Some(Child::Branch(B256::from_slice(&bytes[1..]))),
            _ => None,
        }
    }
}

/// A branch: sixteen children, at least two leaves below it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Branch {
    pub children: [Child; 16],
}

impl Branch {
    pub fn child_hashes(&self) -> [B256; 16] {
        std::array::from_fn(|i| self.children[i].hash())
    }

    pub fn hash(&self) -> B256 {
        hash_child_hashes(&self.child_hashes())
    }

    pub fn non_empty(&self) -> usize {
        self.children.iter().filter(|c| !c.is_empty()).count()
    }

    /// `present bitmap (2) ‖ leaf bitmap (2) ‖ per present child: key ‖ value (leaf) or hash (branch)`.
    pub fn encode(&self) -> Vec<u8> {
        let (mut present, mut leaves) = (0u16, 0u16);
        let mut body = Vec::with_capacity(16 * 33);
        for (i, child) in self.children.iter().enumerate() {
            match child {
                Child::Empty => {}
                Child::Leaf { key, value } => {
                    present |= 1 << i;
                    leaves |= 1 << i;
                    body.extend_from_slice(key.as_slice());
                    body.extend_from_slice(value.as_slice());
                }
                Child::Branch(hash) => {
                    present |= 1 << i;
                    body.extend_from_slice(hash.as_slice());
                }
            }
        }
        [&present.to_be_bytes()[..], &leaves.to_be_bytes()[..], &body].concat()
    }

    pub fn decode(bytes: &[u8]) -> Option<Branch> {
        let present = u16::from_be_bytes(bytes.get(0..2)?.try_into().ok()?);
        let leaves = u16::from_be_bytes(bytes.get(2..4)?.try_into().ok()?);
        let mut at = 4;
        let mut branch = Branch::default();
        for i in 0..16 {
            if present & (1 << i) == 0 {
                continue;
            }
            if leaves & (1 << i) != 0 {
                let key = B256::from_slice(bytes.get(at..at + 32)?);
                let value = B256::from_slice(bytes.get(at + 32..at + 64)?);
                branch.children[i] = Child::Leaf { key, value };
                at += 64;
            } else {
                branch.children[i] = Child::Branch(B256::from_slice(bytes.get(at..at + 32)?));
                at += 32;
            }
        }
        (at == bytes.len()).then_some(branch)
    }
}

pub(crate) fn hash_child_hashes(hashes: &[B256; 16]) -> B256 {
    let mut buf = [0u8; 1 + 16 * 32];
    buf[0] = 1;
    for (i, h) in hashes.iter().enumerate() {
        buf[1 + i * 32..1 + (i + 1) * 32].copy_from_slice(h.as_slice());
    }
    keccak256(buf)
}

/// A branch's position: the nibbles leading to it from the root.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct NodePath(pub Vec<u8>);

impl NodePath {
    pub fn child(&self, nibble: u8) -> NodePath {
        let mut nibbles = Vec::with_capacity(self.0.len() + 1);
        nibbles.extend_from_slice(&self.0);
        nibbles.push(nibble);
        NodePath(nibbles)
    }

    pub fn depth(&self) -> usize {
        self.0.len()
    }

    /// Storage key suffix: depth byte then the nibbles packed two per byte.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + self.0.len().div_ceil(2));
        out.push(self.0.len() as u8);
        for pair in self.0.chunks(2) {
            out.push((pair[0] << 4) | pair.get(1).copied().unwrap_or(0));
        }
        out
    }
}
