//! `txpool_*`: what the pool holds, split into executable (pending) and gapped (queued).

use std::collections::BTreeMap;
use std::sync::Arc;

use alloy_primitives::{Address, U64};
use alloy_rpc_types_eth::Transaction;
use kaimeng_shards::{ShardChain, ShardTx};
use serde::{Deserialize, Serialize};

use crate::api::txpool::TxpoolApiServer;
use crate::error::RpcResult;
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
}
