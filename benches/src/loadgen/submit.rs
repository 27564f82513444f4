//! Submission of pre-signed transactions: paced to a target rate, bounded in concurrency,
//! optionally in JSON-RPC batches, over the lean transport of [`super::post`]. Records when
//! each transaction was sent and whether the node accepted it.

use std::{
    ops::Range,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Instant,
};

use bytes::Bytes;
use tokio::{task::JoinSet, time::sleep_until};

use super::{
    plan::{due_offset, requests},
    post::{Poster, read_send_raw_answers, send_raw_body},
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
/// time and keeping at most `pace.concurrency` requests in flight: one worker per request in
/// flight, each with its own keep-alive connection, takes the next request when its last one
/// is answered. Request bodies are encoded before the first is sent.
pub async fn submit_all(rpc_url: &str, txs: Arc<Vec<SignedTx>>, pace: Pace) -> Submitted {
    let ranges = requests(txs.len(), pace.batch);
    let bodies: Vec<Bytes> = ranges
        .iter()
        .map(|r| send_raw_body(&txs[r.clone()]))
        .collect();
    let work = Arc::new(Work {
        txs,
        ranges,
        bodies,
        next: AtomicUsize::new(0),
        start: Instant::now(),
        rate: pace.rate,
    });
    let mut workers = JoinSet::new();
    for _ in 0..pace.concurrency.max(1) {
        let (work, poster) = (work.clone(), Poster::new(rpc_url));
        workers.spawn(async move { work.run(poster).await });
    }
    let mut outcome = Submitted::new(work.txs.len());
    while let Some(done) = workers.join_next().await {
        match done {
            Ok(answered) => {
                for (first, sent_at, answers) in answered {
                    outcome.record(first, sent_at, answers);
                }
            }
            // A worker cannot panic short of a bug; its transactions stay unsent and are
            // reported as never submitted.
            Err(err) => outcome
                .first_errors
                .push((usize::MAX, format!("submission worker failed: {err}"))),
        }
    }
    outcome.finished_at = Instant::now();
    outcome
}

/// The requests of one submission, shared by its workers.
struct Work {
    txs: Arc<Vec<SignedTx>>,
    ranges: Vec<Range<usize>>,
    bodies: Vec<Bytes>,
    /// The next request nobody has taken.
    next: AtomicUsize,
    start: Instant,
    rate: Option<u64>,
}

/// First transaction index, send time and per-transaction answers of one request.
type Answered = (usize, Instant, Vec<Result<(), String>>);

impl Work {
    async fn run(&self, mut poster: Result<Poster, String>) -> Vec<Answered> {
        let mut answered = Vec::new();
        loop {
            let k = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(range) = self.ranges.get(k).cloned() else {
                return answered;
            };
            if self.rate.is_some() {
                sleep_until((self.start + due_offset(range.start, self.rate)).into()).await;
            }
            let txs = &self.txs[range.clone()];
            let sent_at = Instant::now();
            let answers = match &mut poster {
                Ok(poster) => match poster.post(self.bodies[k].clone()).await {
                    Ok(body) => read_send_raw_answers(&body, txs),
                    Err(err) => vec![Err(err); txs.len()],
                },
                Err(err) => vec![Err(err.clone()); txs.len()],
            };
            answered.push((range.start, sent_at, answers));
        }
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
