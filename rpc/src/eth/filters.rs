//! Polling filters (`eth_newFilter` and friends): installed per node, expired when not polled,
//! bounded in number, in size and in what they buffer between polls.
//!
//! Pending-transaction filters share one window of the newest [`PENDING_WINDOW`] hashes and each
//! keeps only its position in it, so the node's memory for them does not grow with their number
//! and a new transaction costs one push whatever the number of filters. A filter polled less
//! often than the window turns over misses the oldest hashes.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_primitives::{B256, U256};
use alloy_rpc_types_eth::{Filter, FilterChanges};
use kaimeng_shards::{ChainEvent, ShardChain, logs};
use parking_lot::Mutex;
use tokio::sync::broadcast::error::RecvError;

use crate::error::{RpcResult, from_chain, from_logs, invalid_params, limit_exceeded, not_found};

/// A filter not polled for this long is removed (as geth does).
pub const FILTER_TIMEOUT: Duration = Duration::from_secs(300);
/// Most filters installed at once.
pub const MAX_FILTERS: usize = 10_000;
/// Most addresses in one log filter or subscription, and most alternatives for one topic
/// position (geth's limits).
pub const MAX_FILTER_SET: usize = 1_000;
/// Most addresses and topic alternatives over all installed log filters together.
pub const MAX_FILTER_ITEMS: usize = 1_000_000;
/// How many of the newest pending-transaction hashes pending-transaction filters can read.
pub const PENDING_WINDOW: usize = 1 << 16;
/// Expired filters are looked for at most this often.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// Refuses a log filter with more addresses, or more alternatives at a topic position, than
/// [`MAX_FILTER_SET`].
pub fn check_filter_size(filter: &Filter) -> Result<(), String> {
    if filter.address.len() > MAX_FILTER_SET {
        return Err(format!(
            "filter has {} addresses; at most {MAX_FILTER_SET} are allowed",
            filter.address.len()
        ));
    }
    for (position, topic) in filter.topics.iter().enumerate() {
        if topic.len() > MAX_FILTER_SET {
            return Err(format!(
                "filter has {} alternatives for topic {position}; at most {MAX_FILTER_SET} are allowed",
                topic.len()
            ));
        }
    }
    Ok(())
}

/// Addresses and topic alternatives of `filter`: what it weighs against [`MAX_FILTER_ITEMS`].
fn filter_items(filter: &Filter) -> usize {
    filter.address.len() + filter.topics.iter().map(|t| t.len()).sum::<usize>()
}

enum FilterKind {
    Logs {
        filter: Box<Filter>,
        next_block: u64,
    },
    Blocks {
        next_block: u64,
    },
    PendingTxs {
        next_seq: u64,
    },
}

struct Installed {
    kind: FilterKind,
    last_poll: Instant,
}

impl Installed {
    fn items(&self) -> usize {
        match &self.kind {
            FilterKind::Logs { filter, .. } => filter_items(filter),
            _ => 0,
        }
    }
}

/// The newest pending-transaction hashes, numbered in arrival order.
#[derive(Default)]
struct PendingHashes {
    /// The number of `hashes[0]`.
    first_seq: u64,
    hashes: VecDeque<B256>,
}

impl PendingHashes {
    fn next_seq(&self) -> u64 {
        self.first_seq + self.hashes.len() as u64
    }

    fn push(&mut self, hash: B256) {
        if self.hashes.len() == PENDING_WINDOW {
            self.hashes.pop_front();
            self.first_seq += 1;
        }
        self.hashes.push_back(hash);
    }

    /// The hashes numbered `from` on that are still in the window.
    fn since(&self, from: u64) -> Vec<B256> {
        let skip = from.saturating_sub(self.first_seq) as usize;
        self.hashes.iter().skip(skip).copied().collect()
    }
}

#[derive(Default)]
struct Registry {
    filters: HashMap<U256, Installed>,
    /// [`filter_items`] summed over `filters`.
    items: usize,
    last_sweep: Option<Instant>,
}

impl Registry {
    fn remove(&mut self, id: &U256) -> bool {
        match self.filters.remove(id) {
            Some(gone) => {
                self.items -= gone.items();
                true
            }
            None => false,
        }
    }

