//! Admission errors name the problem; ordering and replacement follow Ethereum's pool rules.

use alloy_primitives::{Address, Bytes, TxKind, U256};
use kaimeng_shards::{SubmitError, TxError};

use crate::common::*;

fn submit_err(t: &TestChain, raw: &[u8]) -> String {
    t.chain
        .submit_raw(raw)
        .expect_err("must be rejected")
        .to_string()
}

#[test]
fn malformed_rlp_is_rejected_and_nothing_changes() {
    let t = new_chain();
    let head = t.chain.head();
    for junk in [
        &[][..],
        &[0xc0][..],
        &[0x02, 0xff, 0x00][..],
        &[0xf8, 0xff][..],
    ] {
        let err = t.chain.submit_raw(junk).expect_err("junk accepted");
        assert!(
            matches!(err, SubmitError::Tx(TxError::Malformed(_))),
            "{err}"
        );
    }
    assert_eq!(t.chain.pool().len(), 0);
    assert_eq!(t.chain.head(), head);
}

#[test]
fn a_transaction_for_another_chain_is_rejected_naming_both_chain_ids() {
    let t = new_chain();
    let raw = legacy(Some(1), 0, 0, Address::ZERO, U256::from(1));
    let err = submit_err(&t, &raw);
    assert!(
        err.contains("chain 1") && err.contains(&t.chain.config().chain_id.to_string()),
        "{err}"
    );
}

#[test]
fn unprotected_legacy_transactions_are_rejected() {
    let t = new_chain();
    let err = submit_err(&t, &legacy(None, 0, 0, Address::ZERO, U256::from(1)));
    assert!(err.contains("EIP-155"), "{err}");
}

#[test]
fn nonce_errors_say_too_low_or_too_high() {
    let t = new_chain();
    t.chain
        .submit_raw(&transfer(&t.chain, 0, 0, Address::ZERO, 1))
        .unwrap();
    seal(&t.chain);
    assert!(submit_err(&t, &transfer(&t.chain, 0, 0, Address::ZERO, 1)).contains("nonce too low"));
    assert!(
        submit_err(&t, &transfer(&t.chain, 0, 5_000, Address::ZERO, 1)).contains("nonce too high")
    );
}

#[test]
fn insufficient_funds_and_low_fee_caps_are_named() {
    let t = new_chain();
    let whale = U256::from(10u64).pow(U256::from(30));
    let raw = eip1559(
        &t.chain,
        0,
        0,
        TxKind::Call(Address::ZERO),
        whale,
        Bytes::new(),
        21_000,
    );
    assert!(submit_err(&t, &raw).contains("insufficient funds"));
}

#[test]
fn oversized_transactions_are_rejected_with_the_limit() {
    let t = new_chain();
    let raw = eip1559(
        &t.chain,
        0,
        0,
        TxKind::Create,
        U256::ZERO,
        vec![0u8; 600_000].into(),
        10_000_000,
    );
    let err = submit_err(&t, &raw);
    assert!(err.contains("oversized") && err.contains("524288"), "{err}");
}

#[test]
fn gapped_nonces_wait_and_run_in_order_once_the_gap_fills() {
    let t = new_chain();
    let to = Address::repeat_byte(9);
    t.chain
        .submit_raw(&transfer(&t.chain, 2, 1, to, 1))
        .unwrap();
    assert_eq!(
        seal(&t.chain).txs.len(),
        0,
        "nonce 1 cannot run before nonce 0"
    );
    assert_eq!(t.chain.pending_nonce(&addr(2)).unwrap(), 0);
    t.chain
        .submit_raw(&transfer(&t.chain, 2, 0, to, 1))
        .unwrap();
    assert_eq!(t.chain.pending_nonce(&addr(2)).unwrap(), 2);
    let block = seal(&t.chain);
    assert_eq!(
        block.txs.iter().map(|tx| tx.nonce()).collect::<Vec<_>>(),
        vec![0, 1]
    );
    assert!(t.chain.pool().is_empty());
}

#[test]
fn replacement_needs_a_fee_bump() {
    let t = new_chain();
    let first = transfer(&t.chain, 3, 0, Address::ZERO, 1);
    t.chain.submit_raw(&first).unwrap();
    let same_fee_other_value = transfer(&t.chain, 3, 0, Address::ZERO, 2);
    assert!(submit_err(&t, &same_fee_other_value).contains("underpriced"));
    assert!(submit_err(&t, &first).contains("already known"));
}

/// `eth_getTransactionCount(_, "pending")` must never go backwards while blocks finalize:
/// a client that saw its transaction's receipt and then asks for the next nonce must not be
/// handed the nonce it just used (ethers did, when the read raced the pool pruning).
#[test]
fn pending_nonce_never_goes_backwards_while_blocks_finalize() {
    let t = new_chain();
    let to = Address::repeat_byte(9);
    let rounds = 1_000u64;
    std::thread::scope(|scope| {
        let chain = &t.chain;
        let watcher = scope.spawn(move || {
            let mut seen = 0;
            let mut reads = 0u64;
            while seen < rounds {
                let nonce = chain.pending_nonce(&addr(3)).unwrap();
                assert!(
                    nonce >= seen,
                    "pending nonce went back from {seen} to {nonce}"
                );
                seen = nonce;
                reads += 1;
            }
            reads
        });
        for nonce in 0..rounds {
            chain.submit_raw(&transfer(chain, 3, nonce, to, 1)).unwrap();
            assert_eq!(seal(chain).txs.len(), 1);
        }
        assert!(watcher.join().unwrap() >= 1);
    });
}

