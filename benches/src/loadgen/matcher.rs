//! Matching the transactions of new blocks against the transactions we submitted.
//!
//! Pure bookkeeping: the tracker feeds it blocks with the time their head was announced, and it
//! records when each of our transactions was first seen in a block.

use std::{collections::HashMap, time::Instant};

use alloy_primitives::B256;

use super::rpc::BlockTxs;

/// One block the tracker inspected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockRecord {
    pub number: u64,
    pub announced_at: Instant,
    /// All transactions in the block.
    pub txs: usize,
    /// Of those, transactions from our list.
    pub ours: usize,
}

/// Confirmation state of a list of transactions, indexed like that list.
#[derive(Clone, Debug)]
pub struct Matcher {
    index: HashMap<B256, usize>,
    confirmed_at: Vec<Option<Instant>>,
    reverted: Vec<bool>,
    confirmed: usize,
    blocks: Vec<BlockRecord>,
    /// Which transactions the run waits for, once submission has finished.
    awaited: Option<Vec<bool>>,
    remaining: usize,
}

impl Matcher {
    /// Tracks `hashes`; transaction `i` of the run is `hashes[i]`.
    pub fn new(hashes: &[B256]) -> Self {
        let index = hashes
            .iter()
            .enumerate()
            .map(|(i, hash)| (*hash, i))
            .collect();
        Self {
            index,
            confirmed_at: vec![None; hashes.len()],
            reverted: vec![false; hashes.len()],
            confirmed: 0,
            blocks: Vec::new(),
            awaited: None,
            remaining: 0,
        }
    }

    /// Records a block announced at `announced_at`; returns how many of ours it confirmed.
    pub fn observe(&mut self, block: &BlockTxs, announced_at: Instant) -> usize {
        let mut ours = 0;
        for hash in &block.hashes {
            let Some(&i) = self.index.get(hash) else {
                continue;
            };
            if self.confirmed_at[i].is_some() {
                continue;
            }
            self.confirmed_at[i] = Some(announced_at);
            self.reverted[i] = block.reverted.contains(hash);
            self.confirmed += 1;
            ours += 1;
            if self.awaited.as_ref().is_some_and(|awaited| awaited[i]) {
                self.remaining -= 1;
            }
        }
        self.blocks.push(BlockRecord {
            number: block.number,
            announced_at,
            txs: block.hashes.len(),
            ours,
        });
        ours
    }

    /// From now on the run is complete when every `awaited[i]` transaction is confirmed.
    /// `awaited` must have one entry per tracked transaction.
    pub fn await_only(&mut self, awaited: Vec<bool>) {
        debug_assert_eq!(awaited.len(), self.confirmed_at.len());
        self.remaining = awaited
            .iter()
            .zip(&self.confirmed_at)
            .filter(|(wanted, at)| **wanted && at.is_none())
            .count();
        self.awaited = Some(awaited);
    }

    /// Whether every awaited transaction is confirmed (false until [`Self::await_only`]).
    pub fn is_complete(&self) -> bool {
        self.awaited.is_some() && self.remaining == 0
    }

    /// Awaited transactions not yet confirmed.
    pub fn remaining(&self) -> usize {
        self.remaining
    }

    pub fn confirmed(&self) -> usize {
        self.confirmed
    }

    /// When transaction `i` was seen in a block, if it was.
    pub fn confirmed_at(&self) -> &[Option<Instant>] {
        &self.confirmed_at
    }

    /// Indices of confirmed transactions whose receipt has status 0 (only with receipts).
    pub fn reverted(&self) -> impl Iterator<Item = usize> + '_ {
        self.reverted
            .iter()
            .enumerate()
            .filter(|(_, r)| **r)
            .map(|(i, _)| i)
    }

    pub fn blocks(&self) -> &[BlockRecord] {
        &self.blocks
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn hash(n: u8) -> B256 {
        B256::repeat_byte(n)
    }

    fn block(number: u64, hashes: &[u8]) -> BlockTxs {
        BlockTxs {
            number,
            hashes: hashes.iter().map(|n| hash(*n)).collect(),
            reverted: Vec::new(),
        }
    }

    #[test]
    fn records_first_sighting_ignores_foreign_and_repeated_transactions() {
        let t0 = Instant::now();
        let mut m = Matcher::new(&[hash(1), hash(2), hash(3)]);
        assert_eq!(m.observe(&block(10, &[9, 1]), t0), 1);
        assert_eq!(
            m.observe(&block(11, &[1, 2]), t0 + Duration::from_secs(1)),
            1
        );
        assert_eq!(m.confirmed(), 2);
        assert_eq!(
            m.confirmed_at(),
            &[Some(t0), Some(t0 + Duration::from_secs(1)), None]
        );
        assert_eq!(
            m.blocks()
                .iter()
                .map(|b| (b.number, b.txs, b.ours))
                .collect::<Vec<_>>(),
            [(10, 2, 1), (11, 2, 1)]
        );
    }

    #[test]
    fn completes_only_when_every_awaited_transaction_is_confirmed() {
        let t0 = Instant::now();
        let mut m = Matcher::new(&[hash(1), hash(2), hash(3)]);
        m.observe(&block(1, &[1]), t0);
        assert!(
            !m.is_complete(),
            "nothing is complete before the awaited set is known"
        );
        // Transaction 2 failed at submission, so only 0 and 1 are awaited; 0 is already in.
        m.await_only(vec![true, true, false]);
        assert_eq!(m.remaining(), 1);
        m.observe(&block(2, &[3]), t0);
        assert!(!m.is_complete());
        m.observe(&block(3, &[2]), t0);
        assert!(m.is_complete());
        assert_eq!(m.confirmed(), 3);
    }

    #[test]
    fn reverted_receipts_are_remembered() {
        let mut m = Matcher::new(&[hash(1), hash(2)]);
        let mut b = block(4, &[1, 2]);
        b.reverted.push(hash(2));
        m.observe(&b, Instant::now());
        assert_eq!(m.reverted().collect::<Vec<_>>(), [1]);
    }
}
