//! The shape of the measured phase: which sender sends which transfer, and when.
//!
//! Transfers go round-robin over the senders so that two transactions of one sender are
//! `senders` positions apart; with concurrency below the sender count they reach the node in
//! nonce order. Each transfer moves one token unit to the next sender, which already holds
//! tokens, so every transfer touches two existing balances.

use std::{ops::Range, time::Duration};

/// One measured transfer before signing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transfer {
    /// Index of the sending account.
    pub sender: usize,
    /// Offset from the sender's first free nonce.
    pub nonce_offset: u64,
    /// Index of the receiving account.
    pub recipient: usize,
}

/// The `txs` transfers of a run over `senders` accounts, in submission order.
pub fn transfers(senders: usize, txs: usize) -> Vec<Transfer> {
    (0..txs)
        .map(|i| {
            let sender = i % senders;
            Transfer {
                sender,
                nonce_offset: (i / senders) as u64,
                recipient: (sender + 1) % senders,
            }
        })
        .collect()
}

/// The index ranges of the JSON-RPC requests that carry `len` transactions, `batch` per request.
pub fn requests(len: usize, batch: usize) -> Vec<Range<usize>> {
    let batch = batch.max(1);
    (0..len)
        .step_by(batch)
        .map(|start| start..(start + batch).min(len))
        .collect()
}

/// When the request whose first transaction is `first_tx` is due, measured from the first
/// submit; `None` rate means immediately.
pub fn due_offset(first_tx: usize, rate: Option<u64>) -> Duration {
    match rate {
        None | Some(0) => Duration::ZERO,
        Some(rate) => {
            let nanos = (first_tx as u128) * 1_000_000_000 / u128::from(rate);
            Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfers_round_robin_with_increasing_nonces_and_a_funded_recipient() {
        let plan = transfers(3, 7);
        let senders: Vec<_> = plan.iter().map(|t| t.sender).collect();
        let nonces: Vec<_> = plan.iter().map(|t| t.nonce_offset).collect();
        assert_eq!(senders, [0, 1, 2, 0, 1, 2, 0]);
        assert_eq!(nonces, [0, 0, 0, 1, 1, 1, 2]);
        assert!(plan.iter().all(|t| t.recipient == (t.sender + 1) % 3));
        // Every (sender, nonce) pair is used once, so no transaction replaces another.
        let mut pairs: Vec<_> = plan.iter().map(|t| (t.sender, t.nonce_offset)).collect();
        pairs.sort();
        pairs.dedup();
        assert_eq!(pairs.len(), 7);
    }

    #[test]
    fn requests_cover_every_transaction_once() {
        assert_eq!(requests(7, 3), vec![0..3, 3..6, 6..7]);
        assert_eq!(requests(6, 3), vec![0..3, 3..6]);
        assert_eq!(requests(2, 100), vec![0..2]);
        assert_eq!(requests(3, 1), vec![0..1, 1..2, 2..3]);
        assert!(requests(0, 5).is_empty());
    }

    #[test]
    fn due_offsets_follow_the_target_rate() {
        assert_eq!(due_offset(0, Some(100)), Duration::ZERO);
        assert_eq!(due_offset(250, Some(100)), Duration::from_millis(2500));
        assert_eq!(due_offset(3, Some(1_000)), Duration::from_millis(3));
        assert_eq!(due_offset(10_000, None), Duration::ZERO);
    }
}
