//! Installing a shard state snapshot into an empty store (issue 11, item 4's last step): the
//! chunks read from a real chain's state, checked against its head's state root, give a chain
//! that opens at that head without history and then follows the original block for block; a
//! snapshot with one account altered is refused and leaves the store empty.

use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use kaimeng_shards::snapshot::Manifest;
use kaimeng_shards::snapshot_store::{self, InstallError};
use kaimeng_shards::{BlockRules, ShardChain, ShardConfig};

use crate::common::*;

/// Init code that stores 42 in slot 0 and leaves the runtime code `PUSH1 0`.
const INIT: &str = "602a6000556002601160003960026000f36000";

fn grow(t: &TestChain, blocks: u64) {
    let chain = &t.chain;
    for round in 0..blocks {
        let nonce = chain.pending_nonce(&addr(0)).unwrap();
        for i in 0..5u64 {
            let to = Address::with_last_byte((round * 5 + i) as u8 + 1);
            chain
                .submit_raw(&transfer(chain, 0, nonce + i, to, 1_000 + i))
                .unwrap();
        }
        let nonce = chain.pending_nonce(&addr(1)).unwrap();
        let init = Bytes::from(alloy_primitives::hex::decode(INIT).unwrap());
        chain
            .submit_raw(&eip1559(
                chain,
                1,
                nonce,
                TxKind::Create,
                U256::ZERO,
                init,
                200_000,
            ))
            .unwrap();
        seal(chain);
    }
}

fn headers(chain: &ShardChain) -> Vec<kaimeng_shards::SealedHeader> {
    let head = chain.head().number();
    let mut out = vec![chain.header(0).unwrap().unwrap()];
    out.extend((head.saturating_sub(255).max(1)..=head).map(|n| chain.header(n).unwrap().unwrap()));
    out
}

#[test]
fn a_checked_snapshot_opens_a_chain_at_the_head_that_then_follows_block_for_block() {
    let a = new_chain();
    grow(&a, 6);
    let state = a.chain.latest_state();
    let manifest = Manifest::of(snapshot_store::accounts(&state).unwrap());
    let chunks = snapshot_store::read_chunks(&state).unwrap();
    let count: usize = chunks.iter().map(Vec::len).sum();
    assert!(
        count >= 20,
        "{count} accounts, head {}",
        a.chain.head().number()
    );

    let dir = tempfile::tempdir().unwrap();
    let store = kaimeng_shards::open_store(dir.path(), &Default::default()).unwrap();
    let head = snapshot_store::install(&store, &a.genesis, &manifest, &chunks, &headers(&a.chain))
        .unwrap();
    assert_eq!(head.hash, a.chain.head().hash);
    let b =
        ShardChain::open_with(store, &a.genesis, ShardConfig::from_genesis(&a.genesis, 0)).unwrap();
    assert_eq!(b.head().hash, a.chain.head().hash);
    for who in [addr(0), addr(1), Address::with_last_byte(7)] {
        assert_eq!(balance(&b, who), balance(&a.chain, who));
    }
    let contract = addr(1).create(0);
    assert_eq!(
        b.latest_state()
            .storage_value(&contract, &B256::ZERO)
            .unwrap(),
        U256::from(42)
    );
    // No history below the snapshot: the blocks are not there, and saying so is no error.
    assert!(b.block(3).unwrap().is_none());

    // The original goes on; the installed chain re-executes each block to the same hash.
    grow(&a, 3);
    let rules = BlockRules::from_config(b.config());
    for number in b.head().number() + 1..=a.chain.head().number() {
        let block = a.chain.block(number).unwrap().unwrap();
        let checked = b
            .verify(&block.header.header, block.txs.clone(), Vec::new(), &rules)
            .unwrap();
        assert_eq!(checked.block.hash(), block.hash());
        b.finalize(checked).unwrap();
    }
    assert_eq!(b.head().hash, a.chain.head().hash);
    assert!(b.block(b.head().number()).unwrap().is_some());
}

#[test]
fn a_snapshot_with_an_altered_account_is_refused_and_writes_nothing() {
    let a = new_chain();
    grow(&a, 2);
    let state = a.chain.latest_state();
    let manifest = Manifest::of(snapshot_store::accounts(&state).unwrap());
    let mut chunks = snapshot_store::read_chunks(&state).unwrap();
    let chunk = chunks.iter().position(|c| !c.is_empty()).unwrap();
    chunks[chunk][0].record.balance += U256::from(1);
    let dir = tempfile::tempdir().unwrap();
    let store = kaimeng_shards::open_store(dir.path(), &Default::default()).unwrap();
    let refused =
        snapshot_store::install(&store, &a.genesis, &manifest, &chunks, &headers(&a.chain));
    assert!(
        matches!(refused, Err(InstallError::Snapshot(_))),
        "{refused:?}"
    );
    assert!(
        store
            .get(
                kaimeng_shards::schema::META,
                kaimeng_shards::schema::META_HEAD
            )
            .unwrap()
            .is_none()
    );
    // A manifest for another root is refused before any chunk is read.
    let other = Manifest::of(Vec::new());
    let refused = snapshot_store::install(&store, &a.genesis, &other, &chunks, &headers(&a.chain));
    assert!(
        refused
            .unwrap_err()
            .to_string()
            .contains("does not prove against state root")
    );
}
