//! Shard-0 fixtures shared by the benchmarks: a dev chain with an ERC-20 token, signed ERC-20
//! transfers, the bridge's commit of a batch of L2 transfers, and running a block of raw
//! transactions the way a validator does (decode with sender recovery, then execute).

use std::sync::Arc;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, hex, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolConstructor, sol};
use kaimeng_genesis::{BRIDGE_ADDRESS, DEV_ACCOUNT_COUNT, DevOptions, GenesisSpec, dev_accounts};
use kaimeng_shards::executor::{BlockContext, BlockExecution, execute_block};
use kaimeng_shards::tx::call_gas_bound;
use kaimeng_shards::{ShardChain, ShardTx, StateAt};

sol! {
    constructor(string name, string symbol, uint256 supply);
    function transfer(address to, uint256 value) returns (bool);
    function commitBatch(uint64 batchNumber, bytes[] chunkData, bytes32[] chunkRoots, bytes32[] chunkQueues) external;
}

/// The dev network's shard-0 chain id.
pub const CHAIN_ID: u64 = 31337;

/// An EIP-1559 transaction, signed and encoded.
pub fn signed(key: &PrivateKeySigner, nonce: u64, to: TxKind, input: Bytes, gas: u64) -> Bytes {
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

/// The first dev account, which deploys the token and sends the transfers.
pub fn dev_key() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&dev_accounts(1)[0].private_key).unwrap()
}

/// The dev genesis's rollup sequencer, the only account that may commit batches.
pub fn sequencer_key() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(
        &dev_accounts(DEV_ACCOUNT_COUNT)[DEV_ACCOUNT_COUNT - 1].private_key,
    )
    .unwrap()
}

/// A dev shard 0 (the bridge at genesis) on disk, with the test ERC-20 token deployed in block
/// 1 by [`dev_key`] (nonce 0); the token's address.
pub fn token_chain() -> (tempfile::TempDir, Arc<ShardChain>, Address) {
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

/// `count` ERC-20 transfers of 1 from [`dev_key`] (nonces from 1) to distinct new accounts.
pub fn erc20_transfers(token: Address, count: u64) -> Vec<Bytes> {
    let key = dev_key();
    (0..count)
        .map(|i| {
            let data: Bytes = transferCall {
                to: Address::from_word(keccak256(i.to_be_bytes())),
                value: U256::from(1u64),
            }
            .abi_encode()
            .into();
            signed(&key, 1 + i, TxKind::Call(token), data, 100_000)
        })
        .collect()
}

/// The sequencer's commit of batch 1: `chunks` chunks of `slots` L2 transfers each (16
/// published bytes: kind, from, to, amount, fee) among accounts 1 to 4,096, signed. The bridge
/// parses and hashes the data; the proofs (not part of a commit) vouch for it.
pub fn bridge_commit_of_transfers(chunks: usize, slots: usize) -> Bytes {
    bridge_commit(1, 0, chunks, slots)
}

/// [`bridge_commit_of_transfers`] for batch `batch`, signed with the sequencer's nonce `nonce`
/// (and gas for the largest commit the bridge takes).
pub fn bridge_commit(batch: u64, nonce: u64, chunks: usize, slots: usize) -> Bytes {
    let chunk = |c: usize| -> Bytes {
        let mut data = Vec::with_capacity(slots * 16);
        for slot in 0..slots {
            let from = (c * slots + slot) as u32 % 4096 + 1;
            data.push(1u8);
            data.extend_from_slice(&from.to_be_bytes());
            data.extend_from_slice(&(from % 4096 + 1).to_be_bytes());
            data.extend_from_slice(&[0, 0, 0, 0, 1]);
            data.extend_from_slice(&[0, 1]);
        }
        data.into()
    };
    let call: Bytes = commitBatchCall {
        batchNumber: batch,
        chunkData: (0..chunks).map(chunk).collect(),
        chunkRoots: (0..chunks as u64)
            .map(|c| keccak256(c.to_be_bytes()))
            .collect(),
        chunkQueues: vec![B256::ZERO; chunks],
    }
    .abi_encode()
    .into();
    // Calldata and the bridge's parsing (about 22,000 gas a chunk), with room to spare.
    let gas = call_gas_bound(call.len(), 30_000 * chunks as u64) + 500_000;
    signed(
        &sequencer_key(),
        nonce,
        TxKind::Call(BRIDGE_ADDRESS),
        call,
        gas,
    )
}

/// The context of the block after `chain`'s head, with room for any number of transactions.
pub fn next_block(chain: &ShardChain) -> BlockContext {
    let head = chain.head();
    BlockContext {
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
        deliveries: Arc::from([]),
        beacon_height: 0,
    }
}

/// A validator's work on a block of `raws` over `state`: each decoded (its sender recovered),
/// then all executed. Panics unless every transaction is included and succeeds.
pub fn run_block(state: &StateAt, ctx: &BlockContext, raws: &[Bytes]) -> BlockExecution {
    let txs: Vec<Arc<ShardTx>> = raws
        .iter()
        .map(|raw| Arc::new(ShardTx::decode(raw, CHAIN_ID).unwrap()))
        .collect();
    let out = execute_block(state, ctx, txs.into_iter()).unwrap();
    assert_eq!(out.txs.len(), raws.len(), "skipped: {:?}", out.skipped);
    assert!(
        out.txs.iter().all(|t| t.receipt.status()),
        "every transaction succeeds"
    );
    out
}
