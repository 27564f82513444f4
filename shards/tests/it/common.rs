//! Test fixtures: a dev-genesis shard in a temp dir, dev keys, signing, sealing.

use std::sync::Arc;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use kaimeng_genesis::{DevOptions, GenesisSpec, dev_accounts};
use kaimeng_shards::{ShardChain, StoredBlock};

pub struct TestChain {
    pub chain: Arc<ShardChain>,
    pub genesis: GenesisSpec,
    pub dir: tempfile::TempDir,
}

pub fn genesis() -> GenesisSpec {
    GenesisSpec::dev(&DevOptions {
        validators: 1,
        ..DevOptions::default()
    })
}

pub fn open(dir: &std::path::Path, genesis: &GenesisSpec) -> Arc<ShardChain> {
    let store = kaimeng_shards::open_store(dir, &Default::default()).expect("open store");
    Arc::new(ShardChain::open(store, genesis, 0).expect("open chain"))
}

pub fn new_chain() -> TestChain {
    let dir = tempfile::tempdir().unwrap();
    let genesis = genesis();
    let chain = open(dir.path(), &genesis);
    TestChain {
        chain,
        genesis,
        dir,
    }
}

pub fn key(i: usize) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&dev_accounts(10)[i].private_key).unwrap()
}

pub fn addr(i: usize) -> Address {
    key(i).address()
}

pub fn eip1559(
    chain: &ShardChain,
    from: usize,
    nonce: u64,
    to: TxKind,
    value: U256,
    input: Bytes,
    gas: u64,
) -> Bytes {
    let tx = TxEip1559 {
        chain_id: chain.config().chain_id,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        value,
        access_list: Default::default(),
        input,
    };
    let sig = key(from).sign_hash_sync(&tx.signature_hash()).unwrap();
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into()
}

pub fn legacy(chain_id: Option<u64>, from: usize, nonce: u64, to: Address, value: U256) -> Bytes {
    let tx = TxLegacy {
        chain_id,
        nonce,
        gas_price: 10_000_000_000,
        gas_limit: 21_000,
        to: TxKind::Call(to),
        value,
        input: Bytes::new(),
    };
    let sig = key(from).sign_hash_sync(&tx.signature_hash()).unwrap();
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into()
}

pub fn transfer(chain: &ShardChain, from: usize, nonce: u64, to: Address, value: u64) -> Bytes {
    eip1559(
        chain,
        from,
        nonce,
        TxKind::Call(to),
        U256::from(value),
        Bytes::new(),
        21_000,
    )
}

/// Seals one block from the pool.
pub fn seal(chain: &ShardChain) -> Arc<StoredBlock> {
    let ts = chain.head().header.timestamp + 1;
    let proposed = chain.propose(ts, addr(9), 10_000).expect("propose");
    chain.finalize(proposed).expect("finalize")
}

pub fn balance(chain: &ShardChain, a: Address) -> U256 {
    chain
        .latest_state()
        .account(&a)
        .unwrap()
        .map(|a| a.balance)
        .unwrap_or_default()
}

/// The dev genesis block rules (no payouts, no beacon section).
pub fn dev_rules() -> kaimeng_shards::BlockRules {
    kaimeng_shards::BlockRules::from_config(&kaimeng_shards::ShardConfig::from_genesis(
        &genesis(),
        0,
    ))
}
