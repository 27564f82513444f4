//! `txpool_*`: what the pool holds, split into executable (pending) and gapped (queued), and
//! where one transaction stands (including why it was dropped).

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

fn by_nonce(
    groups: BTreeMap<Address, Vec<Arc<ShardTx>>>,
) -> BTreeMap<Address, BTreeMap<String, Transaction>> {
    groups
        .into_iter()
        .map(|(sender, txs)| {
            (
                sender,
                txs.iter()
                    .map(|tx| (tx.nonce().to_string(), rpc_transaction(tx, None)))
                    .collect(),
            )
        })
        .collect()
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
            pending: by_nonce(pending),
            queued: by_nonce(queued),
        })
    }

    fn transaction_status(&self, hash: B256) -> RpcResult<TxStatusView> {
        self.chain
            .tx_status(&hash)
            .map(TxStatusView::from)
            .map_err(from_chain)
    }
}
