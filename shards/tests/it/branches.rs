//! Blocks built and checked on unfinalized parents, as the BFT engine drives them: the state
//! they see, what finalizing one does to its ancestors and siblings, and what happens to the
//! transactions of an abandoned branch.

use alloy_primitives::{Address, B256, U256};
use kaimeng_shards::{ChainError, schema};

use crate::common::*;

fn block_txs(block: &kaimeng_shards::StoredBlock) -> Vec<std::sync::Arc<kaimeng_shards::ShardTx>> {
    block.txs.clone()
}

#[test]
fn a_chain_of_unfinalized_blocks_executes_on_its_parents_state_and_finalizes_in_order() {
    let proposer = new_chain();
    let follower = open(
        tempfile::tempdir().unwrap().keep().as_path(),
        &proposer.genesis,
    );
    let to = Address::repeat_byte(0x42);
    let genesis_hash = proposer.chain.head().hash;
    let ts = proposer.chain.head().header.timestamp;

    proposer
        .chain
        .submit_raw(&transfer(&proposer.chain, 1, 0, to, 5))
        .unwrap();
    let a = proposer
        .chain
        .propose_on(
            &genesis_hash,
            ts + 1,
            addr(9),
            100,
            &dev_rules(),
            Vec::new(),
        )
        .unwrap();
    proposer
        .chain
        .submit_raw(&transfer(&proposer.chain, 1, 1, to, 7))
        .unwrap();
    let b = proposer
        .chain
        .propose_on(&a.hash(), ts + 2, addr(9), 100, &dev_rules(), Vec::new())
        .unwrap();
    // B holds only the new transaction: A's is already spent in B's parent state.
    assert_eq!(b.txs.iter().map(|t| t.nonce()).collect::<Vec<_>>(), vec![1]);
    assert_eq!(
        proposer.chain.head().hash,
        genesis_hash,
        "nothing is final yet"
    );
    assert_eq!(balance(&proposer.chain, to), U256::ZERO);

    // Another validator checks both before either is final.
    follower
        .verify_on(&a.header.header, block_txs(&a), Vec::new(), &dev_rules())
        .unwrap();
    follower
        .verify_on(&b.header.header, block_txs(&b), Vec::new(), &dev_rules())
        .unwrap();

    for chain in [&proposer.chain, &follower] {
        let finalized = chain.finalize_pending(&b.hash()).unwrap();
        assert_eq!(
            finalized.iter().map(|f| f.number()).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert_eq!(chain.head().hash, b.hash());
        assert_eq!(balance(chain, to), U256::from(12));
        assert!(
            chain.pending_block(&b.hash()).is_none(),
            "final blocks leave the pending set"
        );
    }
    assert!(proposer.chain.pool().is_empty());
}

#[test]
fn roots_built_on_a_pending_parent_equal_roots_built_after_it_is_final() {
    let branched = new_chain();
    let sequential = open(
        tempfile::tempdir().unwrap().keep().as_path(),
        &branched.genesis,
    );
    let ts = branched.chain.head().header.timestamp;
    // Several senders and a contract-free mix of new and existing accounts.
    let txs_a = [
        transfer(&branched.chain, 1, 0, addr(2), 3),
        transfer(&branched.chain, 3, 0, Address::repeat_byte(7), 4),
    ];
    let txs_b = [
        transfer(&branched.chain, 2, 0, addr(1), 1),
        transfer(&branched.chain, 1, 1, Address::repeat_byte(7), 9),
    ];

    for raw in &txs_a {
        branched.chain.submit_raw(raw).unwrap();
    }
    let a = branched
        .chain
        .propose_on(
            &branched.chain.head().hash,
            ts + 1,
            addr(9),
            100,
            &dev_rules(),
            Vec::new(),
        )
        .unwrap();
    for raw in &txs_b {
        branched.chain.submit_raw(raw).unwrap();
    }
    let b = branched
        .chain
        .propose_on(&a.hash(), ts + 2, addr(9), 100, &dev_rules(), Vec::new())
        .unwrap();

    for raw in &txs_a {
        sequential.submit_raw(raw).unwrap();
    }
    let a_seq = sequential.propose(ts + 1, addr(9), 100).unwrap();
    let a_seq = sequential.finalize(a_seq).unwrap();
    for raw in &txs_b {
        sequential.submit_raw(raw).unwrap();
    }
    let b_seq = sequential.propose(ts + 2, addr(9), 100).unwrap();
    assert_eq!(a.header, a_seq.header);
    assert_eq!(
        b.header.header.state_root,
        b_seq.block.header.header.state_root
    );
    assert_eq!(b.hash(), b_seq.block.hash(), "same block either way");
}

#[test]
fn finalizing_one_branch_abandons_its_sibling_and_keeps_the_sibling_transactions_pooled() {
    let t = new_chain();
    let genesis_hash = t.chain.head().hash;
    let ts = t.chain.head().header.timestamp;
    t.chain
        .submit_raw(&transfer(&t.chain, 1, 0, addr(2), 1))
        .unwrap();
    let left = t
        .chain
        .propose_on(
            &genesis_hash,
            ts + 1,
            addr(9),
            100,
            &dev_rules(),
            Vec::new(),
        )
        .unwrap();
    // A sibling built later, e.g. by the next leader after a timeout, with another tx too.
    t.chain
        .submit_raw(&transfer(&t.chain, 4, 0, addr(2), 1))
        .unwrap();
    let right = t
        .chain
        .propose_on(
            &genesis_hash,
            ts + 2,
            addr(8),
            100,
            &dev_rules(),
            Vec::new(),
        )
        .unwrap();
    assert_eq!(right.txs.len(), 2);
    let on_left = t
        .chain
        .propose_on(&left.hash(), ts + 3, addr(9), 100, &dev_rules(), Vec::new())
        .unwrap();
    assert_eq!(on_left.txs.len(), 1, "only the tx left does not have");

    let finalized = t.chain.finalize_pending(&right.hash()).unwrap();
    assert_eq!(finalized.len(), 1);
    assert!(t.chain.pending_block(&left.hash()).is_none());
    assert!(t.chain.pending_block(&on_left.hash()).is_none());
    assert!(matches!(
        t.chain.finalize_pending(&on_left.hash()),
        Err(ChainError::UnknownBlock(_))
    ));
    assert!(
        t.chain.pool().is_empty(),
        "right included both transactions"
    );
}

#[test]
fn transactions_of_an_abandoned_branch_stay_pooled_until_included() {
    let t = new_chain();
    let genesis_hash = t.chain.head().hash;
    let ts = t.chain.head().header.timestamp;
    t.chain
        .submit_raw(&transfer(&t.chain, 1, 0, addr(2), 1))
        .unwrap();
    let left = t
        .chain
        .propose_on(
            &genesis_hash,
            ts + 1,
            addr(9),
            100,
            &dev_rules(),
            Vec::new(),
        )
        .unwrap();
    // Building on `left` skips the tx (nonce too low there); it must not leave the pool.
    let child = t
        .chain
        .propose_on(&left.hash(), ts + 2, addr(9), 100, &dev_rules(), Vec::new())
        .unwrap();
    assert!(child.txs.is_empty());
    assert_eq!(t.chain.pool().len(), 1);
    // The branch is abandoned: a sibling of `left` built without the tx becomes final...
    let empty = t.chain.verify_on(
        &{
            let other = new_chain();
            let proposed = other.chain.propose(ts + 1, addr(8), 100).unwrap();
            proposed.block.header.header.clone()
        },
        Vec::new(),
        Vec::new(),
        &dev_rules(),
    );
    let empty = empty.unwrap();
    t.chain.finalize_pending(&empty.hash()).unwrap();
    // ...and the next block on the new head still carries the transaction.
    let next = t
        .chain
        .propose_on(
            &empty.hash(),
            ts + 3,
            addr(9),
            100,
            &dev_rules(),
            Vec::new(),
        )
        .unwrap();
    assert_eq!(next.txs.len(), 1);
}

#[test]
fn unknown_parents_and_wrong_numbers_are_refused() {
    let t = new_chain();
    let err = t
        .chain
        .propose_on(
            &B256::repeat_byte(1),
            1,
            addr(9),
            10,
            &dev_rules(),
            Vec::new(),
        )
        .unwrap_err();
    assert!(matches!(err, ChainError::UnknownParent(_)), "{err}");
    let mut header = t
        .chain
        .propose(t.chain.head().header.timestamp + 1, addr(9), 10)
        .unwrap()
        .block
        .header
        .header;
    header.number = 5;
    let err = t
        .chain
        .verify_on(&header, Vec::new(), Vec::new(), &dev_rules())
        .unwrap_err();
    assert!(err.to_string().contains("does not follow"), "{err}");
    assert!(matches!(
        t.chain.finalize_pending(&B256::repeat_byte(2)),
        Err(ChainError::UnknownBlock(_))
    ));
}

#[test]
fn after_a_restart_a_kept_block_is_re_executed_from_its_persisted_body() {
    let dir = tempfile::tempdir().unwrap();
    let genesis = genesis();
    let (a_hash, ts) = {
        let chain = open(dir.path(), &genesis);
        let ts = chain.head().header.timestamp;
        chain
            .submit_raw(&transfer(&chain, 1, 0, addr(2), 5))
            .unwrap();
        let a = chain
            .propose_on(
                &chain.head().hash,
                ts + 1,
                addr(9),
                100,
                &dev_rules(),
                Vec::new(),
            )
            .unwrap();
        (a.hash(), ts)
    };
    // The process died with `a` notarized but not final; the engine now extends it.
    let chain = open(dir.path(), &genesis);
    assert_eq!(chain.head().number(), 0);
    let b = chain
        .propose_on(&a_hash, ts + 2, addr(9), 100, &dev_rules(), Vec::new())
        .unwrap();
    let finalized = chain.finalize_pending(&b.hash()).unwrap();
    assert_eq!(
        finalized.iter().map(|f| f.number()).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(finalized[0].hash(), a_hash);
    assert_eq!(
        balance(&chain, addr(2)) - balance(&new_chain().chain, addr(2)),
        U256::from(5)
    );
    // Final bodies are no longer kept.
    assert!(matches!(
        chain.propose_on(&a_hash, ts + 3, addr(9), 100, &dev_rules(), Vec::new()),
        Err(ChainError::UnknownParent(_))
    ));
}

fn indexed_number(chain: &kaimeng_shards::ShardChain, hash: &B256) -> Option<u64> {
    chain
        .store()
        .get(schema::PENDING_NUMBERS, hash)
        .unwrap()
        .map(|v| u64::from_be_bytes(v.try_into().unwrap()))
}

fn kept_bodies(chain: &kaimeng_shards::ShardChain) -> usize {
    chain
        .store()
        .scan_prefix(schema::PENDING_BODIES, &[])
        .unwrap()
        .len()
}

#[test]
fn kept_bodies_are_indexed_by_hash_and_forgotten_with_their_index_when_final_or_abandoned() {
    let t = new_chain();
    let genesis_hash = t.chain.head().hash;
    let ts = t.chain.head().header.timestamp;
    let left = t
        .chain
        .propose_on(
            &genesis_hash,
            ts + 1,
            addr(9),
            100,
            &dev_rules(),
            Vec::new(),
        )
        .unwrap();
    let right = t
        .chain
        .propose_on(
            &genesis_hash,
            ts + 2,
            addr(8),
            100,
            &dev_rules(),
            Vec::new(),
        )
        .unwrap();
    let on_right = t
        .chain
        .propose_on(
            &right.hash(),
            ts + 3,
            addr(8),
            100,
            &dev_rules(),
            Vec::new(),
        )
        .unwrap();
    assert_eq!(indexed_number(&t.chain, &left.hash()), Some(1));
    assert_eq!(indexed_number(&t.chain, &right.hash()), Some(1));
    assert_eq!(indexed_number(&t.chain, &on_right.hash()), Some(2));
    assert_eq!(kept_bodies(&t.chain), 3);

    t.chain.finalize_pending(&right.hash()).unwrap();
    assert_eq!(indexed_number(&t.chain, &left.hash()), None, "abandoned");
    assert_eq!(indexed_number(&t.chain, &right.hash()), None, "final");
    assert_eq!(indexed_number(&t.chain, &on_right.hash()), Some(2));
    assert_eq!(kept_bodies(&t.chain), 1, "only the still-pending child");
}

#[test]
fn a_data_directory_written_without_the_pending_index_is_indexed_once_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let genesis = genesis();
    let (a_hash, ts) = {
        let chain = open(dir.path(), &genesis);
        let ts = chain.head().header.timestamp;
        chain
            .submit_raw(&transfer(&chain, 1, 0, addr(2), 5))
            .unwrap();
        let a = chain
            .propose_on(
                &chain.head().hash,
                ts + 1,
                addr(9),
                100,
                &dev_rules(),
                Vec::new(),
            )
            .unwrap();
        // What a data directory from before the index holds: the body, no index, no marker.
        let mut batch = chain.store().batch();
        batch.delete(schema::PENDING_NUMBERS, a.hash()).unwrap();
        batch
            .delete(schema::META, schema::META_PENDING_INDEX)
            .unwrap();
        chain.store().write(batch).unwrap();
        assert_eq!(indexed_number(&chain, &a.hash()), None);
        (a.hash(), ts)
    };
    let chain = open(dir.path(), &genesis);
    assert_eq!(indexed_number(&chain, &a_hash), Some(1), "indexed on open");
    assert!(
        chain
            .store()
            .get(schema::META, schema::META_PENDING_INDEX)
            .unwrap()
            .is_some()
    );
    let b = chain
        .propose_on(&a_hash, ts + 2, addr(9), 100, &dev_rules(), Vec::new())
        .unwrap();
    assert_eq!(b.number(), 2, "the kept block was found through the index");
    assert_eq!(chain.finalize_pending(&b.hash()).unwrap().len(), 2);
    assert_eq!(kept_bodies(&chain), 0);
}

#[test]
fn a_body_abandoned_while_not_in_memory_is_forgotten_at_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let genesis = genesis();
    let ts = {
        let chain = open(dir.path(), &genesis);
        let ts = chain.head().header.timestamp;
        chain
            .propose_on(
                &chain.head().hash,
                ts + 1,
                addr(9),
                100,
                &dev_rules(),
                Vec::new(),
            )
            .unwrap();
        ts
    };
    {
        // After a restart a sibling becomes final; the first body was never read back.
        let chain = open(dir.path(), &genesis);
        let sibling = chain
            .propose_on(
                &chain.head().hash,
                ts + 2,
                addr(8),
                100,
                &dev_rules(),
                Vec::new(),
            )
            .unwrap();
        chain.finalize_pending(&sibling.hash()).unwrap();
        assert_eq!(
            kept_bodies(&chain),
            1,
            "unknown to this run, so still on disk"
        );
    }
    let chain = open(dir.path(), &genesis);
    assert_eq!(chain.head().number(), 1);
    assert_eq!(
        kept_bodies(&chain),
        0,
        "at or below the head: forgotten on open"
    );
    assert!(
        chain
            .store()
            .scan_prefix(schema::PENDING_NUMBERS, &[])
            .unwrap()
            .is_empty()
    );
}
