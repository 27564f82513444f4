//! The transaction pool: per-sender nonce queues, admission checks against state, fee-ordered
//! selection of executable transactions for the next block, and replacement by fee bump.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::Arc;

use alloy_consensus::Transaction;
use alloy_primitives::{Address, B256, U256};

use crate::tx::ShardTx;

/// Pool limits.
#[derive(Clone, Debug)]
pub struct PoolConfig {
    pub max_txs: usize,
    pub max_per_sender: usize,
    /// How far past the next executable nonce a transaction may be queued.
    pub max_nonce_gap: u64,
    /// Minimum fee increase (percent) for replacing a transaction with the same nonce.
    pub price_bump_percent: u128,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_txs: 200_000,
            max_per_sender: 16_384,
            max_nonce_gap: 1_024,
            price_bump_percent: 10,
        }
    }
}

/// Why the pool refused a transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error("nonce too low: next nonce {next}, tx nonce {got}")]
    NonceTooLow { next: u64, got: u64 },
    #[error("nonce too high: next nonce {next}, tx nonce {got} is more than {gap} ahead")]
    NonceTooHigh { next: u64, got: u64, gap: u64 },
    #[error("insufficient funds for gas * price + value: balance {balance}, tx cost {cost}")]
    InsufficientFunds { balance: U256, cost: U256 },
    #[error("max fee per gas {fee_cap} is below the minimum base fee {min_base_fee}")]
    FeeCapBelowMinimum { fee_cap: u128, min_base_fee: u64 },
    #[error("replacement transaction underpriced: raise the fee by at least {0}%")]
    ReplacementUnderpriced(u128),
    #[error("already known")]
    AlreadyKnown,
    #[error("txpool is full ({0} transactions)")]
    Full(usize),
    #[error("too many pending transactions from {sender} (limit {limit})")]
    SenderFull { sender: Address, limit: usize },
}

/// What the pool needs to know about a sender from the head state.
#[derive(Clone, Copy, Debug)]
pub struct SenderState {
    pub nonce: u64,
    pub balance: U256,
}

#[derive(Default)]
struct SenderQueue {
    /// Next nonce the chain expects from this sender (as of the last head seen).
    chain_nonce: u64,
    txs: BTreeMap<u64, Arc<ShardTx>>,
}

#[derive(Default)]
pub struct TxPool {
    config: PoolConfig,
    senders: HashMap<Address, SenderQueue>,
    by_hash: HashMap<B256, Arc<ShardTx>>,
}

impl TxPool {
    pub fn new(config: PoolConfig) -> Self {
        Self {
            config,
            ..Default::default()
        }
    }

    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    pub fn get(&self, hash: &B256) -> Option<Arc<ShardTx>> {
        self.by_hash.get(hash).cloned()
    }

    /// Admits `tx` given its sender's head state. Returns the hash of a replaced transaction.
    pub fn add(
        &mut self,
        tx: Arc<ShardTx>,
        sender: SenderState,
        min_base_fee: u64,
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
        if nonce > sender.nonce + self.config.max_nonce_gap {
            return Err(PoolError::NonceTooHigh {
                next: sender.nonce,
                got: nonce,
                gap: self.config.max_nonce_gap,
            });
        }
        let cost = tx.max_cost();
        if cost > sender.balance {
            return Err(PoolError::InsufficientFunds {
                balance: sender.balance,
                cost,
            });
        }
        let queue = self.senders.entry(tx.sender).or_default();
        queue.chain_nonce = sender.nonce;
        let replaced = match queue.txs.get(&nonce) {
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
                Some(old.hash)
            }
            None => {
                if self.by_hash.len() >= self.config.max_txs {
                    return Err(PoolError::Full(self.config.max_txs));
                }
                if queue.txs.len() >= self.config.max_per_sender {
                    return Err(PoolError::SenderFull {
                        sender: tx.sender,
                        limit: self.config.max_per_sender,
                    });
                }
                None
            }
        };
        if let Some(old) = replaced {
            self.by_hash.remove(&old);
        }
        queue.txs.insert(nonce, tx.clone());
        self.by_hash.insert(tx.hash, tx);
        Ok(replaced)
    }

    /// The next nonce `sender` would use, counting its contiguous pooled transactions.
    pub fn pending_nonce(&self, sender: &Address, chain_nonce: u64) -> u64 {
        let Some(queue) = self.senders.get(sender) else {
            return chain_nonce;
        };
        let mut next = chain_nonce;
        while queue.txs.contains_key(&next) {
            next += 1;
        }
        next
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

    /// After a block: drop what it included and anything its senders can no longer use.
    pub fn on_new_head(
        &mut self,
        included: &[Arc<ShardTx>],
        sender_nonces: impl Fn(&Address) -> u64,
    ) {
        let mut touched: Vec<Address> = included.iter().map(|tx| tx.sender).collect();
        touched.sort_unstable();
        touched.dedup();
        for sender in touched {
            let nonce = sender_nonces(&sender);
            if let Some(queue) = self.senders.get_mut(&sender) {
                queue.chain_nonce = nonce;
                let stale: Vec<u64> = queue.txs.range(..nonce).map(|(n, _)| *n).collect();
                for n in stale {
                    if let Some(tx) = queue.txs.remove(&n) {
                        self.by_hash.remove(&tx.hash);
                    }
                }
                if queue.txs.is_empty() {
                    self.senders.remove(&sender);
                }
            }
        }
    }

    /// Drops one transaction (e.g. it can never execute).
    pub fn remove(&mut self, hash: &B256) {
        if let Some(tx) = self.by_hash.remove(hash) {
            if let Some(queue) = self.senders.get_mut(&tx.sender) {
                queue.txs.remove(&tx.nonce());
                if queue.txs.is_empty() {
                    self.senders.remove(&tx.sender);
                }
            }
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
