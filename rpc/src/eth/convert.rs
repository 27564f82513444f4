//! Shard data in the shapes Ethereum's JSON-RPC returns (alloy's RPC types).

use alloy_consensus::transaction::Recovered;
use alloy_consensus::{ReceiptEnvelope, Transaction as _};
use alloy_primitives::U256;
use alloy_rpc_types_eth::{Block, BlockTransactions, Header, Log, Transaction, TransactionReceipt};
use kaimeng_shards::tx_receipt::LocatedReceipt;
use kaimeng_shards::{SealedHeader, ShardTx, StoredBlock};

pub fn header(sealed: &SealedHeader, size: usize) -> Header {
    Header {
        hash: sealed.hash,
        inner: sealed.header.clone(),
        total_difficulty: Some(U256::ZERO),
        size: Some(U256::from(size)),
    }
}

/// A transaction, positioned in its block when it has one.
pub fn transaction(tx: &ShardTx, position: Option<(&SealedHeader, usize)>) -> Transaction {
    let base_fee = position.and_then(|(h, _)| h.header.base_fee_per_gas);
    Transaction {
        inner: Recovered::new_unchecked(tx.envelope.clone(), tx.sender),
        block_hash: position.map(|(h, _)| h.hash),
        block_number: position.map(|(h, _)| h.number()),
        transaction_index: position.map(|(_, i)| i as u64),
        effective_gas_price: position.map(|_| tx.envelope.effective_gas_price(base_fee)),
        block_timestamp: position.map(|(h, _)| h.header.timestamp),
    }
}

pub fn block(block: &StoredBlock, full: bool) -> Block {
    let size = 600 + block.txs.iter().map(|t| t.encoded.len()).sum::<usize>();
    let transactions = if full {
        BlockTransactions::Full(
            block
                .txs
                .iter()
                .enumerate()
                .map(|(i, tx)| transaction(tx, Some((&block.header, i))))
                .collect(),
        )
    } else {
        BlockTransactions::Hashes(block.txs.iter().map(|tx| tx.hash).collect())
    };
    Block {
        header: header(&block.header, size),
        uncles: Vec::new(),
        transactions,
        withdrawals: Some(Default::default()),
    }
}

/// Receipts of every transaction in `block`, with block-wide log indexes.
pub fn receipts(block: &StoredBlock) -> Vec<TransactionReceipt> {
    let mut next_log_index = 0u64;
    let base_fee = block.header.header.base_fee_per_gas;
    block
        .txs
        .iter()
        .zip(&block.receipts)
        .enumerate()
        .map(|(index, (tx, stored))| {
            let inner: ReceiptEnvelope<Log> = stored.envelope.clone().map_logs(|log| {
                let positioned = Log {
                    inner: log,
                    block_hash: Some(block.hash()),
                    block_number: Some(block.number()),
                    block_timestamp: Some(block.header.header.timestamp),
                    transaction_hash: Some(tx.hash),
                    transaction_index: Some(index as u64),
                    log_index: Some(next_log_index),
                    removed: false,
                };
                next_log_index += 1;
                positioned
            });
            TransactionReceipt {
                inner,
                transaction_hash: tx.hash,
                transaction_index: Some(index as u64),
                block_hash: Some(block.hash()),
                block_number: Some(block.number()),
                gas_used: stored.gas_used,
                effective_gas_price: tx.envelope.effective_gas_price(base_fee),
                blob_gas_used: None,
                blob_gas_price: None,
                from: tx.sender,
                to: tx.envelope.to(),
                contract_address: stored.contract_address,
            }
        })
        .collect()
}

/// One receipt from its stored entry alone; the same result [`receipts`] gives for it.
pub fn receipt(located: &LocatedReceipt) -> TransactionReceipt {
    let entry = &located.entry;
    let mut next_log_index = entry.first_log_index;
    let inner: ReceiptEnvelope<Log> = entry.envelope.clone().map_logs(|log| {
        let positioned = Log {
            inner: log,
            block_hash: Some(located.block_hash),
            block_number: Some(located.block_number),
            block_timestamp: Some(located.block_timestamp),
            transaction_hash: Some(located.tx_hash),
            transaction_index: Some(located.index),
            log_index: Some(next_log_index),
            removed: false,
        };
        next_log_index += 1;
        positioned
    });
    TransactionReceipt {
        inner,
        transaction_hash: located.tx_hash,
        transaction_index: Some(located.index),
        block_hash: Some(located.block_hash),
        block_number: Some(located.block_number),
        gas_used: entry.gas_used,
        effective_gas_price: entry.effective_gas_price,
        blob_gas_used: None,
        blob_gas_price: None,
        from: entry.from,
        to: entry.to,
        contract_address: entry.contract_address,
    }
}
