//! Admission applies every rule the executor applies, with the wording clients know; what the
//! pool later drops is reported; journaled transactions survive a reopen; per-sender limits are
//! one consistent rule.

use alloy_consensus::{SignableTransaction, TxEip2930, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use kaimeng_shards::executor::{BlockContext, execute_block};
use kaimeng_shards::pool::PoolStatus;
use kaimeng_shards::{ShardChain, ShardTx, SubmitError, TxStatus};
use proptest::prelude::*;

use crate::common::*;

/// A signed EIP-1559 transaction of no value with the fields the stateless rules look at.
fn signed(
    chain: &ShardChain,
    from: usize,
    nonce: u64,
    to: TxKind,
    input: Bytes,
    gas: u64,
) -> Bytes {
    eip1559(chain, from, nonce, to, U256::ZERO, input, gas)
}

fn refusal(chain: &ShardChain, raw: &[u8]) -> String {
    match chain.submit_raw(raw) {
        Ok(hash) => panic!("accepted {hash}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn a_transfer_below_the_intrinsic_gas_is_refused_and_the_next_one_is_not_lost() {
    let t = new_chain();
    let to = TxKind::Call(Address::repeat_byte(7));
    let low = signed(&t.chain, 0, 0, to, Bytes::new(), 20_000);
    let error = refusal(&t.chain, &low);
    assert!(error.starts_with("intrinsic gas too low"), "{error}");
    assert!(
        error.contains("20000") && error.contains("21000"),
        "{error}"
    );
    assert!(t.chain.pool().is_empty());
    // The sender's real transaction with the same nonce goes through and is mined.
    let ok = signed(&t.chain, 0, 0, to, Bytes::new(), 21_000);
    let hash = t.chain.submit_raw(&ok).unwrap();
    let block = seal(&t.chain);
    assert_eq!(block.txs.len(), 1);
    assert_eq!(
        t.chain.tx_status(&hash).unwrap(),
        TxStatus::Included {
            block: block.number(),
            index: 0
        }
    );
}

#[test]
fn init_code_above_the_eip3860_limit_is_refused_naming_both_sizes() {
    let t = new_chain();
    let raw = signed(
        &t.chain,
        0,
        0,
        TxKind::Create,
        Bytes::from(vec![0u8; 49_153]),
        10_000_000,
    );
    let error = refusal(&t.chain, &raw);
    assert!(error.starts_with("max initcode size exceeded"), "{error}");
    assert!(
        error.contains("49153") && error.contains("49152"),
        "{error}"
    );
}

#[test]
fn calldata_below_the_eip7623_floor_is_refused() {
    let t = new_chain();
    // 4,000 non-zero bytes: intrinsic 21,000 + 64,000, floor 21,000 + 160,000.
    let raw = signed(
        &t.chain,
        0,
        0,
        TxKind::Call(Address::repeat_byte(1)),
        Bytes::from(vec![1u8; 4_000]),
        100_000,
    );
    let error = refusal(&t.chain, &raw);
    assert!(
        error.starts_with("insufficient gas for floor data gas cost"),
        "{error}"
    );
}

#[test]
fn gas_above_the_block_gas_limit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut genesis = genesis();
    genesis.block_gas_limit = 10_000_000;
    let chain = open(dir.path(), &genesis);
    let raw = signed(
        &chain,
        0,
        0,
        TxKind::Call(Address::ZERO),
        Bytes::new(),
        10_000_001,
    );
    let error = refusal(&chain, &raw);
    assert!(error.starts_with("exceeds block gas limit"), "{error}");
    assert!(
        error.contains("10000001") && error.contains("10000000"),
        "{error}"
    );
}

#[test]
fn gas_above_the_per_transaction_cap_is_refused() {
    let t = new_chain();
    let cap = kaimeng_shards::tx::MAX_TX_GAS;
    let raw = signed(
        &t.chain,
        0,
        0,
        TxKind::Call(Address::ZERO),
        Bytes::new(),
        cap + 1,
    );
    assert!(refusal(&t.chain, &raw).contains("exceeds the per-transaction cap"));
}

#[test]
fn an_access_list_raises_the_intrinsic_gas() {
    let t = new_chain();
    let tx = TxEip2930 {
        chain_id: t.chain.config().chain_id,
        nonce: 0,
        gas_price: 10_000_000_000,
        gas_limit: 21_000,
        to: TxKind::Call(Address::repeat_byte(3)),
        value: U256::ZERO,
        access_list: vec![alloy_eips::eip2930::AccessListItem {
            address: Address::repeat_byte(3),
            storage_keys: vec![Default::default()],
        }]
        .into(),
        input: Bytes::new(),
    };
    let sig = key(0).sign_hash_sync(&tx.signature_hash()).unwrap();
    let raw: Bytes = TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into();
    assert!(refusal(&t.chain, &raw).starts_with("intrinsic gas too low"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// For transactions around the stateless limits, admission and the executor agree: what
    /// admission refuses the executor skips for the same reason, and what it accepts the
    /// executor does not skip.
    #[test]
    fn admission_and_execution_agree(
        create in any::<bool>(),
        zeros in 0usize..3_000,
        ones in 0usize..3_000,
        big_init in any::<bool>(),
        gas_offset in -40_000i64..40_000,
    ) {
        let t = new_chain();
        let mut input = vec![0u8; zeros];
        input.extend(std::iter::repeat_n(0x60u8, ones));
        if create && big_init {
            input.resize(49_153, 0);
        }
        // Around the intrinsic cost: 21,000 (+32,000 create) + 4/zero + 16/non-zero byte.
        let base = 21_000 + if create { 32_000 } else { 0 } + 4 * zeros as i64 + 16 * ones as i64;
        let gas = (base + gas_offset).max(0) as u64;
        let kind = if create { TxKind::Create } else { TxKind::Call(Address::repeat_byte(9)) };
        let raw = signed(&t.chain, 0, 0, kind, Bytes::from(input), gas);
        let admitted = t.chain.submit_raw(&raw);
        let tx = std::sync::Arc::new(ShardTx::decode(&raw, t.chain.config().chain_id).unwrap());
        let head = t.chain.head();
        let ctx = BlockContext {
            chain_id: t.chain.config().chain_id,
            number: head.number() + 1,
            timestamp: head.header.timestamp + 1,
            beneficiary: addr(9),
            treasury: t.genesis.treasury,
            base_fee: t.chain.next_base_fee(),
            gas_limit: head.header.gas_limit,
            prevrandao: Default::default(),
            payouts: Vec::new(),
            precompiles: kaimeng_shards::precompiles::ShardPrecompiles::standard(),
            deliveries: std::sync::Arc::from([]),
            beacon_height: 0,
        };
        let execution = execute_block(&t.chain.latest_state(), &ctx, [tx]).unwrap();
        match admitted {
            Ok(_) => prop_assert!(execution.skipped.is_empty(), "admitted but skipped: {:?}", execution.skipped[0].1.to_string()),
            Err(SubmitError::Invalid(reason)) => {
                prop_assert_eq!(execution.skipped.len(), 1, "refused ({}) but executed", reason);
                let executor_reason = &execution.skipped[0].1.to_string();
                // Same rule: the executor's wording is the generic one for the same variant.
                let rule = |s: &str| s.split(':').next().unwrap_or_default().to_string();
                let (ours, theirs) = (rule(&reason), rule(executor_reason));
                prop_assert!(
                    ours == theirs || ours.contains("initcode") && theirs.contains("initcode")
                        || ours.contains("floor") && theirs.contains("floor"),
                    "admission said {}, the executor {}", reason, executor_reason
                );
            }
            Err(other) => prop_assert!(false, "unexpected refusal: {}", other),
        }
    }
}

#[test]
fn contiguous_nonces_run_up_to_the_per_sender_limit_and_the_refusal_names_it() {
    let t = new_chain();
    let limit = t.chain.pool().config().max_per_sender as u64;
    let to = Address::repeat_byte(5);
    for nonce in 0..limit {
        t.chain
            .submit_raw(&transfer(&t.chain, 1, nonce, to, 1))
            .unwrap_or_else(|e| panic!("nonce {nonce}: {e}"));
    }
    let error = refusal(&t.chain, &transfer(&t.chain, 1, limit, to, 1));
    assert!(
        error.contains("too many pending transactions from this sender")
            && error.contains(&format!("(limit {limit})")),
        "{error}"
    );
    assert_eq!(t.chain.pool().len() as u64, limit);
}

#[test]
fn the_nonce_gap_is_measured_from_the_senders_pooled_run() {
    let t = new_chain();
    let gap = t.chain.pool().config().max_nonce_gap;
    let to = Address::repeat_byte(5);
    for nonce in 0..10 {
        t.chain
            .submit_raw(&transfer(&t.chain, 2, nonce, to, 1))
            .unwrap();
    }
    // Next nonce counting the pool is 10: 10 + gap is fine, one more is too far.
    t.chain
        .submit_raw(&transfer(&t.chain, 2, 10 + gap, to, 1))
        .unwrap();
    let error = refusal(&t.chain, &transfer(&t.chain, 2, 11 + gap, to, 1));
    assert!(
        error.starts_with("nonce too high") && error.contains("next nonce is 10"),
        "{error}"
    );
}

#[test]
fn queued_transactions_do_not_count_as_executable() {
    let t = new_chain();
    let hash = t
        .chain
        .submit_raw(&transfer(&t.chain, 3, 5, Address::repeat_byte(1), 1))
        .unwrap();
    assert!(!t.chain.has_executable());
    assert!(!t.chain.is_executable(&hash));
    assert_eq!(
        t.chain.tx_status(&hash).unwrap(),
        TxStatus::Pool(PoolStatus::Queued)
    );
    let head = t
        .chain
        .submit_raw(&transfer(&t.chain, 3, 0, Address::repeat_byte(1), 1))
        .unwrap();
    assert!(t.chain.has_executable());
    assert!(t.chain.is_executable(&head));
    assert_eq!(
        t.chain.tx_status(&head).unwrap(),
        TxStatus::Pool(PoolStatus::Pending)
    );
}

#[test]
fn a_transaction_that_cannot_execute_is_reported_dropped_with_its_reason() {
    let t = new_chain();
    let to = Address::repeat_byte(4);
    // Two transactions that each pass admission against the head balance, but the second
    // cannot pay once the first has spent it.
    let balance = balance(&t.chain, addr(6));
    let spend = |nonce: u64, value: U256| {
        eip1559(
            &t.chain,
            6,
            nonce,
            TxKind::Call(to),
            value,
            Bytes::new(),
            21_000,
        )
    };
    let first = t
        .chain
        .submit_raw(&spend(0, balance / U256::from(2) + U256::from(1)))
        .unwrap();
    let second = t
        .chain
        .submit_raw(&spend(1, balance / U256::from(2) + U256::from(1)))
        .unwrap();
    let block = seal(&t.chain);
    assert_eq!(block.txs.len(), 1);
    assert!(matches!(
        t.chain.tx_status(&first).unwrap(),
        TxStatus::Included { .. }
    ));
    match t.chain.tx_status(&second).unwrap() {
        TxStatus::Pool(PoolStatus::Dropped(reason)) => {
            assert!(reason.starts_with("insufficient funds"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn journaled_transactions_are_pooled_again_after_a_reopen() {
    let t = new_chain();
    let to = Address::repeat_byte(8);
    let included = t
        .chain
        .submit_raw(&transfer(&t.chain, 0, 0, to, 1))
        .unwrap();
    seal(&t.chain);
    let waiting: Vec<_> = (1..4)
        .map(|nonce| {
            t.chain
                .submit_raw(&transfer(&t.chain, 0, nonce, to, 1))
                .unwrap()
        })
        .collect();
    let gapped = t
        .chain
        .submit_raw(&transfer(&t.chain, 0, 9, to, 1))
        .unwrap();
    let TestChain {
        chain,
        genesis,
        dir,
    } = t;
    drop(chain);
    let reopened = open(dir.path(), &genesis);
    let pool = reopened.pool();
    for hash in waiting.iter().chain([&gapped]) {
        assert!(pool.get(hash).is_some(), "{hash} lost in the reopen");
    }
    assert!(pool.get(&included).is_none());
    assert_eq!(pool.len(), 4);
    drop(pool);
    let block = seal(&reopened);
    assert_eq!(block.txs.len(), 3);
    // Once final they leave the journal: a second reopen pools only the gapped one.
    drop(reopened);
    let again = open(dir.path(), &genesis);
    assert_eq!(again.pool().len(), 1);
    assert!(again.pool().get(&gapped).is_some());
}

#[test]
fn a_transaction_journaled_twice_survives_two_reopens() {
    let t = new_chain();
    let to = Address::repeat_byte(8);
    let gapped = t
        .chain
        .submit_raw(&transfer(&t.chain, 0, 5, to, 1))
        .unwrap();
    let TestChain {
        chain,
        genesis,
        dir,
    } = t;
    drop(chain);
    // Every record twice, as when a transaction is recorded before the writer's first rewrite
    // (which already holds it) and appended again after it.
    let mut name = dir.path().as_os_str().to_owned();
    name.push(".pool-journal");
    let bytes = std::fs::read(&name).unwrap();
    assert!(!bytes.is_empty());
    std::fs::write(&name, [bytes.clone(), bytes].concat()).unwrap();
    let reopened = open(dir.path(), &genesis);
    assert!(reopened.pool().get(&gapped).is_some());
    drop(reopened);
    let again = open(dir.path(), &genesis);
    assert!(
        again.pool().get(&gapped).is_some(),
        "the journal lost a transaction it held twice"
    );
}
