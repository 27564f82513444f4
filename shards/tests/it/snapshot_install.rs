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

/// Init code that stores 42 in slot 0 and leaves runtime code that sets slot 0 to zero.
const CLEARABLE: &str = "602a6000556005601160003960056000f36000600055";

fn headers_at(chain: &ShardChain, height: u64) -> Vec<kaimeng_shards::SealedHeader> {
    (height.saturating_sub(255)..=height)
        .map(|n| chain.header(n).unwrap().unwrap())
        .collect()
}

/// A chain whose block 3 leaves a contract with slot 0 = 42, and whose later blocks clear
/// that slot and move balances on.
fn chain_that_moves_on() -> (TestChain, Address) {
    let a = new_chain();
    grow(&a, 2);
    let chain = &a.chain;
    let nonce = chain.pending_nonce(&addr(2)).unwrap();
    let init = Bytes::from(alloy_primitives::hex::decode(CLEARABLE).unwrap());
    chain
        .submit_raw(&eip1559(
            chain,
            2,
            nonce,
            TxKind::Create,
            U256::ZERO,
            init,
            200_000,
        ))
        .unwrap();
    seal(chain);
    let contract = addr(2).create(nonce);
    assert_eq!(
        chain
            .latest_state()
            .storage_value(&contract, &B256::ZERO)
            .unwrap(),
        U256::from(42)
    );
    chain
        .submit_raw(&eip1559(
            chain,
            2,
            nonce + 1,
            TxKind::Call(contract),
            U256::ZERO,
            Bytes::new(),
            100_000,
        ))
        .unwrap();
    seal(chain);
    assert!(
        chain
            .latest_state()
            .storage_value(&contract, &B256::ZERO)
            .unwrap()
            .is_zero()
    );
    grow(&a, 2);
    (a, contract)
}

#[test]
fn a_snapshot_read_from_history_is_the_state_at_its_height_while_the_head_moved_on() {
    let (a, contract) = chain_that_moves_on();
    let store = a.chain.store();
    for height in [0, 1, 3, 4, a.chain.head().number()] {
        let chunks = snapshot_store::read_chunks_at(store, height).unwrap();
        let manifest = Manifest::of(chunks.iter().flatten().map(|x| (x.address, x.record)));
        let header = a.chain.header(height).unwrap().unwrap();
        manifest.check(header.header.state_root).unwrap();
        for (index, chunk) in chunks.iter().enumerate() {
            manifest.check_chunk(index, chunk).unwrap();
        }
        let slot = chunks
            .iter()
            .flatten()
            .find(|x| x.address == contract)
            .map(|x| x.storage.clone());
        match height {
            // Before the contract, at its creation, and after its slot was cleared.
            0 | 1 => assert_eq!(slot, None),
            3 => assert_eq!(slot, Some(vec![(B256::ZERO, B256::from(U256::from(42)))])),
            _ => assert_eq!(slot, Some(vec![])),
        }
    }
    // At the head, the history read and the latest read agree.
    let head = a.chain.head().number();
    assert_eq!(
        snapshot_store::read_chunks_at(store, head).unwrap(),
        snapshot_store::read_chunks(&a.chain.latest_state()).unwrap()
    );
}

#[test]
fn a_running_chain_at_genesis_takes_a_snapshot_in_place_and_then_follows() {
    let (a, contract) = chain_that_moves_on();
    let height = 3;
    let chunks = snapshot_store::read_chunks_at(a.chain.store(), height).unwrap();
    let manifest = Manifest::of(chunks.iter().flatten().map(|x| (x.address, x.record)));
    let b = new_chain();

    // An altered account is refused; the chain stays at genesis and still works.
    let mut altered = chunks.clone();
    let index = altered.iter().position(|c| !c.is_empty()).unwrap();
    altered[index][0].record.nonce += 1;
    let refused = b.chain.install_snapshot(
        &b.genesis,
        &manifest,
        &altered,
        &headers_at(&a.chain, height),
    );
    assert!(
        matches!(refused, Err(InstallError::Snapshot(_))),
        "{refused:?}"
    );
    assert_eq!(b.chain.head().number(), 0);
    let at_genesis = kaimeng_shards::state::StateAt::at_block(a.chain.store().clone(), 0);
    assert_eq!(
        balance(&b.chain, addr(0)),
        at_genesis.account(&addr(0)).unwrap().unwrap().balance,
        "the genesis state is untouched"
    );

    let head = b
        .chain
        .install_snapshot(
            &b.genesis,
            &manifest,
            &chunks,
            &headers_at(&a.chain, height),
        )
        .unwrap();
    assert_eq!(head.hash, a.chain.header(height).unwrap().unwrap().hash);
    assert_eq!(b.chain.head().number(), height);
    assert!(
        b.chain.block(1).unwrap().is_none(),
        "no history below the snapshot"
    );
    assert_eq!(
        b.chain
            .latest_state()
            .storage_value(&contract, &B256::ZERO)
            .unwrap(),
        U256::from(42)
    );
    // A second install is refused: the chain is no longer at genesis.
    assert!(matches!(
        b.chain.install_snapshot(
            &b.genesis,
            &manifest,
            &chunks,
            &headers_at(&a.chain, height)
        ),
        Err(InstallError::NotEmpty)
    ));

    // It re-executes every later block of the original to the same hash.
    let rules = BlockRules::from_config(b.chain.config());
    for number in height + 1..=a.chain.head().number() {
        let block = a.chain.block(number).unwrap().unwrap();
        let checked = b
            .chain
            .verify(&block.header.header, block.txs.clone(), Vec::new(), &rules)
            .unwrap();
        assert_eq!(checked.block.hash(), block.hash());
        b.chain.finalize(checked).unwrap();
    }
    for who in [addr(0), addr(1), addr(2), Address::with_last_byte(7)] {
        assert_eq!(balance(&b.chain, who), balance(&a.chain, who));
    }
    // Reopened after the install, it is at the same head with the same state.
    let b_head = b.chain.head();
    let dir = b.dir;
    drop(b.chain);
    let reopened = open(dir.path(), &b.genesis);
    assert_eq!(reopened.head(), b_head);
    assert!(
        reopened
            .latest_state()
            .storage_value(&contract, &B256::ZERO)
            .unwrap()
            .is_zero()
    );
}
