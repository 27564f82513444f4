//! `eth_getTransactionReceipt` reads one stored receipt, not its whole block: the answer is the
//! one the whole-block conversion gives, and it still comes when the block's bodies and other
//! receipts cannot be read at all.

use std::sync::Arc;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_rpc_types_eth::TransactionReceipt;
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use kaimeng_genesis::{DevOptions, GenesisSpec, dev_accounts};
use kaimeng_rpc::DevSigner;
use kaimeng_rpc::api::eth::EthApiServer;
use kaimeng_rpc::eth::{EthRpc, rpc_receipts};
use kaimeng_shards::{ShardChain, StoredBlock, schema};

/// The `eth_*` namespace over `chain`, as a standalone node serves it.
fn eth_rpc(chain: &Arc<ShardChain>) -> EthRpc {
    EthRpc::new(
        chain.clone(),
        DevSigner::new(&[]),
        Address::ZERO,
        Arc::new(kaimeng_rpc::ReadPool::new(1, 0).unwrap()),
        kaimeng_rpc::node_status::standalone(),
    )
}

fn genesis() -> GenesisSpec {
    GenesisSpec::dev(&DevOptions {
        validators: 1,
        ..DevOptions::default()
    })
}

fn open(dir: &std::path::Path, genesis: &GenesisSpec) -> Arc<ShardChain> {
    let store = kaimeng_shards::open_store(dir, &Default::default()).unwrap();
    Arc::new(ShardChain::open(store, genesis, 0).unwrap())
}

fn signed(chain: &ShardChain, from: usize, to: TxKind, input: Vec<u8>, gas: u64) -> Bytes {
    let key = PrivateKeySigner::from_bytes(&dev_accounts(10)[from].private_key).unwrap();
    let tx = TxEip1559 {
        chain_id: chain.config().chain_id,
        nonce: 0,
        gas_limit: gas,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        value: U256::from(1u64),
        access_list: Default::default(),
        input: input.into(),
    };
    let sig = key.sign_hash_sync(&tx.signature_hash()).unwrap();
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into()
}

/// Init code that emits `count` LOG1s (data 0x2a, topic = its ordinal) and deploys no code.
fn logging_init_code(count: u8) -> Vec<u8> {
    let mut code = vec![0x60, 0x2a, 0x60, 0x00, 0x52]; // mstore(0, 42)
    for ordinal in 0..count {
        code.push(0x7f); // push32 topic
        code.extend_from_slice(B256::with_last_byte(ordinal + 1).as_slice());
        code.extend_from_slice(&[0x60, 0x20, 0x60, 0x00, 0xa1]); // log1(0, 32, topic)
    }
    code.push(0x00);
    code
}

/// One block: two creations with logs, a plain transfer, a failing creation, another with a
/// log; so log indexes, cumulative gas and contract addresses all depend on earlier receipts.
fn multi_tx_block(chain: &ShardChain) -> Arc<StoredBlock> {
    let reverting = vec![0x60, 0x00, 0x60, 0x00, 0xfd];
    let txs = [
        signed(chain, 0, TxKind::Create, logging_init_code(2), 200_000),
        signed(
            chain,
            1,
            TxKind::Call(Address::repeat_byte(7)),
            vec![],
            21_000,
        ),
        signed(chain, 2, TxKind::Create, logging_init_code(3), 200_000),
        signed(chain, 3, TxKind::Create, reverting, 100_000),
        signed(chain, 4, TxKind::Create, logging_init_code(1), 200_000),
    ];
    for raw in &txs {
        chain.submit_raw(raw).unwrap();
    }
    let proposed = chain
        .propose(
            chain.head().header.timestamp + 1,
            Address::repeat_byte(9),
            100,
        )
        .unwrap();
    let block = chain.finalize(proposed).unwrap();
    assert_eq!(block.txs.len(), txs.len(), "every transaction in one block");
    block
}

async fn receipt(rpc: &EthRpc, hash: B256) -> TransactionReceipt {
    rpc.transaction_receipt(hash)
        .unwrap()
        .expect("the receipt of a final transaction")
}

#[tokio::test]
async fn one_receipt_equals_the_whole_block_conversion_and_needs_no_other_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let genesis = genesis();
    let (number, hashes, expected) = {
        let chain = open(dir.path(), &genesis);
        let block = multi_tx_block(&chain);
        let expected = rpc_receipts(&block);
        assert_eq!(
            expected.iter().map(|r| r.inner.logs().len()).sum::<usize>(),
            6,
            "the block has logs in several receipts"
        );
        assert!(!expected[3].status(), "one creation reverts");
        let rpc = eth_rpc(&chain);
        let hashes: Vec<B256> = block.txs.iter().map(|tx| tx.hash).collect();
        for (hash, want) in hashes.iter().zip(&expected) {
            assert_eq!(&receipt(&rpc, *hash).await, want);
        }
        (block.number(), hashes, expected)
    };

    // Reopened (nothing cached) with the block's bodies and whole-block receipts gone: the
    // block cannot be read, yet each receipt still comes, from its own entry alone.
    let chain = open(dir.path(), &genesis);
    let mut batch = chain.store().batch();
    batch
        .delete(schema::BODIES, schema::number_key(number))
        .unwrap();
    batch
        .delete(schema::RECEIPTS, schema::number_key(number))
        .unwrap();
    chain.store().write(batch).unwrap();
    assert!(
        chain.block(number).is_err(),
        "the block is unreadable without its body"
    );
    let rpc = eth_rpc(&chain);
    for (hash, want) in hashes.iter().zip(&expected) {
        assert_eq!(&receipt(&rpc, *hash).await, want);
    }
}

#[tokio::test]
async fn a_block_written_before_receipts_were_stored_alone_still_answers() {
    let dir = tempfile::tempdir().unwrap();
    let genesis = genesis();
    let chain = open(dir.path(), &genesis);
    let block = multi_tx_block(&chain);
    let expected = rpc_receipts(&block);
    drop(chain);

    // A data directory from before: no per-receipt entries.
    let chain = open(dir.path(), &genesis);
    let mut batch = chain.store().batch();
    for index in 0..block.txs.len() as u32 {
        batch
            .delete(
                schema::TX_RECEIPTS,
                kaimeng_shards::tx_receipt::key(block.number(), index),
            )
            .unwrap();
    }
    chain.store().write(batch).unwrap();
    let rpc = eth_rpc(&chain);
    for (tx, want) in block.txs.iter().zip(&expected) {
        assert_eq!(&receipt(&rpc, tx.hash).await, want);
    }
}
