//! Log queries: the logs of a block with their positions, and filtered range scans that skip
//! blocks by their header bloom.

use alloy_rpc_types_eth::{Filter, Log};

use crate::block::StoredBlock;
use crate::chain::{ChainError, ShardChain};

/// Widest block range one `eth_getLogs` may scan.
pub const MAX_BLOCK_RANGE: u64 = 10_000;
/// Most logs one query may return.
pub const MAX_LOGS: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum LogQueryError {
    #[error("block range {from}..={to} is too wide: at most {max} blocks per query")]
    RangeTooWide { from: u64, to: u64, max: u64 },
    #[error("invalid block range: fromBlock {from} is after toBlock {to}")]
    Reversed { from: u64, to: u64 },
    #[error("query returned more than {0} logs; narrow the block range or the filter")]
    TooManyLogs(usize),
    #[error(transparent)]
    Chain(#[from] ChainError),
}

/// Every log of `block`, positioned (block, transaction, index within the block).
pub fn block_logs(block: &StoredBlock) -> Vec<Log> {
    let mut out = Vec::new();
    let mut log_index = 0u64;
    for (tx_index, (tx, receipt)) in block.txs.iter().zip(&block.receipts).enumerate() {
        for inner in receipt.envelope.logs() {
            out.push(Log {
                inner: inner.clone(),
                block_hash: Some(block.hash()),
                block_number: Some(block.number()),
                block_timestamp: Some(block.header.header.timestamp),
                transaction_hash: Some(tx.hash),
                transaction_index: Some(tx_index as u64),
                log_index: Some(log_index),
                removed: false,
            });
            log_index += 1;
        }
    }
    out
}

/// The logs of `block` that `filter` selects (its block range is not consulted).
pub fn filter_block(filter: &Filter, block: &StoredBlock) -> Vec<Log> {
    if !filter.matches_bloom(block.header.header.logs_bloom) {
        return Vec::new();
    }
    block_logs(block)
        .into_iter()
        .filter(|log| {
            filter.matches_address(log.inner.address) && filter.matches_topics(log.inner.topics())
        })
        .collect()
}

/// Logs matching `filter` in blocks `from..=to`.
pub fn query(
    chain: &ShardChain,
    filter: &Filter,
    from: u64,
    to: u64,
) -> Result<Vec<Log>, LogQueryError> {
    if from > to {
        return Err(LogQueryError::Reversed { from, to });
    }
    if to - from >= MAX_BLOCK_RANGE {
        return Err(LogQueryError::RangeTooWide {
            from,
            to,
            max: MAX_BLOCK_RANGE,
        });
    }
    let mut out = Vec::new();
    for number in from..=to {
        let Some(header) = chain.header(number)? else {
            break;
        };
        if !filter.matches_bloom(header.header.logs_bloom) {
            continue;
        }
        let Some(block) = chain.block(number)? else {
            break;
        };
        out.extend(filter_block(filter, &block));
        if out.len() > MAX_LOGS {
            return Err(LogQueryError::TooManyLogs(MAX_LOGS));
        }
    }
    Ok(out)
}
