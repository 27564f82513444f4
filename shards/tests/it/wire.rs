//! Blocks from peers: the wire encoding round-trips, and malformed or invalid proposals are
//! refused with a reason and change nothing.

use alloy_primitives::Address;
use kaimeng_shards::wire::{WireError, decode_block, encode_block};

use crate::common::*;

#[test]
fn a_block_round_trips_with_senders_recovered() {
    let t = new_chain();
    t.chain
        .submit_raw(&transfer(&t.chain, 1, 0, addr(2), 9))
        .unwrap();
    t.chain
        .submit_raw(&transfer(&t.chain, 3, 0, addr(2), 9))
        .unwrap();
    let block = t
        .chain
        .propose_on(
            &t.chain.head().hash,
            1,
            addr(9),
            10,
            &dev_rules(),
            Vec::new(),
        )
        .unwrap();
    let decoded = decode_block(&encode_block(&block), t.chain.config().chain_id).unwrap();
    assert_eq!(decoded.header, block.header.header);
    let senders: Vec<Address> = decoded.txs.iter().map(|tx| tx.sender).collect();
    assert_eq!(
        senders,
        block.txs.iter().map(|tx| tx.sender).collect::<Vec<_>>()
    );
}

#[test]
fn malformed_blocks_name_what_is_wrong() {
    let t = new_chain();
    t.chain
        .submit_raw(&transfer(&t.chain, 1, 0, addr(2), 9))
        .unwrap();
    let block = t.chain.propose(1, addr(9), 10).unwrap().block;
    let bytes = encode_block(&block);
    let chain_id = t.chain.config().chain_id;
    assert!(matches!(
        decode_block(&[], chain_id),
        Err(WireError::Truncated(0))
    ));
    assert!(matches!(
        decode_block(&bytes[..bytes.len() - 3], chain_id),
        Err(WireError::Truncated(_))
    ));
    assert!(matches!(
        decode_block(&[0, 0, 0, 2, 0xc0, 0x01], chain_id),
        Err(WireError::Header(_))
    ));
    // The same bytes on another chain: the transaction's chain id is wrong.
    let err = decode_block(&bytes, chain_id + 1).err().unwrap();
    assert!(
        matches!(err, WireError::Transaction { index: 0, .. }),
        "{err}"
    );
    // Random bytes never panic.
    let mut state = 7u64;
    for len in 0..200 {
        let noise: Vec<u8> = (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 33) as u8
            })
            .collect();
        let _ = decode_block(&noise, chain_id);
    }
}

#[test]
fn a_proposal_with_a_transaction_that_cannot_execute_is_refused_and_changes_nothing() {
    let follower = new_chain();
    let mut header = follower
        .chain
        .propose(1, addr(9), 10)
        .unwrap()
        .block
        .header
        .header;
    // Nonce 1 of an account that has not used nonce 0: no honest leader includes it.
    let gapped = transfer(&follower.chain, 1, 1, addr(3), 1);
    let tx = kaimeng_shards::ShardTx::decode(&gapped, follower.chain.config().chain_id).unwrap();
    header.gas_used = 21_000;
    let err = follower
        .chain
        .verify_on(
            &header,
            vec![std::sync::Arc::new(tx)],
            Vec::new(),
            &dev_rules(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("cannot execute"), "{err}");
    assert_eq!(follower.chain.head().number(), 0);
    assert!(follower.chain.pending_block(&header.hash_slow()).is_none());
    assert_eq!(
        balance(&follower.chain, addr(3)),
        balance(&new_chain().chain, addr(3))
    );
}

#[test]
fn pooled_transactions_are_reused_and_others_recovered() {
    let t = new_chain();
    t.chain
        .submit_raw(&transfer(&t.chain, 1, 0, addr(2), 9))
        .unwrap();
    t.chain
        .submit_raw(&transfer(&t.chain, 3, 0, addr(2), 9))
        .unwrap();
    let block = t.chain.propose(1, addr(9), 10).unwrap().block;
    let pooled = block.txs[0].clone();
    let decoded = kaimeng_shards::wire::decode_block_with(
        &encode_block(&block),
        t.chain.config().chain_id,
        |hashes| {
            hashes
                .iter()
                .map(|h| (*h == pooled.hash).then(|| pooled.clone()))
                .collect()
        },
    )
    .unwrap();
    assert!(std::sync::Arc::ptr_eq(&decoded.txs[0], &pooled));
    assert_eq!(decoded.txs[1].sender, block.txs[1].sender);
}

#[test]
fn a_short_answer_from_the_pool_still_decodes_every_transaction() {
    let t = new_chain();
    for from in [1, 3] {
        t.chain
            .submit_raw(&transfer(&t.chain, from, 0, addr(2), 9))
            .unwrap();
    }
    let block = t.chain.propose(1, addr(9), 10).unwrap().block;
    let decoded = kaimeng_shards::wire::decode_block_with(
        &encode_block(&block),
        t.chain.config().chain_id,
        |_| Vec::new(),
    )
    .unwrap();
    assert_eq!(decoded.txs.len(), 2);
    assert_eq!(decoded.txs[1].hash, block.txs[1].hash);
}

#[test]
fn a_stored_transaction_with_trailing_bytes_is_refused() {
    let t = new_chain();
    let mut raw = transfer(&t.chain, 1, 0, addr(2), 9).to_vec();
    raw.push(0);
    let error = kaimeng_shards::ShardTx::from_stored(&raw, addr(1)).unwrap_err();
    assert!(error.to_string().contains("1 trailing bytes"), "{error}");
}
