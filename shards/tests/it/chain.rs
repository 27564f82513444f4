//! Blocks, receipts, fees and restarts.

use alloy_consensus::Transaction;
use alloy_primitives::{Address, Bytes, TxKind, U256};
use kaimeng_shards::pool::PoolStatus;
use kaimeng_shards::{ChainError, TxStatus};

use crate::common::*;

#[test]
fn genesis_funds_the_dev_accounts_and_is_stable_across_opens() {
    let t = new_chain();
    let head = t.chain.head();
    assert_eq!(head.number(), 0);
    assert_eq!(
        balance(&t.chain, addr(0)),
        U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18))
    );
    let other = tempfile::tempdir().unwrap();
    let again = open(other.path(), &t.genesis);
    assert_eq!(
        again.head().hash,
        head.hash,
        "same genesis, same genesis block"
    );
}

#[test]
fn a_transfer_moves_value_pays_base_fee_to_treasury_and_tip_to_fee_recipient() {
    let t = new_chain();
    let c = &t.chain;
    let to = Address::repeat_byte(0x42);
    let before = balance(c, addr(0));
    let treasury_before = balance(c, c.config().treasury);
    let tip_before = balance(c, addr(9));
    c.submit_raw(&transfer(c, 0, 0, to, 1_000)).unwrap();
    let base_fee = c.next_base_fee();
    let block = seal(c);
    assert_eq!(block.txs.len(), 1);
    let receipt = &block.receipts[0];
    assert!(receipt.envelope.status());
    assert_eq!(receipt.gas_used, 21_000);
    assert_eq!(balance(c, to), U256::from(1_000u64));
    let tip = block.txs[0]
        .envelope
        .effective_tip_per_gas(base_fee)
        .unwrap();
    let gas = U256::from(21_000u64);
    assert_eq!(
        balance(c, c.config().treasury) - treasury_before,
        gas * U256::from(base_fee)
    );
    assert_eq!(balance(c, addr(9)) - tip_before, gas * U256::from(tip));
    assert_eq!(
        before - balance(c, addr(0)),
        U256::from(1_000u64) + gas * U256::from(base_fee as u128 + tip)
    );
    assert_eq!(c.tx_location(&block.txs[0].hash).unwrap(), Some((1, 0)));
}

#[test]
fn the_base_fee_follows_eip1559_and_never_drops_below_the_floor() {
    let t = new_chain();
    let c = &t.chain;
    let floor = c.config().min_base_fee;
    for _ in 0..5 {
        seal(c);
        assert!(c.head().header.base_fee_per_gas.unwrap() >= floor);
    }
    assert_eq!(
        c.head().header.base_fee_per_gas.unwrap(),
        floor,
        "empty blocks settle at the floor"
    );
}

#[test]
fn restart_keeps_head_state_and_receipts() {
    let t = new_chain();
    let to = Address::repeat_byte(7);
    for nonce in 0..3 {
        t.chain
            .submit_raw(&transfer(&t.chain, 1, nonce, to, 5))
            .unwrap();
        seal(&t.chain);
    }
    let head = t.chain.head();
    let receipts = t
        .chain
        .block(head.number())
        .unwrap()
        .unwrap()
        .receipts
        .len();
    let path = t.dir.path().to_owned();
    let genesis = t.genesis.clone();
    drop(t.chain);
    let reopened = open(&path, &genesis);
    assert_eq!(reopened.head(), head);
    assert_eq!(balance(&reopened, to), U256::from(15u64));
    assert_eq!(
        reopened
            .block(head.number())
            .unwrap()
            .unwrap()
            .receipts
            .len(),
        receipts
    );
    assert_eq!(
        reopened
            .latest_state()
            .account(&addr(1))
            .unwrap()
            .unwrap()
            .nonce,
        3
    );
}

#[test]
fn the_newest_blocks_served_from_memory_equal_the_stored_ones() {
    let t = new_chain();
    let to = Address::repeat_byte(9);
    let count = 70u64; // more than the 64 kept in memory
    for nonce in 0..count {
        t.chain
            .submit_raw(&transfer(&t.chain, 2, nonce, to, 1))
            .unwrap();
        seal(&t.chain);
    }
    let served: Vec<Vec<u8>> = (0..=count)
        .map(|n| kaimeng_shards::wire::encode_block(&t.chain.block(n).unwrap().unwrap()))
        .collect();
    assert!(t.chain.block(count + 1).unwrap().is_none());
    let path = t.dir.path().to_owned();
    let genesis = t.genesis.clone();
    drop(t.chain);
    // A reopened chain has nothing in memory: every block comes from disk.
    let reopened = open(&path, &genesis);
    for n in 0..=count {
        let stored = kaimeng_shards::wire::encode_block(&reopened.block(n).unwrap().unwrap());
        assert_eq!(served[n as usize], stored, "block {n}");
    }
    assert_eq!(reopened.block(count).unwrap().unwrap().txs.len(), 1);
}