    /// Removes the filters not polled within [`FILTER_TIMEOUT`].
    fn sweep(&mut self, now: Instant) {
        self.last_sweep = Some(now);
        let mut freed = 0;
        self.filters.retain(|_, f| {
            let keep = now.duration_since(f.last_poll) < FILTER_TIMEOUT;
            if !keep {
                freed += f.items();
            }
            keep
        });
        self.items -= freed;
    }

    fn sweep_if_due(&mut self, now: Instant) {
        if self
            .last_sweep
            .is_none_or(|last| now.duration_since(last) >= SWEEP_INTERVAL)
        {
            self.sweep(now);
        }
    }
}

pub struct Filters {
    chain: Arc<ShardChain>,
    next_id: Mutex<u64>,
    installed: Mutex<Registry>,
    pending: Arc<Mutex<PendingHashes>>,
}

impl Filters {
    /// Creates the registry and the task that records pending-transaction hashes.
    pub fn new(chain: Arc<ShardChain>) -> Arc<Self> {
        let pending = Arc::new(Mutex::new(PendingHashes::default()));
        let filters = Arc::new(Self {
            chain: chain.clone(),
            next_id: Mutex::new(1),
            installed: Mutex::new(Registry::default()),
            pending: pending.clone(),
        });
        let registry = Arc::downgrade(&filters);
        let mut events = chain.subscribe();
        tokio::spawn(async move {
            loop {
                let event = events.recv().await;
                let Some(filters) = registry.upgrade() else {
                    return;
                };
                match event {
                    Ok(ChainEvent::PendingTx(hash)) => pending.lock().push(hash),
                    Ok(ChainEvent::NewBlock(_)) | Err(RecvError::Lagged(_)) => {
                        filters.installed.lock().sweep_if_due(Instant::now());
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        });
        filters
    }

    fn install(&self, kind: FilterKind) -> RpcResult<U256> {
        let mut registry = self.installed.lock();
        let now = Instant::now();
        if registry.filters.len() >= MAX_FILTERS {
            registry.sweep(now);
        }
        if registry.filters.len() >= MAX_FILTERS {
            return Err(limit_exceeded(format!(
                "too many installed filters (limit {MAX_FILTERS}); uninstall some or let them expire"
            )));
        }
        let entry = Installed {
            kind,
            last_poll: now,
        };
        let items = entry.items();
        if registry.items + items > MAX_FILTER_ITEMS {
            registry.sweep(now);
            if registry.items + items > MAX_FILTER_ITEMS {
                return Err(limit_exceeded(format!(
                    "installed filters name too many addresses and topics (limit \
                     {MAX_FILTER_ITEMS} in all); uninstall some or let them expire"
                )));
            }
        }
        let mut next = self.next_id.lock();
        let id = U256::from(*next);
        *next += 1;
        registry.items += items;
        registry.filters.insert(id, entry);
        Ok(id)
    }

    pub fn new_logs(&self, filter: Filter) -> RpcResult<U256> {
        check_filter_size(&filter).map_err(invalid_params)?;
        let next_block = self.chain.head().number() + 1;
        self.install(FilterKind::Logs {
            filter: Box::new(filter),
            next_block,
        })
    }

    pub fn new_blocks(&self) -> RpcResult<U256> {
        let next_block = self.chain.head().number() + 1;
        self.install(FilterKind::Blocks { next_block })
    }

    pub fn new_pending(&self) -> RpcResult<U256> {
        let next_seq = self.pending.lock().next_seq();
        self.install(FilterKind::PendingTxs { next_seq })
    }

    pub fn uninstall(&self, id: &U256) -> bool {
        self.installed.lock().remove(id)
    }

    /// What happened since the last poll (at most the last [`logs::MAX_BLOCK_RANGE`] blocks, and
    /// the pending hashes still in the window).
    pub fn changes(&self, id: &U256) -> RpcResult<FilterChanges> {
        let head = self.chain.head().number();
        let mut registry = self.installed.lock();
        let entry = registry
            .filters
            .get_mut(id)
            .ok_or_else(|| not_found("filter not found"))?;
        entry.last_poll = Instant::now();
        let oldest = head.saturating_sub(logs::MAX_BLOCK_RANGE - 1);
        match &mut entry.kind {
            FilterKind::PendingTxs { next_seq } => {
                let pending = self.pending.lock();
                let hashes = pending.since(*next_seq);
                *next_seq = pending.next_seq();
                Ok(FilterChanges::Hashes(hashes))
            }
            FilterKind::Blocks { next_block } => {
                let mut hashes = Vec::new();
                for number in (*next_block).max(oldest)..=head {
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
                let from = (*next_block).max(oldest);
                let found = logs::query(&self.chain, filter, from, head).map_err(from_logs)?;
                *next_block = head + 1;
                Ok(FilterChanges::Logs(found))
            }
        }
    }

    /// All logs a log filter matches over its own block range.
    pub fn logs_of(&self, id: &U256) -> RpcResult<Filter> {
        let mut registry = self.installed.lock();
        let entry = registry
            .filters
            .get_mut(id)
            .ok_or_else(|| not_found("filter not found"))?;
        entry.last_poll = Instant::now();
        match &entry.kind {
            FilterKind::Logs { filter, .. } => Ok((**filter).clone()),
            _ => Err(not_found("filter is not a log filter")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u64) -> B256 {
        B256::from(U256::from(n))
    }

    #[test]
    fn pending_window_keeps_the_newest_hashes_and_each_reader_its_place() {
        let mut window = PendingHashes::default();
        let early_reader = window.next_seq();
        for n in 0..10 {
            window.push(hash(n));
        }
        let late_reader = window.next_seq();
        window.push(hash(10));
        assert_eq!(window.since(early_reader).len(), 11);
        assert_eq!(window.since(late_reader), vec![hash(10)]);
        assert!(window.since(window.next_seq()).is_empty());

        for n in 11..(PENDING_WINDOW as u64 + 100) {
            window.push(hash(n));
        }
        assert_eq!(window.hashes.len(), PENDING_WINDOW);
        let behind = window.since(early_reader);
        assert_eq!(
            behind.len(),
            PENDING_WINDOW,
            "a reader behind the window gets all of it"
        );
        assert_eq!(behind[0], hash(100));
        assert_eq!(*behind.last().unwrap(), hash(PENDING_WINDOW as u64 + 99));
    }

    #[test]
    fn oversized_filters_are_refused() {
        let addresses: Vec<_> = (0..MAX_FILTER_SET as u64)
            .map(|n| alloy_primitives::Address::from_word(hash(n)))
            .collect();
        assert!(check_filter_size(&Filter::new().address(addresses)).is_ok());
        let addresses: Vec<_> = (0..=MAX_FILTER_SET as u64)
            .map(|n| alloy_primitives::Address::from_word(hash(n)))
            .collect();
        let err = check_filter_size(&Filter::new().address(addresses)).unwrap_err();
        assert!(err.contains("addresses"), "{err}");
        let topics: Vec<_> = (0..=MAX_FILTER_SET as u64).map(hash).collect();
        let err = check_filter_size(&Filter::new().event_signature(topics)).unwrap_err();
        assert!(err.contains("topic 0"), "{err}");
    }

    #[test]
    fn sweeping_frees_the_items_of_expired_filters() {
        let mut registry = Registry::default();
        let filter = Filter::new().address(vec![
            alloy_primitives::Address::ZERO,
            alloy_primitives::Address::repeat_byte(1),
        ]);
        let now = Instant::now();
        let old = Installed {
            kind: FilterKind::Logs {
                filter: Box::new(filter),
                next_block: 1,
            },
            last_poll: now,
        };
        registry.items += old.items();
        registry.filters.insert(U256::from(1), old);
        registry.filters.insert(
            U256::from(2),
            Installed {
                kind: FilterKind::PendingTxs { next_seq: 0 },
                last_poll: now,
            },
        );
        assert_eq!(registry.items, 2);
        registry.sweep(now + FILTER_TIMEOUT / 2);
        assert_eq!(registry.filters.len(), 2);
        registry.sweep(now + FILTER_TIMEOUT);
        assert!(registry.filters.is_empty());
        assert_eq!(registry.items, 0);
    }
}
