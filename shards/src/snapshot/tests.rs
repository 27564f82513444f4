//! Snapshots against the real tree: the manifest of any account set proves against the root
//! that incremental commits give, every honest chunk checks, and every altered, missing, extra
//! or misplaced account is refused.

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use revm::primitives::KECCAK_EMPTY;

use super::*;
use crate::commitment::mem_nodes::MemNodes;

/// `n` accounts; every 7th holds storage and every 11th code.
fn accounts(n: u64) -> Vec<SnapshotAccount> {
    (0..n)
        .map(|i| {
            let address = Address::from_word(keccak256(i.to_be_bytes()));
            let storage: Vec<(B256, B256)> = if i % 7 == 0 {
                (1..=(i % 5 + 1))
                    .map(|s| {
                        (
                            B256::from(U256::from(s)),
                            B256::from(U256::from(i * 100 + s)),
                        )
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let code = (i % 11 == 0).then(|| Bytes::from(vec![0x60, i as u8, 0x00]));
            let mut storage_tree = MemNodes::default();
            storage_tree.apply(
                storage
                    .iter()
                    .map(|(slot, value)| (keccak256(slot), Some(*value)))
                    .collect(),
            );
            SnapshotAccount {
                address,
                record: AccountRecord {
                    nonce: i,
                    balance: U256::from(i) * U256::from(1_000_000_007u64),
                    code_hash: code.as_ref().map_or(KECCAK_EMPTY, keccak256),
                    storage_root: storage_tree.root.hash(),
                },
                storage,
                code,
            }
        })
        .collect()
}

/// The state root the node's incremental commits give, in two batches.
fn committed_root(accounts: &[SnapshotAccount]) -> B256 {
    let mut tree = MemNodes::default();
    let (first, second) = accounts.split_at(accounts.len() / 2);
    for batch in [first, second] {
        tree.apply(
            batch
                .iter()
                .map(|a| (keccak256(a.address), Some(a.record.commitment())))
                .collect(),
        );
    }
    tree.root.hash()
}

fn chunks(accounts: &[SnapshotAccount]) -> Vec<Vec<SnapshotAccount>> {
    let mut chunks = vec![Vec::new(); CHUNKS];
    for account in accounts {
        chunks[chunk_of(&account.address)].push(account.clone());
    }
    chunks
}

fn manifest(accounts: &[SnapshotAccount]) -> Manifest {
    Manifest::of(accounts.iter().map(|a| (a.address, a.record)))
}

#[test]
fn the_manifest_proves_against_the_committed_root_for_any_account_set() {
    for n in [0, 1, 2, 3, 17, 255, 256, 1_000, 5_000] {
        let accounts = accounts(n);
        let root = committed_root(&accounts);
        let manifest = manifest(&accounts);
        assert_eq!(manifest.root(), root, "{n} accounts");
        manifest.check(root).unwrap();
        for (chunk, accounts) in chunks(&accounts).iter().enumerate() {
            manifest.check_chunk(chunk, accounts).unwrap();
        }
    }
}

#[test]
fn a_manifest_for_another_root_is_refused() {
    let accounts = accounts(300);
    let root = committed_root(&accounts);
    let mut manifest = manifest(&accounts);
    let taken = manifest
        .subtrees
        .iter()
        .position(|c| !c.is_empty())
        .unwrap();
    manifest.subtrees[taken] = Child::Empty;
    assert!(matches!(
        manifest.check(root),
        Err(SnapshotError::ManifestRoot { .. })
    ));
    manifest.subtrees.pop();
    assert_eq!(
        manifest.check(root),
        Err(SnapshotError::ManifestSize(CHUNKS - 1))
    );
}

#[test]
fn a_chunk_that_does_not_match_the_root_is_refused() {
    let accounts = accounts(3_000);
    let manifest = manifest(&accounts);
    manifest.check(committed_root(&accounts)).unwrap();
    let chunks = chunks(&accounts);
    // A chunk with storage and code, to alter each part of it.
    let (index, honest) = chunks
        .iter()
        .enumerate()
        .find(|(_, c)| {
            c.iter().any(|a| !a.storage.is_empty()) && c.iter().any(|a| a.code.is_some())
        })
        .unwrap();
    let with_storage = honest.iter().position(|a| !a.storage.is_empty()).unwrap();
    let with_code = honest.iter().position(|a| a.code.is_some()).unwrap();
    let check = |edit: &dyn Fn(&mut Vec<SnapshotAccount>)| {
        let mut chunk = honest.clone();
        edit(&mut chunk);
        manifest.check_chunk(index, &chunk)
    };
    assert_eq!(check(&|_| {}), Ok(()));
    // A balance raised: the chunk no longer gives its entry.
    assert_eq!(
        check(&|c| c[0].record.balance += U256::from(1)),
        Err(SnapshotError::ChunkRoot(index))
    );
    // An account left out, or one made up.
    assert_eq!(
        check(&|c| {
            c.pop();
        }),
        Err(SnapshotError::ChunkRoot(index))
    );
    let made_up = (0u64..)
        .map(|i| Address::from_word(keccak256((i + 1_000_000).to_be_bytes())))
        .find(|a| chunk_of(a) == index)
        .unwrap();
    assert_eq!(
        check(&|c| {
            let mut extra = c[0].clone();
            extra.address = made_up;
            c.push(extra);
        }),
        Err(SnapshotError::ChunkRoot(index))
    );
    // An account twice.
    assert!(matches!(
        check(&|c| c.push(c[0].clone())),
        Err(SnapshotError::Duplicate(_))
    ));
    // An account of another chunk.
    let stranger = chunks[(index + 1) % CHUNKS][0].clone();
    assert!(matches!(
        check(&|c| c.push(stranger.clone())),
        Err(SnapshotError::WrongChunk { .. })
    ));
    // A storage slot altered, dropped, or zero.
    let address = honest[with_storage].address;
    assert_eq!(
        check(&|c| c[with_storage].storage[0].1 = B256::repeat_byte(9)),
        Err(SnapshotError::StorageRoot(address))
    );
    assert_eq!(
        check(&|c| {
            c[with_storage].storage.pop();
        }),
        Err(SnapshotError::StorageRoot(address))
    );
    // Code altered or withheld.
    let coded = honest[with_code].address;
    assert_eq!(
        check(&|c| c[with_code].code = Some(Bytes::from(vec![0xfe]))),
        Err(SnapshotError::Code(coded))
    );
    assert_eq!(
        check(&|c| c[with_code].code = None),
        Err(SnapshotError::Code(coded))
    );
    // A chunk number past the end.
    assert_eq!(
        manifest.check_chunk(CHUNKS, honest),
        Err(SnapshotError::NoSuchChunk(CHUNKS))
    );
}