#[test]
fn a_store_is_refused_for_another_genesis() {
    let t = new_chain();
    let path = t.dir.path().to_owned();
    drop(t.chain);
    let mut other = genesis();
    other.chain_id_base += 1;
    let store = kaimeng_shards::open_store(&path, &Default::default()).unwrap();
    match kaimeng_shards::ShardChain::open(store, &other, 0) {
        Err(ChainError::GenesisMismatch { .. }) => {}
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("opened a store written for another genesis"),
    }
}

#[test]
fn a_second_open_of_the_same_directory_is_refused_with_a_clear_error() {
    let t = new_chain();
    let error = kaimeng_shards::open_store(t.dir.path(), &Default::default())
        .err()
        .expect("second open must fail");
    let text = error.to_string();
    assert!(text.contains("in use by another process"), "{text}");
}

#[test]
fn verify_accepts_an_honest_proposal_and_rejects_a_tampered_one() {
    let a = new_chain();
    let b = new_chain();
    let raw = transfer(&a.chain, 0, 0, Address::repeat_byte(1), 9);
    a.chain.submit_raw(&raw).unwrap();
    let proposed = a
        .chain
        .propose(a.chain.head().header.timestamp + 1, addr(9), 100)
        .unwrap();
    let header = proposed.block.header.header.clone();
    let txs = proposed.block.txs.clone();
    let verified = b
        .chain
        .verify(&header, txs.clone(), Vec::new(), &dev_rules())
        .expect("honest proposal verifies");
    assert_eq!(verified.block.header.hash, proposed.block.header.hash);
    let mut forged = header.clone();
    forged.state_root = alloy_primitives::B256::repeat_byte(3);
    assert!(matches!(
        b.chain.verify(&forged, txs, Vec::new(), &dev_rules()),
        Err(ChainError::InvalidProposal(_))
    ));
}

#[test]
fn state_read_through_the_cache_while_blocks_are_sealed_equals_the_stored_state() {
    let t = new_chain();
    let recipients: Vec<Address> = (0..8u8).map(Address::repeat_byte).collect();
    let watched: Vec<Address> = (0..4).map(addr).chain(recipients.iter().copied()).collect();
    let sealing_done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        // Readers fill the cache with whatever is latest while blocks are written.
        for _ in 0..2 {
            scope.spawn(|| {
                while !sealing_done.load(std::sync::atomic::Ordering::Relaxed) {
                    let state = t.chain.latest_state();
                    for a in &watched {
                        state.account(a).unwrap();
                    }
                }
            });
        }
        for nonce in 0..30u64 {
            for from in 0..4 {
                let to = recipients[(nonce as usize + from) % recipients.len()];
                t.chain
                    .submit_raw(&transfer(&t.chain, from, nonce, to, 1 + nonce))
                    .unwrap();
            }
            assert_eq!(seal(&t.chain).txs.len(), 4);
        }
        sealing_done.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let cached = t.chain.latest_state();
    let stored = kaimeng_shards::StateAt::latest(t.chain.store().clone());
    for a in &watched {
        assert_eq!(
            cached.account(a).unwrap(),
            stored.account(a).unwrap(),
            "{a}"
        );
        let (c, s) = (cached.proof(a, &[]).unwrap(), stored.proof(a, &[]).unwrap());
        assert_eq!(c.account_proof, s.account_proof, "proof of {a}");
    }
    assert_eq!(cached.account(&addr(0)).unwrap().unwrap().nonce, 30);
}

