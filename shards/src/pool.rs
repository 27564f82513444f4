//! The transaction pool: per-sender nonce queues, admission checks against state, fee-ordered
//! selection of executable transactions for the next block, replacement by fee bump, limits in
//! count and bytes, expiry of transactions that cannot execute, and a record of what it dropped.
//!
//! Pure: the caller passes the sender's head state and the current time, so every rule is
//! tested without a chain or a clock.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_consensus::Transaction;
use alloy_primitives::{Address, B256, U256};

use crate::tx::ShardTx;

/// Pool limits.
#[derive(Clone, Debug)]
pub struct PoolConfig {
    /// Most transactions pooled at once.
    pub max_txs: usize,
    /// Most encoded bytes pooled at once.
    pub max_bytes: usize,
    /// Most transactions one sender may have pooled at once.
    pub max_per_sender: usize,
    /// How far past the sender's next nonce (counting its pooled transactions) a transaction
    /// may be queued.
    pub max_nonce_gap: u64,
    /// A sender whose pooled transactions cannot execute (a nonce gap) loses them once it has
    /// neither added a transaction nor had one included for this long.
    pub queued_lifetime: Duration,
    /// Minimum fee increase (percent) for replacing a transaction with the same nonce.
    pub price_bump_percent: u128,
    /// How many dropped transactions are remembered for status queries.
    pub dropped_memory: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_txs: 200_000,
            max_bytes: 64 * 1024 * 1024,
            max_per_sender: 16_384,
            max_nonce_gap: 1_024,
            queued_lifetime: Duration::from_secs(600),
            price_bump_percent: 10,
            dropped_memory: 20_000,
        }
    }
}

/// Why the pool refused a transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error("nonce too low: next nonce {next}, tx nonce {got}")]
    NonceTooLow { next: u64, got: u64 },
    #[error(
        "nonce too high: the sender's next nonce is {next} (counting its pooled transactions) and tx nonce {got} is more than {gap} ahead"
    )]
    NonceTooHigh { next: u64, got: u64, gap: u64 },
    #[error("insufficient funds for gas * price + value: balance {balance}, tx cost {cost}")]
    InsufficientFunds { balance: U256, cost: U256 },
    #[error("max fee per gas {fee_cap} is below the minimum base fee {min_base_fee}")]
    FeeCapBelowMinimum { fee_cap: u128, min_base_fee: u64 },
    #[error("replacement transaction underpriced: raise the fee by at least {0}%")]
    ReplacementUnderpriced(u128),
    #[error("already known")]
    AlreadyKnown,
    #[error(
        "txpool is full: it holds at most {max_txs} transactions and {max_bytes} bytes; try again later"
    )]
    Full { max_txs: usize, max_bytes: usize },
    #[error("too many pending transactions from this sender {sender} (limit {limit})")]
    SenderFull { sender: Address, limit: usize },
}

/// What the pool needs to know about a sender from the head state.
#[derive(Clone, Copy, Debug)]
pub struct SenderState {
    pub nonce: u64,
    pub balance: U256,
}

/// Where the pool stands on one transaction hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PoolStatus {
    /// Pooled and executable now (its nonce is next, counting the sender's pooled ones).
    Pending,
    /// Pooled behind a nonce gap.
    Queued,
    /// Was pooled and left without being included, for this reason.
    Dropped(String),
    /// Never seen, or included, or forgotten.
    Unknown,
}

struct SenderQueue {
    /// Next nonce the chain expects from this sender (as of the last head seen).
    chain_nonce: u64,
    /// Every nonce in `chain_nonce..ready_end` is pooled (a cache of the contiguous run).
    ready_end: u64,
    txs: BTreeMap<u64, Arc<ShardTx>>,
    /// When the sender last added a transaction or had one included.
    touched: Instant,
}

impl SenderQueue {
    fn new(chain_nonce: u64, now: Instant) -> Self {
        Self {
            chain_nonce,
            ready_end: chain_nonce,
            txs: BTreeMap::new(),
            touched: now,
        }
    }

    /// The next nonce after the contiguous run of pooled transactions from `chain_nonce`.
    fn next_nonce(&self) -> u64 {
        let mut next = self.ready_end.max(self.chain_nonce);
        while self.txs.contains_key(&next) {
            next += 1;
        }
        next
    }

