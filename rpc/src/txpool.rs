//! `txpool_*`: what the pool holds, split into executable (pending) and gapped (queued), in
//! full, for one sender or as one summary line per transaction (geth's shapes), and where one
//! transaction stands (including why it was dropped).

use std::collections::BTreeMap;
use std::sync::Arc;

use alloy_primitives::{Address, B256, U64};
use alloy_rpc_types_eth::Transaction;
use kaimeng_shards::pool::PoolStatus;
use kaimeng_shards::{ShardChain, ShardTx, TxStatus};
use serde::{Deserialize, Serialize};

use crate::api::txpool::TxpoolApiServer;
use crate::error::{RpcResult, from_chain};
use crate::eth::rpc_transaction;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct TxpoolStatus {
    pub pending: U64,
    pub queued: U64,
}

/// Per sender, per nonce (decimal string keys, as geth prints them).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TxpoolContent<T> {
    pub pending: BTreeMap<Address, BTreeMap<String, T>>,
    pub queued: BTreeMap<Address, BTreeMap<String, T>>,
}

/// `txpool_contentFrom`'s answer: one sender's transactions by nonce (decimal string keys).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TxpoolContentFrom<T> {
    pub pending: BTreeMap<String, T>,
    pub queued: BTreeMap<String, T>,
}

/// `txpool_transactionStatus`'s answer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TxStatusView {
    /// `included`, `pending`, `queued`, `dropped` or `unknown`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_number: Option<U64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_index: Option<U64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl From<TxStatus> for TxStatusView {
    fn from(status: TxStatus) -> Self {
        let view = |status: &str| TxStatusView {
            status: status.to_string(),
            block_number: None,
            transaction_index: None,
            reason: None,
        };
        match status {
            TxStatus::Included { block, index } => TxStatusView {
                block_number: Some(U64::from(block)),
                transaction_index: Some(U64::from(index)),
                ..view("included")
            },
            TxStatus::Pool(PoolStatus::Pending) => view("pending"),
            TxStatus::Pool(PoolStatus::Queued) => view("queued"),
            TxStatus::Pool(PoolStatus::Dropped(reason)) => TxStatusView {
                reason: Some(reason),
                ..view("dropped")
            },
            TxStatus::Pool(PoolStatus::Unknown) => view("unknown"),
        }
    }
}

pub struct TxpoolRpc {
    chain: Arc<ShardChain>,
}

impl TxpoolRpc {
    pub fn new(chain: Arc<ShardChain>) -> Self {
        Self { chain }
    }
}

fn by_nonce<T>(
    groups: BTreeMap<Address, Vec<Arc<ShardTx>>>,
    show: impl Fn(&ShardTx) -> T,
) -> BTreeMap<Address, BTreeMap<String, T>> {
    groups
        .into_iter()
        .map(|(sender, txs)| (sender, nonces(&txs, &show)))
        .collect()
}

fn nonces<T>(txs: &[Arc<ShardTx>], show: impl Fn(&ShardTx) -> T) -> BTreeMap<String, T> {
    txs.iter()
        .map(|tx| (tx.nonce().to_string(), show(tx)))
        .collect()
}

fn pooled(tx: &ShardTx) -> Transaction {
    rpc_transaction(tx, None)
}

/// geth's `txpool_inspect` line (`gasPrice` is the fee cap for EIP-1559 transactions).
pub fn summary(tx: &ShardTx) -> String {
    use alloy_consensus::Transaction as _;
    let to = match tx.envelope.to() {
        Some(to) => to.to_checksum(None),
        None => "contract creation".to_string(),
    };
    format!(
        "{to}: {} wei + {} gas × {} wei",
        tx.envelope.value(),
        tx.envelope.gas_limit(),
        tx.envelope.max_fee_per_gas()
    )
}

impl TxpoolApiServer for TxpoolRpc {
    fn status(&self) -> RpcResult<TxpoolStatus> {
        let (pending, queued) = self.chain.pool().content();
        let count = |m: &BTreeMap<Address, Vec<Arc<ShardTx>>>| {
            U64::from(m.values().map(Vec::len).sum::<usize>())
        };
        Ok(TxpoolStatus {
            pending: count(&pending),
            queued: count(&queued),
        })
    }

    fn content(&self) -> RpcResult<TxpoolContent<Transaction>> {
        let (pending, queued) = self.chain.pool().content();
        Ok(TxpoolContent {
            pending: by_nonce(pending, pooled),
            queued: by_nonce(queued, pooled),
        })
    }

    fn content_from(&self, address: Address) -> RpcResult<TxpoolContentFrom<Transaction>> {
        let (pending, queued) = self.chain.pool().content();
        let of = |groups: &BTreeMap<Address, Vec<Arc<ShardTx>>>| {
            groups
                .get(&address)
                .map(|txs| nonces(txs, pooled))
                .unwrap_or_default()
        };
        Ok(TxpoolContentFrom {
            pending: of(&pending),
            queued: of(&queued),
        })
    }

    fn inspect(&self) -> RpcResult<TxpoolContent<String>> {
        let (pending, queued) = self.chain.pool().content();
        Ok(TxpoolContent {
            pending: by_nonce(pending, summary),
            queued: by_nonce(queued, summary),
        })
    }

    fn transaction_status(&self, hash: B256) -> RpcResult<TxStatusView> {
        self.chain
            .tx_status(&hash)
            .map(TxStatusView::from)
            .map_err(from_chain)
    }
}