#[test]
fn a_data_directory_of_the_previous_format_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shard");
    let options = kaimeng_l1::storage::StoreOptions::default();
    // The previous format: the shard columns plus one of governance sections.
    let mut old_columns = kaimeng_shards::schema::ALL_COLUMNS.to_vec();
    old_columns.push(kaimeng_shards::schema::RETIRED_BEACON_SECTIONS);
    drop(kaimeng_l1::Store::open(&path, &old_columns, &options).unwrap());
    let error = kaimeng_shards::open_store(&path, &options)
        .err()
        .expect("an old data directory opened");
    let message = error.to_string();
    assert!(message.contains("older Kaimeng"), "{message}");
    assert!(message.contains("empty one"), "{message}");
    // Nothing was changed: it is still the old store, and a fresh directory opens.
    assert!(
        kaimeng_l1::Store::existing_columns(&path)
            .iter()
            .any(|c| c == kaimeng_shards::schema::RETIRED_BEACON_SECTIONS)
    );
    assert!(kaimeng_shards::open_store(&dir.path().join("fresh"), &options).is_ok());
}

/// A transaction left out because the block has no gas left for it waits for the next block,
/// and so do its sender's later transactions: they are not dropped as "nonce too high".
#[test]
fn a_senders_transactions_after_one_left_out_wait_for_the_next_block() {
    let t = new_chain();
    let c = &t.chain;
    // Equal tips go lowest sender first: the burner goes first, then the big transaction.
    let (burner, sender) = if addr(1) < addr(2) { (1, 2) } else { (2, 1) };
    // An init code that loops until its 16 M gas run out, then the big one's 15 M do not fit.
    let burn = eip1559(
        c,
        burner,
        0,
        TxKind::Create,
        U256::ZERO,
        Bytes::from_static(&[0x5b, 0x60, 0x00, 0x56]),
        16_000_000,
    );
    let to = Address::repeat_byte(0x42);
    let big = eip1559(
        c,
        sender,
        0,
        TxKind::Call(to),
        U256::from(1u64),
        Bytes::new(),
        15_000_000,
    );
    let after = transfer(c, sender, 1, to, 2);
    let hashes: Vec<_> = [&burn, &big, &after]
        .into_iter()
        .map(|raw| c.submit_raw(raw).unwrap())
        .collect();
    let first = seal(c);
    assert_eq!(first.txs.len(), 1, "only the burner fits");
    assert_eq!(first.txs[0].hash, hashes[0]);
    assert_eq!(first.header.header.gas_used, 16_000_000);
    for hash in &hashes[1..] {
        assert_eq!(
            c.tx_status(hash).unwrap(),
            TxStatus::Pool(PoolStatus::Pending),
            "{hash} waits"
        );
    }
    let second = seal(c);
    let included: Vec<_> = second.txs.iter().map(|tx| tx.hash).collect();
    assert_eq!(included, hashes[1..], "both follow, in nonce order");
    assert_eq!(balance(c, to), U256::from(3u64));
}

/// A block holds at most `MAX_BLOCK_TX_BYTES` of transactions, however little gas they use, so
/// its body always fits a gossip message; the rest wait for the next block.
#[test]
fn a_block_holds_at_most_its_byte_budget_of_transactions() {
    use kaimeng_shards::executor::MAX_BLOCK_TX_BYTES;
    // A chain whose governance raised the gas limit: 30 of these use 37.5 M gas (EIP-7623's
    // floor of 10 gas a zero byte) and 3.7 MB.
    let dir = tempfile::tempdir().unwrap();
    let mut spec = genesis();
    spec.block_gas_limit = 100_000_000;
    let c = &open(dir.path(), &spec);
    let data = Bytes::from(vec![0u8; 120 * 1024]);
    let to = Address::repeat_byte(0x42);
    let mut hashes = Vec::new();
    for sender in 0..10 {
        for nonce in 0..3 {
            let raw = eip1559(
                c,
                sender,
                nonce,
                TxKind::Call(to),
                U256::ZERO,
                data.clone(),
                1_300_000,
            );
            hashes.push(c.submit_raw(&raw).unwrap());
        }
    }
    let size = c.pool().get(&hashes[0]).unwrap().encoded.len();
    let first = seal(c);
    let bytes: usize = first.txs.iter().map(|tx| tx.encoded.len()).sum();
    assert!(bytes <= MAX_BLOCK_TX_BYTES, "{bytes} bytes");
    assert_eq!(first.txs.len(), MAX_BLOCK_TX_BYTES / size, "as many as fit");
    let second = seal(c);
    assert_eq!(
        first.txs.len() + second.txs.len(),
        30,
        "the rest follow, none dropped"
    );
    for hash in &hashes {
        assert!(matches!(
            c.tx_status(hash).unwrap(),
            TxStatus::Included { .. }
        ));
    }
}
