//! Tree tests against an in-memory node store: canonical roots, incremental = from-scratch,
//! proofs for members and non-members.

use std::collections::BTreeMap;

use alloy_primitives::{B256, keccak256};

use super::mem_nodes::MemNodes;
use super::*;

fn key(i: u64) -> B256 {
    keccak256(i.to_be_bytes())
}

fn value(i: u64) -> B256 {
    keccak256((i ^ 0xdead_beef).to_be_bytes())
}

fn from_scratch(entries: &BTreeMap<B256, B256>) -> MemNodes {
    let mut tree = MemNodes::default();
    tree.apply(entries.iter().map(|(k, v)| (*k, Some(*v))).collect());
    tree
}

#[test]
fn empty_and_single_leaf_roots() {
    let mut tree = MemNodes::default();
    assert_eq!(tree.root.hash(), B256::ZERO);
    tree.apply(vec![(key(1), Some(value(1)))]);
    assert_eq!(tree.root.hash(), leaf_hash(&key(1), &value(1)));
    assert!(tree.branches.is_empty());
    tree.apply(vec![(key(1), None)]);
    assert_eq!(tree.root, Child::Empty);
}

#[test]
fn incremental_updates_match_a_rebuild_in_any_order() {
    let mut model = BTreeMap::new();
    let mut tree = MemNodes::default();
    let mut seed = 7u64;
    for round in 0..40u64 {
        let mut changes = Vec::new();
        for _ in 0..(1 + round % 23) {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let k = key(seed % 300);
            if seed % 5 == 0 {
                model.remove(&k);
                changes.push((k, None));
            } else {
                let v = value(seed);
                model.insert(k, v);
                changes.push((k, Some(v)));
            }
        }
        tree.apply(changes);
        let rebuilt = from_scratch(&model);
        assert_eq!(tree.root, rebuilt.root, "round {round}");
        assert_eq!(
            tree.branches.len(),
            rebuilt.branches.len(),
            "stale branches left behind in round {round}"
        );
    }
}

#[test]
fn later_duplicate_in_one_batch_wins() {
    let mut tree = MemNodes::default();
    tree.apply(vec![
        (key(1), Some(value(1))),
        (key(2), Some(value(2))),
        (key(1), None),
    ]);
    assert_eq!(tree.root.hash(), leaf_hash(&key(2), &value(2)));
}

#[test]
fn large_batches_take_the_parallel_path_and_agree() {
    let entries: BTreeMap<B256, B256> = (0..3000).map(|i| (key(i), value(i))).collect();
    let mut one_by_one = MemNodes::default();
    for chunk in entries.iter().collect::<Vec<_>>().chunks(100) {
        one_by_one.apply(chunk.iter().map(|(k, v)| (**k, Some(**v))).collect());
    }
    assert_eq!(from_scratch(&entries).root, one_by_one.root);
}

#[test]
fn proofs_verify_for_members_and_non_members() {
    let entries: BTreeMap<B256, B256> = (0..500).map(|i| (key(i), value(i))).collect();
    let tree = from_scratch(&entries);
    let root = tree.root.hash();
    for i in [0u64, 17, 499] {
        let proof = MerkleProof::build(&tree, &tree.root, &key(i)).unwrap();
        assert_eq!(proof.verify(&root, &key(i)), Ok(Some(value(i))));
        let wire = MerkleProof::from_nodes(&proof.to_nodes()).unwrap();
        assert_eq!(wire, proof);
    }
    for i in [500u64, 9999] {
        let proof = MerkleProof::build(&tree, &tree.root, &key(i)).unwrap();
        assert_eq!(proof.verify(&root, &key(i)), Ok(None));
    }
}

#[test]
fn tampered_proofs_are_rejected() {
    let entries: BTreeMap<B256, B256> = (0..100).map(|i| (key(i), value(i))).collect();
    let tree = from_scratch(&entries);
    let root = tree.root.hash();
    let mut proof = MerkleProof::build(&tree, &tree.root, &key(3)).unwrap();
    proof.terminal = Some((key(3), value(4)));
    assert_eq!(proof.verify(&root, &key(3)), Err(ProofError::RootMismatch));
    let mut proof = MerkleProof::build(&tree, &tree.root, &key(3)).unwrap();
    proof.branches[0][0] = B256::repeat_byte(9);
    assert!(proof.verify(&root, &key(3)).is_err());
    assert!(MerkleProof::from_nodes(&[vec![1u8, 2, 3].into()]).is_err());
}

#[test]
fn branch_encoding_round_trips() {
    let entries: BTreeMap<B256, B256> = (0..200).map(|i| (key(i), value(i))).collect();
    let tree = from_scratch(&entries);
    for branch in tree.branches.values() {
        assert_eq!(Branch::decode(&branch.encode()).as_ref(), Some(branch));
    }
    assert_eq!(Branch::decode(&[0xff, 0xff, 0, 0]), None);
    for child in [
        Child::Empty,
        Child::Branch(key(1)),
        Child::Leaf {
            key: key(1),
            value: value(2),
        },
    ] {
        assert_eq!(Child::decode(&child.encode()), Some(child));
    }
}