    fn has_executable(&self) -> bool {
        self.txs.contains_key(&self.chain_nonce)
    }
}

pub struct TxPool {
    config: PoolConfig,
    senders: HashMap<Address, SenderQueue>,
    by_hash: HashMap<B256, Arc<ShardTx>>,
    bytes: usize,
    /// Recently dropped transactions and why, oldest first, bounded by `dropped_memory`.
    dropped: HashMap<B256, String>,
    dropped_order: VecDeque<B256>,
    /// Hashes that left without being included since the last [`TxPool::take_departed`].
    departed: Vec<B256>,
    /// When [`TxPool::expire`] last swept.
    swept: Option<Instant>,
}

impl Default for TxPool {
    fn default() -> Self {
        Self::new(PoolConfig::default())
    }
}

impl TxPool {
    pub fn new(config: PoolConfig) -> Self {
        Self {
            config,
            senders: HashMap::new(),
            by_hash: HashMap::new(),
            bytes: 0,
            dropped: HashMap::new(),
            dropped_order: VecDeque::new(),
            departed: Vec::new(),
            swept: None,
        }
    }

    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Encoded bytes of all pooled transactions.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    pub fn get(&self, hash: &B256) -> Option<Arc<ShardTx>> {
        self.by_hash.get(hash).cloned()
    }

    /// Admits `tx` given its sender's head state at time `now`. Returns the hash of a replaced
    /// transaction.
    pub fn add(
        &mut self,
        tx: Arc<ShardTx>,
        sender: SenderState,
        min_base_fee: u64,
        now: Instant,
    ) -> Result<Option<B256>, PoolError> {
        if self.by_hash.contains_key(&tx.hash) {
            return Err(PoolError::AlreadyKnown);
        }
        let fee_cap = tx.envelope.max_fee_per_gas();
        if fee_cap < min_base_fee as u128 {
            return Err(PoolError::FeeCapBelowMinimum {
                fee_cap,
                min_base_fee,
            });
        }
        let nonce = tx.nonce();
        if nonce < sender.nonce {
            return Err(PoolError::NonceTooLow {
                next: sender.nonce,
                got: nonce,
            });
        }
        let cost = tx.max_cost();
        if cost > sender.balance {
            return Err(PoolError::InsufficientFunds {
                balance: sender.balance,
                cost,
            });
        }
        let next = match self.senders.get_mut(&tx.sender) {
            Some(queue) => {
                queue.chain_nonce = queue.chain_nonce.max(sender.nonce);
                queue.ready_end = queue.next_nonce();
                queue.ready_end
            }
            None => sender.nonce,
        };
        if nonce > next + self.config.max_nonce_gap {
            return Err(PoolError::NonceTooHigh {
                next,
                got: nonce,
                gap: self.config.max_nonce_gap,
            });
        }
        let size = tx.encoded.len();
        let existing = self
            .senders
            .get(&tx.sender)
            .and_then(|queue| queue.txs.get(&nonce))
            .cloned();
        let replaced = match existing {
            Some(old) => {
                let bump = 100 + self.config.price_bump_percent;
                let old_fee = old.envelope.max_fee_per_gas();
                let old_tip = old.envelope.max_priority_fee_per_gas().unwrap_or(old_fee);
                let new_tip = tx.envelope.max_priority_fee_per_gas().unwrap_or(fee_cap);
                if fee_cap * 100 < old_fee * bump || new_tip * 100 < old_tip * bump {
                    return Err(PoolError::ReplacementUnderpriced(
                        self.config.price_bump_percent,
                    ));
                }
                if self.bytes - old.encoded.len() + size > self.config.max_bytes {
                    return Err(self.full());
                }
                Some(old)
            }
            None => {
                if self.by_hash.len() >= self.config.max_txs
                    || self.bytes + size > self.config.max_bytes
                {
                    return Err(self.full());
                }
                let pooled = self.senders.get(&tx.sender).map_or(0, |q| q.txs.len());
                if pooled >= self.config.max_per_sender {
                    return Err(PoolError::SenderFull {
                        sender: tx.sender,
                        limit: self.config.max_per_sender,
                    });
                }
                None
            }
        };
        if let Some(old) = &replaced {
            self.by_hash.remove(&old.hash);
            self.bytes -= old.encoded.len();
            self.record_drop(
                old.hash,
                format!("replaced by transaction {} (higher fee)", tx.hash),
            );
        }
        let queue = self
            .senders
            .entry(tx.sender)
            .or_insert_with(|| SenderQueue::new(sender.nonce, now));
        queue.touched = now;
        queue.txs.insert(nonce, tx.clone());
        self.bytes += size;
        self.by_hash.insert(tx.hash, tx);
        Ok(replaced.map(|old| old.hash))
    }

