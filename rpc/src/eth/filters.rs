//! Polling filters (`eth_newFilter` and friends): installed per node, expired when not polled.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_primitives::{B256, U256};
use alloy_rpc_types_eth::{Filter, FilterChanges};
use kaimeng_shards::{ChainEvent, ShardChain, logs};
use parking_lot::Mutex;

use crate::error::{RpcResult, from_chain, from_logs, limit_exceeded, not_found};

/// A filter not polled for this long is removed (as geth does).
pub const FILTER_TIMEOUT: Duration = Duration::from_secs(300);
/// Most filters installed at once.
pub const MAX_FILTERS: usize = 10_000;
/// Most pending-transaction hashes buffered per filter between polls.
const MAX_BUFFERED_HASHES: usize = 10_000;

enum FilterKind {
    Logs { filter: Filter, next_block: u64 },
    Blocks { next_block: u64 },
    PendingTxs { hashes: Vec<B256> },
}

struct Installed {
    kind: FilterKind,
    last_poll: Instant,
}

pub struct Filters {
    chain: Arc<ShardChain>,
    next_id: Mutex<u64>,
    installed: Arc<Mutex<HashMap<U256, Installed>>>,
}

impl Filters {
    /// Creates the registry and the task that feeds pending-transaction filters.
    pub fn new(chain: Arc<ShardChain>) -> Arc<Self> {
        let filters = Arc::new(Self {
            chain: chain.clone(),
            next_id: Mutex::new(1),
            installed: Arc::new(Mutex::new(HashMap::new())),
        });
        let installed = Arc::downgrade(&filters.installed);
        let mut events = chain.subscribe();
        tokio::spawn(async move {
            loop {
                let event = events.recv().await;
                let Some(installed) = installed.upgrade() else {
                    return;
                };
                match event {
                    Ok(ChainEvent::PendingTx(hash)) => {
                        let mut all = installed.lock();
                        for entry in all.values_mut() {
                            if let FilterKind::PendingTxs { hashes } = &mut entry.kind {
                                if hashes.len() < MAX_BUFFERED_HASHES {
                                    hashes.push(hash);
                                }
                            }
                        }
                    }
                    Ok(ChainEvent::NewBlock(_))
                    | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        installed
                            .lock()
                            .retain(|_, f| f.last_poll.elapsed() < FILTER_TIMEOUT);
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        filters
    }

    fn install(&self, kind: FilterKind) -> RpcResult<U256> {
        let mut installed = self.installed.lock();
        if installed.len() >= MAX_FILTERS {
            return Err(limit_exceeded(format!(
                "too many installed filters (limit {MAX_FILTERS}); uninstall some or let them expire"
            )));
        }
        let mut next = self.next_id.lock();
        let id = U256::from(*next);
        *next += 1;
        installed.insert(
            id,
            Installed {
                kind,
                last_poll: Instant::now(),
            },
        );
        Ok(id)
    }

    pub fn new_logs(&self, filter: Filter) -> RpcResult<U256> {
        let next_block = self.chain.head().number() + 1;
        self.install(FilterKind::Logs { filter, next_block })
    }

    pub fn new_blocks(&self) -> RpcResult<U256> {
        let next_block = self.chain.head().number() + 1;
        self.install(FilterKind::Blocks { next_block })
    }

    pub fn new_pending(&self) -> RpcResult<U256> {
        self.install(FilterKind::PendingTxs { hashes: Vec::new() })
    }

    pub fn uninstall(&self, id: &U256) -> bool {
        self.installed.lock().remove(id).is_some()
    }

    /// What happened since the last poll.
    pub fn changes(&self, id: &U256) -> RpcResult<FilterChanges> {
        let head = self.chain.head().number();
        let mut installed = self.installed.lock();
        let entry = installed
            .get_mut(id)
            .ok_or_else(|| not_found("filter not found"))?;
        entry.last_poll = Instant::now();
        match &mut entry.kind {
            FilterKind::PendingTxs { hashes } => Ok(FilterChanges::Hashes(std::mem::take(hashes))),
            FilterKind::Blocks { next_block } => {
                let mut hashes = Vec::new();
                for number in *next_block..=head {
                    if let Some(h) = self.chain.header(number).map_err(from_chain)? {
                        hashes.push(h.hash);
                    }
                }
                *next_block = head + 1;
                Ok(FilterChanges::Hashes(hashes))
            }
            FilterKind::Logs { filter, next_block } => {
                if *next_block > head {
                    return Ok(FilterChanges::Logs(Vec::new()));
                }
                let from = (*next_block).max(head.saturating_sub(logs::MAX_BLOCK_RANGE - 1));
                let found = logs::query(&self.chain, filter, from, head).map_err(from_logs)?;
                *next_block = head + 1;
                Ok(FilterChanges::Logs(found))
            }
        }
    }

    /// All logs a log filter matches over its own block range.
    pub fn logs_of(&self, id: &U256) -> RpcResult<Filter> {
        let mut installed = self.installed.lock();
        let entry = installed
            .get_mut(id)
            .ok_or_else(|| not_found("filter not found"))?;
        entry.last_poll = Instant::now();
        match &entry.kind {
            FilterKind::Logs { filter, .. } => Ok(filter.clone()),
            _ => Err(not_found("filter is not a log filter")),
        }
    }
}
