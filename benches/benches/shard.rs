//! Shard micro-benchmarks: transaction decode + sender recovery, EVM execution of an ERC-20
//! transfer, and the state-root commit of a block changing 1,000 accounts in a state of
//! 1,000,000 accounts.
//!
//! `cargo bench -p kaimeng-benches --features shard --bench shard`

use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{Address, Bytes, TxKind, U256, keccak256};
use alloy_sol_types::SolCall;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use kaimeng_benches::shard_fixture::{
    CHAIN_ID, dev_key, erc20_transfers, next_block, signed, token_chain, transferCall,
};
use kaimeng_shards::commit::prepare_commit;
use kaimeng_shards::executor::execute_block;
use kaimeng_shards::overlay::AccountInfo;
use kaimeng_shards::overlay::{AccountChange, PendingState};
use kaimeng_shards::{ShardTx, StateAt};

fn tx_decode(c: &mut Criterion) {
    let key = dev_key();
    let raws: Vec<Bytes> = (0..1000)
        .map(|n| {
            signed(
                &key,
                n,
                TxKind::Call(Address::repeat_byte(1)),
                Bytes::new(),
                21_000,
            )
        })
        .collect();
    let mut group = c.benchmark_group("tx_decode_recover");
    group.throughput(criterion::Throughput::Elements(1));
    group.bench_function("one", |b| {
        b.iter(|| ShardTx::decode(&raws[0], CHAIN_ID).unwrap())
    });
    group.throughput(criterion::Throughput::Elements(1000));
    group.bench_function("1000_parallel", |b| {
        b.iter(|| ShardTx::decode_many(&raws, CHAIN_ID))
    });
    group.finish();
}

/// A shard with KaiToken deployed by dev account 0.
/// The pool's admission rules for one ERC-20 transfer: revm's stateless validation
/// (`kaimeng_shards::admission::check`), paid once per submitted transaction.
fn tx_admission(c: &mut Criterion) {
    let data: Bytes = transferCall {
        to: Address::repeat_byte(2),
        value: U256::from(1u64),
    }
    .abi_encode()
    .into();
    let tx = ShardTx::decode(
        &signed(
            &dev_key(),
            0,
            TxKind::Call(Address::repeat_byte(1)),
            data,
            100_000,
        ),
        CHAIN_ID,
    )
    .unwrap();
    let next = kaimeng_shards::admission::NextBlock {
        chain_id: CHAIN_ID,
        number: 1,
        timestamp: 1,
        gas_limit: 30_000_000,
        base_fee: 1,
    };
    c.bench_function("tx_admission_check", |b| {
        b.iter(|| kaimeng_shards::admission::check(&tx, &next).unwrap())
    });
}

fn erc20_execution(c: &mut Criterion) {
    let (_dir, chain, token) = token_chain();
    let txs: Vec<Arc<ShardTx>> = erc20_transfers(token, 500)
        .iter()
        .map(|raw| Arc::new(ShardTx::decode(raw, CHAIN_ID).unwrap()))
        .collect();
    let ctx = next_block(&chain);
    let state = StateAt::latest(chain.store().clone());
    let mut group = c.benchmark_group("erc20_transfer_execution");
    group.throughput(criterion::Throughput::Elements(txs.len() as u64));
    group.bench_function("500_transfers_in_one_block", |b| {
        b.iter(|| {
            let out = execute_block(&state, &ctx, txs.iter().cloned()).unwrap();
            assert_eq!(out.txs.len(), txs.len());
            out
        })
    });
    group.finish();
}

fn account(i: u64) -> Address {
    Address::from_word(keccak256(i.to_be_bytes()))
}

/// A store holding `n` funded accounts (written in chunks through the normal commit path).
fn big_state(n: u64) -> (tempfile::TempDir, kaimeng_l1::Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = kaimeng_shards::open_store(dir.path(), &Default::default()).unwrap();
    let chunk = 100_000u64;
    for start in (0..n).step_by(chunk as usize) {
        let mut pending = PendingState::default();
        for i in start..(start + chunk).min(n) {
            let info = AccountInfo {
                balance: U256::from(1_000_000u64 + i),
                ..Default::default()
            };
            pending.accounts.insert(
                account(i),
                AccountChange {
                    info: Some(info),
                    ..Default::default()
                },
            );
        }
        let commit =
            prepare_commit(&StateAt::latest(store.clone()), &pending, start / chunk).unwrap();
        let mut batch = store.batch();
        commit.apply_to(&mut batch).unwrap();
        store.write(batch).unwrap();
    }
    (dir, store)
}

fn state_root_commit(c: &mut Criterion) {
    let n = std::env::var("KAIMENG_BENCH_ACCOUNTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000u64);
    let (_dir, store) = big_state(n);
    let base = StateAt::latest(store.clone());
    let mut round = 0u64;
    let mut group = c.benchmark_group("state_root_commit");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(20));
    group.bench_function(format!("1000_changed_of_{n}"), |b| {
        b.iter_batched(
            || {
                round += 1;
                let mut pending = PendingState::default();
                for j in 0..1000u64 {
                    let i = keccak256((round * 1000 + j).to_be_bytes());
                    let idx = u64::from_be_bytes(i[..8].try_into().unwrap()) % n;
                    let info = AccountInfo {
                        balance: U256::from(round * 7 + j),
                        nonce: round,
                        ..Default::default()
                    };
                    pending.accounts.insert(
                        account(idx),
                        AccountChange {
                            info: Some(info),
                            ..Default::default()
                        },
                    );
                }
                (pending, 1_000 + round)
            },
            |(pending, number)| prepare_commit(&base, &pending, number).unwrap(),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(
    benches,
    tx_decode,
    tx_admission,
    erc20_execution,
    state_root_commit
);
criterion_main!(benches);