    fn full(&self) -> PoolError {
        PoolError::Full {
            max_txs: self.config.max_txs,
            max_bytes: self.config.max_bytes,
        }
    }

    /// The next nonce `sender` would use, counting its contiguous pooled transactions.
    pub fn pending_nonce(&self, sender: &Address, chain_nonce: u64) -> u64 {
        let Some(queue) = self.senders.get(sender) else {
            return chain_nonce;
        };
        let mut next = queue.ready_end.max(chain_nonce);
        while queue.txs.contains_key(&next) {
            next += 1;
        }
        next
    }

    /// Whether any sender has a transaction that can go into a block at `base_fee` now.
    pub fn has_executable(&self, base_fee: u64) -> bool {
        self.senders.values().any(|queue| {
            queue
                .txs
                .get(&queue.chain_nonce)
                .is_some_and(|tx| tx.effective_tip(base_fee).is_some())
        })
    }

    /// Whether pooled transaction `hash` is its sender's next and can pay `base_fee`.
    pub fn is_executable(&self, hash: &B256, base_fee: u64) -> bool {
        self.by_hash.get(hash).is_some_and(|tx| {
            self.senders[&tx.sender].chain_nonce == tx.nonce()
                && tx.effective_tip(base_fee).is_some()
        })
    }

    /// Executable transactions, best tip first across senders, nonce order within a sender.
    pub fn best(&self, base_fee: u64, max: usize) -> Vec<Arc<ShardTx>> {
        struct Head {
            tip: u128,
            sender: Address,
            nonce: u64,
        }
        impl PartialEq for Head {
            fn eq(&self, other: &Self) -> bool {
                self.cmp(other) == Ordering::Equal
            }
        }
        impl Eq for Head {}
        impl PartialOrd for Head {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }
        impl Ord for Head {
            fn cmp(&self, other: &Self) -> Ordering {
                self.tip
                    .cmp(&other.tip)
                    .then_with(|| other.sender.cmp(&self.sender))
            }
        }
        let mut heap = BinaryHeap::new();
        for (sender, queue) in &self.senders {
            if let Some(tx) = queue.txs.get(&queue.chain_nonce) {
                if let Some(tip) = tx.effective_tip(base_fee) {
                    heap.push(Head {
                        tip,
                        sender: *sender,
                        nonce: queue.chain_nonce,
                    });
                }
            }
        }
        let mut out = Vec::new();
        while let Some(head) = heap.pop() {
            if out.len() >= max {
                break;
            }
            let queue = &self.senders[&head.sender];
            out.push(queue.txs[&head.nonce].clone());
            if let Some(next) = queue.txs.get(&(head.nonce + 1)) {
                if let Some(tip) = next.effective_tip(base_fee) {
                    heap.push(Head {
                        tip,
                        sender: head.sender,
                        nonce: head.nonce + 1,
                    });
                }
            }
        }
        out
    }

    /// After a block at time `now`: drop what it included and anything its senders can no
    /// longer use.
    pub fn on_new_head(
        &mut self,
        included: &[Arc<ShardTx>],
        sender_nonces: impl Fn(&Address) -> u64,
        now: Instant,
    ) {
        let mut touched: Vec<Address> = included.iter().map(|tx| tx.sender).collect();
        touched.sort_unstable();
        touched.dedup();
        let included: std::collections::HashSet<B256> = included.iter().map(|tx| tx.hash).collect();
        for sender in touched {
            let nonce = sender_nonces(&sender);
            let Some(queue) = self.senders.get_mut(&sender) else {
                continue;
            };
            queue.chain_nonce = nonce;
            queue.touched = now;
            let keep = queue.txs.split_off(&nonce);
            let stale = std::mem::replace(&mut queue.txs, keep);
            let empty = queue.txs.is_empty();
            for (nonce, tx) in stale {
                self.by_hash.remove(&tx.hash);
                self.bytes -= tx.encoded.len();
                if !included.contains(&tx.hash) {
                    self.record_drop(
                        tx.hash,
                        format!("nonce {nonce} was used by another transaction"),
                    );
                }
            }
            if empty {
                self.senders.remove(&sender);
            }
        }
    }