mod limits {
    //! The pool on its own, with the clock passed in: expiry, byte bounds, replacement status.

    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use alloy_primitives::{Address, Bytes, TxKind, U256};
    use kaimeng_shards::ShardTx;
    use kaimeng_shards::pool::{PoolConfig, PoolError, PoolStatus, SenderState, TxPool};

    use crate::common::*;

    fn tx(from: usize, nonce: u64, input: usize) -> Arc<ShardTx> {
        let t = new_chain();
        let raw = eip1559(
            &t.chain,
            from,
            nonce,
            TxKind::Call(Address::repeat_byte(1)),
            U256::from(1),
            Bytes::from(vec![0u8; input]),
            1_000_000,
        );
        Arc::new(ShardTx::decode(&raw, t.chain.config().chain_id).unwrap())
    }

    fn rich(nonce: u64) -> SenderState {
        SenderState {
            nonce,
            balance: U256::from(10u64).pow(U256::from(24)),
        }
    }

    #[test]
    fn gapped_transactions_expire_after_their_lifetime_and_are_reported_dropped() {
        let lifetime = Duration::from_secs(600);
        let mut pool = TxPool::new(PoolConfig {
            queued_lifetime: lifetime,
            ..PoolConfig::default()
        });
        let start = Instant::now();
        let gapped = tx(0, 3, 0);
        let ready = tx(1, 0, 0);
        pool.add(gapped.clone(), rich(0), 1, start).unwrap();
        pool.add(ready.clone(), rich(0), 1, start).unwrap();
        assert_eq!(pool.expire(start + lifetime - Duration::from_secs(1)), 0);
        assert_eq!(pool.expire(start + lifetime + Duration::from_secs(1)), 1);
        match pool.status(&gapped.hash) {
            PoolStatus::Dropped(reason) => assert!(reason.starts_with("expired"), "{reason}"),
            other => panic!("{other:?}"),
        }
        // The executable one stays, and the departure is handed out once.
        assert_eq!(pool.status(&ready.hash), PoolStatus::Pending);
        assert_eq!(pool.take_departed(), vec![gapped.hash]);
        assert!(pool.take_departed().is_empty());
    }

    #[test]
    fn adding_to_a_gapped_sender_restarts_its_lifetime() {
        let lifetime = Duration::from_secs(600);
        let mut pool = TxPool::new(PoolConfig {
            queued_lifetime: lifetime,
            ..PoolConfig::default()
        });
        let start = Instant::now();
        pool.add(tx(0, 3, 0), rich(0), 1, start).unwrap();
        pool.add(tx(0, 4, 0), rich(0), 1, start + lifetime / 2)
            .unwrap();
        assert_eq!(pool.expire(start + lifetime + Duration::from_secs(1)), 0);
        assert_eq!(pool.expire(start + lifetime * 2), 2);
        assert!(pool.is_empty());
        assert_eq!(pool.bytes(), 0);
    }

    #[test]
    fn the_pool_is_bounded_in_bytes_and_says_it_is_full() {
        let big = tx(0, 0, 10_000);
        let mut pool = TxPool::new(PoolConfig {
            max_bytes: big.encoded.len() * 2,
            ..PoolConfig::default()
        });
        let now = Instant::now();
        pool.add(big, rich(0), 1, now).unwrap();
        pool.add(tx(0, 1, 10_000), rich(0), 1, now).unwrap();
        let error = pool.add(tx(0, 2, 10_000), rich(0), 1, now).unwrap_err();
        assert!(matches!(error, PoolError::Full { .. }));
        assert!(error.to_string().starts_with("txpool is full"), "{error}");
        assert!(pool.bytes() <= pool.config().max_bytes);
    }

    #[test]
    fn a_replaced_transaction_is_reported_dropped_naming_its_replacement() {
        let mut pool = TxPool::default();
        let now = Instant::now();
        let t = new_chain();
        let cheap = tx(0, 0, 0);
        let raw = {
            use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
            use alloy_eips::eip2718::Encodable2718;
            use alloy_signer::SignerSync;
            let tx = TxEip1559 {
                chain_id: t.chain.config().chain_id,
                nonce: 0,
                gas_limit: 1_000_000,
                max_fee_per_gas: 20_000_000_000,
                max_priority_fee_per_gas: 2_000_000_000,
                to: TxKind::Call(Address::repeat_byte(1)),
                value: U256::from(1),
                access_list: Default::default(),
                input: Bytes::new(),
            };
            let sig = key(0).sign_hash_sync(&tx.signature_hash()).unwrap();
            TxEnvelope::from(tx.into_signed(sig)).encoded_2718()
        };
        let dear = Arc::new(ShardTx::decode(&raw, t.chain.config().chain_id).unwrap());
        pool.add(cheap.clone(), rich(0), 1, now).unwrap();
        assert_eq!(
            pool.add(dear.clone(), rich(0), 1, now).unwrap(),
            Some(cheap.hash)
        );
        match pool.status(&cheap.hash) {
            PoolStatus::Dropped(reason) => {
                assert!(reason.contains(&dear.hash.to_string()), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(pool.bytes(), dear.encoded.len());
    }
}
