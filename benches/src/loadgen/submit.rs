//! Submission of pre-signed transactions: paced to a target rate, bounded in concurrency,
//! optionally in JSON-RPC batches. Records when each transaction was sent and whether the
//! node accepted it.

use std::{sync::Arc, time::Instant};

use tokio::{sync::Semaphore, task::JoinSet, time::sleep_until};

use super::{
    plan::{due_offset, requests},
    rpc::Node,
    txs::SignedTx,
};

/// Error messages kept verbatim (the rest are only counted).
pub const KEPT_ERRORS: usize = 5;

/// The outcome of submitting a list of transactions, indexed like that list.
#[derive(Clone, Debug)]
pub struct Submitted {
    /// When the request carrying transaction `i` was sent, if it was.
    pub sent_at: Vec<Option<Instant>>,
    /// Whether the node accepted transaction `i`.
    pub accepted: Vec<bool>,
    /// The first [`KEPT_ERRORS`] rejection messages, with the transaction index.
    pub first_errors: Vec<(usize, String)>,
    /// When the last answer arrived.
    pub finished_at: Instant,
}

impl Submitted {
    fn new(len: usize) -> Self {
        Self {
            sent_at: vec![None; len],
            accepted: vec![false; len],
            first_errors: Vec::new(),
            finished_at: Instant::now(),
        }
    }

    pub fn failed(&self) -> usize {
        self.sent_at
            .iter()
            .zip(&self.accepted)
            .filter(|(sent, ok)| sent.is_some() && !**ok)
            .count()
    }

    pub fn first_sent(&self) -> Option<Instant> {
        self.sent_at.iter().flatten().min().copied()
    }

    pub fn last_sent(&self) -> Option<Instant> {
        self.sent_at.iter().flatten().max().copied()
    }

    fn record(&mut self, first: usize, sent_at: Instant, answers: Vec<Result<(), String>>) {
        for (offset, answer) in answers.into_iter().enumerate() {
            let i = first + offset;
            self.sent_at[i] = Some(sent_at);
            match answer {
                Ok(()) => self.accepted[i] = true,
                Err(message) if self.first_errors.len() < KEPT_ERRORS => {
                    self.first_errors.push((i, message))
                }
                Err(_) => {}
            }
        }
    }
}

/// Pacing and parallelism of a submission.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    /// Transactions per second; `None` sends as fast as the concurrency allows.
    pub rate: Option<u64>,
    /// Requests in flight at most.
    pub concurrency: usize,
    /// Transactions per request.
    pub batch: usize,
}

/// Sends `txs` in order, `pace.batch` per request, starting request `k` no earlier than its due
/// time and keeping at most `pace.concurrency` requests in flight.
pub async fn submit_all(node: &Node, txs: Arc<Vec<SignedTx>>, pace: Pace) -> Submitted {
    let mut outcome = Submitted::new(txs.len());
    let permits = Arc::new(Semaphore::new(pace.concurrency.max(1)));
    let mut in_flight = JoinSet::new();
    let start = Instant::now();
    for range in requests(txs.len(), pace.batch) {
        if pace.rate.is_some() {
            sleep_until((start + due_offset(range.start, pace.rate)).into()).await;
        }
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let (node, txs) = (node.clone(), txs.clone());
        in_flight.spawn(async move {
            let sent_at = Instant::now();
            let answers = node.send_raw(&txs[range.clone()]).await;
            drop(permit);
            (range.start, sent_at, answers)
        });
        while let Some(done) = in_flight.try_join_next() {
            record(&mut outcome, done);
        }
    }
    while let Some(done) = in_flight.join_next().await {
        record(&mut outcome, done);
    }
    outcome.finished_at = Instant::now();
    outcome
}

type RequestResult = (usize, Instant, Vec<Result<(), String>>);

fn record(outcome: &mut Submitted, done: Result<RequestResult, tokio::task::JoinError>) {
    match done {
        Ok((first, sent_at, answers)) => outcome.record(first, sent_at, answers),
        // A request task cannot panic short of a bug; its transactions stay unsent and are
        // reported as never submitted.
        Err(err) => outcome
            .first_errors
            .push((usize::MAX, format!("request task failed: {err}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_acceptance_and_keeps_only_the_first_errors() {
        let mut s = Submitted::new(10);
        let t = Instant::now();
        s.record(0, t, vec![Ok(()), Err("a".into()), Ok(())]);
        s.record(3, t, (0..7).map(|i| Err(format!("e{i}"))).collect());
        assert_eq!(s.accepted.iter().filter(|a| **a).count(), 2);
        assert_eq!(s.failed(), 8);
        assert_eq!(s.first_errors.len(), KEPT_ERRORS);
        assert_eq!(s.first_errors[0], (1, "a".to_owned()));
        assert_eq!(s.first_errors[1], (3, "e0".to_owned()));
        assert_eq!(s.first_sent(), Some(t));
    }

    #[test]
    fn unsent_transactions_are_not_failures() {
        let mut s = Submitted::new(4);
        s.record(0, Instant::now(), vec![Ok(()), Ok(())]);
        assert_eq!(s.failed(), 0);
        assert_eq!(s.sent_at.iter().filter(|t| t.is_none()).count(), 2);
    }
}