    /// Drops one transaction that can never execute, remembering `reason`.
    pub fn drop_tx(&mut self, hash: &B256, reason: &str) {
        let Some(tx) = self.by_hash.remove(hash) else {
            return;
        };
        self.bytes -= tx.encoded.len();
        if let Some(queue) = self.senders.get_mut(&tx.sender) {
            let nonce = tx.nonce();
            queue.txs.remove(&nonce);
            queue.ready_end = queue.ready_end.min(nonce);
            if queue.txs.is_empty() {
                self.senders.remove(&tx.sender);
            }
        }
        self.record_drop(*hash, reason.to_string());
    }

    /// Drops the transactions of senders that have had nothing executable, and no progress,
    /// for [`PoolConfig::queued_lifetime`]. Sweeps at most once a second; returns how many
    /// were dropped.
    pub fn expire(&mut self, now: Instant) -> usize {
        if self
            .swept
            .is_some_and(|at| now.saturating_duration_since(at) < Duration::from_secs(1))
        {
            return 0;
        }
        self.swept = Some(now);
        let lifetime = self.config.queued_lifetime;
        let expired: Vec<Address> = self
            .senders
            .iter()
            .filter(|(_, queue)| {
                !queue.has_executable() && now.saturating_duration_since(queue.touched) >= lifetime
            })
            .map(|(sender, _)| *sender)
            .collect();
        let mut count = 0;
        for sender in expired {
            let Some(queue) = self.senders.remove(&sender) else {
                continue;
            };
            let reason = format!(
                "expired: waited {} s behind a nonce gap (the sender's next nonce is {})",
                lifetime.as_secs(),
                queue.chain_nonce
            );
            for tx in queue.txs.into_values() {
                self.by_hash.remove(&tx.hash);
                self.bytes -= tx.encoded.len();
                self.record_drop(tx.hash, reason.clone());
                count += 1;
            }
        }
        count
    }

    fn record_drop(&mut self, hash: B256, reason: String) {
        self.departed.push(hash);
        if self.config.dropped_memory == 0 {
            return;
        }
        if self.dropped_order.len() >= self.config.dropped_memory {
            if let Some(oldest) = self.dropped_order.pop_front() {
                self.dropped.remove(&oldest);
            }
        }
        if self.dropped.insert(hash, reason).is_none() {
            self.dropped_order.push_back(hash);
        }
    }

    /// Hashes that left the pool without being included since the last call.
    pub fn take_departed(&mut self) -> Vec<B256> {
        std::mem::take(&mut self.departed)
    }

    /// Where the pool stands on `hash`.
    pub fn status(&self, hash: &B256) -> PoolStatus {
        if let Some(tx) = self.by_hash.get(hash) {
            let queue = &self.senders[&tx.sender];
            return if tx.nonce() < queue.next_nonce() {
                PoolStatus::Pending
            } else {
                PoolStatus::Queued
            };
        }
        match self.dropped.get(hash) {
            Some(reason) => PoolStatus::Dropped(reason.clone()),
            None => PoolStatus::Unknown,
        }
    }

    /// All pooled transactions split into executable (`pending`) and gapped (`queued`), per sender.
    pub fn content(
        &self,
    ) -> (
        BTreeMap<Address, Vec<Arc<ShardTx>>>,
        BTreeMap<Address, Vec<Arc<ShardTx>>>,
    ) {
        let (mut pending, mut queued) = (BTreeMap::new(), BTreeMap::new());
        for (sender, queue) in &self.senders {
            let mut next = queue.chain_nonce;
            for (nonce, tx) in &queue.txs {
                let target = if *nonce == next {
                    next += 1;
                    &mut pending
                } else {
                    &mut queued
                };
                target
                    .entry(*sender)
                    .or_insert_with(Vec::new)
                    .push(tx.clone());
            }
        }
        (pending, queued)
    }
}
