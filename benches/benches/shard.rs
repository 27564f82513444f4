//! Shard micro-benchmarks: transaction decode + sender recovery, EVM execution of an ERC-20
//! transfer, and the state-root commit of a block changing 1,000 accounts in a state of
//! 1,000,000 accounts.
//!
//! `cargo bench -p kaimeng-benches --features shard --bench shard`

use std::sync::Arc;
use std::time::Duration;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, hex, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolConstructor, sol};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use kaimeng_genesis::{DevOptions, GenesisSpec, dev_accounts};
use kaimeng_shards::commit::prepare_commit;
use kaimeng_shards::executor::{BlockContext, execute_block};
use kaimeng_shards::overlay::AccountInfo;
use kaimeng_shards::overlay::{AccountChange, PendingState};
use kaimeng_shards::{ShardChain, ShardTx, StateAt};

sol! {
    constructor(string name, string symbol, uint256 supply);
    function transfer(address to, uint256 value) returns (bool);
}

const CHAIN_ID: u64 = 31337;

fn signed(key: &PrivateKeySigner, nonce: u64, to: TxKind, input: Bytes, gas: u64) -> Bytes {
    let tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1,
        to,
        value: U256::ZERO,
        access_list: Default::default(),
        input,
    };
    let sig = key.sign_hash_sync(&tx.signature_hash()).unwrap();
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into()
}

fn dev_key() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&dev_accounts(1)[0].private_key).unwrap()
}

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
fn token_chain() -> (tempfile::TempDir, Arc<ShardChain>, Address) {
    let dir = tempfile::tempdir().unwrap();
    let genesis = GenesisSpec::dev(&DevOptions {
        validators: 1,
        ..DevOptions::default()
    });
    let store = kaimeng_shards::open_store(dir.path(), &Default::default()).unwrap();
    let chain = Arc::new(ShardChain::open(store, &genesis, 0).unwrap());
    let artifact: serde_json::Value =
        serde_json::from_str(include_str!("../../tests/contracts/out/KaiToken.json")).unwrap();
    let mut code = hex::decode(artifact["bytecode"].as_str().unwrap()).unwrap();
    code.extend(
        constructorCall {
            name: "Kai".into(),
            symbol: "KAI".into(),
            supply: U256::from(10u64).pow(U256::from(30)),
        }
        .abi_encode(),
    );
    chain
        .submit_raw(&signed(
            &dev_key(),
            0,
            TxKind::Create,
            code.into(),
            3_000_000,
        ))
        .unwrap();
    let proposed = chain.propose(1, Address::ZERO, 10).unwrap();
    let block = chain.finalize(proposed).unwrap();
    let token = block.receipts[0].contract_address.unwrap();
    (dir, chain, token)
}

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
    let key = dev_key();
    let txs: Vec<Arc<ShardTx>> = (0..500u64)
        .map(|i| {
            let data: Bytes = transferCall {
                to: Address::from_word(keccak256(i.to_be_bytes())),
                value: U256::from(1u64),
            }
            .abi_encode()
            .into();
            Arc::new(
                ShardTx::decode(
                    &signed(&key, 1 + i, TxKind::Call(token), data, 100_000),
                    CHAIN_ID,
                )
                .unwrap(),
            )
        })
        .collect();
    let head = chain.head();
    let ctx = BlockContext {
        chain_id: CHAIN_ID,
        number: head.number() + 1,
        timestamp: head.header.timestamp + 1,
        beneficiary: Address::ZERO,
        treasury: chain.config().treasury,
        base_fee: chain.next_base_fee(),
        gas_limit: 1_000_000_000,
        prevrandao: B256::ZERO,
        payouts: Vec::new(),
        precompiles: kaimeng_shards::precompiles::ShardPrecompiles::standard(),
        deliveries: std::sync::Arc::from([]),
        beacon_height: 0,
    };
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
