//! The numbers of a run: CTPS, latency percentiles, block statistics; printed for people and
//! as one JSON object for scripts.

use std::{fmt, time::Instant};

use serde::Serialize;

use super::{matcher::Matcher, submit::Submitted};

/// What was asked of the run (copied into the report).
#[derive(Clone, Debug, Serialize)]
pub struct RunShape {
    pub label: String,
    pub senders: usize,
    pub txs: usize,
    /// Target rate in tx/s; 0 means as fast as possible.
    pub rate: u64,
    pub concurrency: usize,
    pub batch: usize,
}

/// Submit-to-confirmation latency percentiles in milliseconds (nearest-rank).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

/// The results of one measured run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub shape: RunShape,
    /// Transactions submitted (accepted or not).
    pub sent: usize,
    pub accepted: usize,
    /// Submissions the node rejected (or that failed in transport).
    pub failed: usize,
    pub first_errors: Vec<String>,
    /// Our transactions seen in a block (their receipts exist).
    pub confirmed: usize,
    /// Confirmed transactions whose receipt has status 0; `None` unless receipts were fetched.
    pub reverted: Option<usize>,
    /// Accepted transactions not confirmed before the timeout.
    pub unconfirmed: usize,
    pub timed_out: bool,
    /// First submit to last submit.
    pub submit_secs: f64,
    /// First submit to last confirmation.
    pub duration_secs: f64,
    /// Confirmed transactions per second over `duration_secs`.
    pub ctps: f64,
    /// Submitted transactions per second over `submit_secs`.
    pub offered_tps: f64,
    pub latency_ms: Latency,
    /// Blocks from the first to the last one holding our transactions.
    pub blocks: usize,
    pub mean_txs_per_block: f64,
    pub max_txs_per_block: usize,
}

impl Report {
    /// Combines the submission record and the confirmation record of one run.
    pub fn build(
        shape: RunShape,
        submitted: &Submitted,
        matcher: &Matcher,
        receipts: bool,
        timed_out: bool,
    ) -> Self {
        let confirmed_at = matcher.confirmed_at();
        let sent = submitted.sent_at.iter().flatten().count();
        let accepted = submitted.accepted.iter().filter(|a| **a).count();
        let first = submitted.first_sent();
        let last_confirmation = confirmed_at.iter().flatten().max().copied();
        let duration_secs = span_secs(first, last_confirmation);
        let submit_secs = span_secs(first, submitted.last_sent());

        let mut latencies: Vec<f64> = submitted
            .sent_at
            .iter()
            .zip(confirmed_at)
            .filter_map(|(sent, confirmed)| {
                Some(
                    confirmed
                        .as_ref()?
                        .saturating_duration_since(*sent.as_ref()?),
                )
            })
            .map(|d| d.as_secs_f64() * 1e3)
            .collect();
        latencies.sort_by(f64::total_cmp);

        let ours: Vec<_> = matcher.blocks().iter().filter(|b| b.ours > 0).collect();
        let blocks = match (ours.first(), ours.last()) {
            (Some(a), Some(b)) => matcher
                .blocks()
                .iter()
                .filter(|r| (a.number..=b.number).contains(&r.number))
                .count(),
            _ => 0,
        };
        let confirmed = matcher.confirmed();
        let unconfirmed = submitted
            .accepted
            .iter()
            .zip(confirmed_at)
            .filter(|(accepted, at)| **accepted && at.is_none())
            .count();
        Self {
            shape,
            sent,
            accepted,
            failed: submitted.failed(),
            first_errors: submitted
                .first_errors
                .iter()
                .map(|(i, e)| format!("tx {i}: {e}"))
                .collect(),
            confirmed,
            reverted: receipts.then(|| matcher.reverted().count()),
            unconfirmed,
            timed_out,
            submit_secs,
            duration_secs,
            ctps: per_second(confirmed, duration_secs),
            offered_tps: per_second(sent, submit_secs),
            latency_ms: latency(&latencies),
            blocks,
            mean_txs_per_block: if blocks == 0 {
                0.0
            } else {
                confirmed as f64 / blocks as f64
            },
            max_txs_per_block: ours.iter().map(|b| b.ours).max().unwrap_or(0),
        }
    }
}

fn span_secs(from: Option<Instant>, to: Option<Instant>) -> f64 {
    match (from, to) {
        (Some(from), Some(to)) => to.saturating_duration_since(from).as_secs_f64(),
        _ => 0.0,
    }
}

fn per_second(count: usize, secs: f64) -> f64 {
    if secs > 0.0 { count as f64 / secs } else { 0.0 }
}

/// Latency summary of ascending-sorted samples.
pub fn latency(sorted_ms: &[f64]) -> Latency {
    if sorted_ms.is_empty() {
        return Latency::default();
    }
    Latency {
        p50: percentile(sorted_ms, 50.0),
        p90: percentile(sorted_ms, 90.0),
        p99: percentile(sorted_ms, 99.0),
        max: sorted_ms[sorted_ms.len() - 1],
        mean: sorted_ms.iter().sum::<f64>() / sorted_ms.len() as f64,
    }
}

/// Nearest-rank percentile of ascending-sorted, non-empty samples.
pub fn percentile(sorted: &[f64], pct: f64) -> f64 {
    let rank = ((pct / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.shape;
        let label = if s.label.is_empty() {
            String::new()
        } else {
            format!("[{}] ", s.label)
        };
        let rate = if s.rate == 0 {
            "max".to_owned()
        } else {
            format!("{}/s", s.rate)
        };
        writeln!(
            f,
            "loadgen {label}{} senders, {} ERC-20 transfers, rate {rate}, concurrency {}, batch {}",
            s.senders, s.txs, s.concurrency, s.batch
        )?;
        let reverted = self.reverted.map_or("n/a".to_owned(), |r| r.to_string());
        writeln!(
            f,
            "  sent {}, accepted {}, failed {}, confirmed {} (reverted {reverted}), unconfirmed {}{}",
            self.sent,
            self.accepted,
            self.failed,
            self.confirmed,
            self.unconfirmed,
            if self.timed_out { " (TIMED OUT)" } else { "" }
        )?;
        for error in &self.first_errors {
            writeln!(f, "    error: {error}")?;
        }
        writeln!(
            f,
            "  duration {:.3} s (submitting {:.3} s, offered {:.1} tx/s)  CTPS {:.1}",
            self.duration_secs, self.submit_secs, self.offered_tps, self.ctps
        )?;
        let l = &self.latency_ms;
        writeln!(
            f,
            "  latency ms  p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}  mean {:.1}",
            l.p50, l.p90, l.p99, l.max, l.mean
        )?;
        write!(
            f,
            "  blocks {}, mean {:.2} of our txs per block (max {})",
            self.blocks, self.mean_txs_per_block, self.max_txs_per_block
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use alloy_primitives::B256;

    use super::*;
    use crate::loadgen::rpc::BlockTxs;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&samples, 50.0), 50.0);
        assert_eq!(percentile(&samples, 99.0), 99.0);
        assert_eq!(percentile(&samples, 100.0), 100.0);
        assert_eq!(percentile(&[7.0], 1.0), 7.0);
        let l = latency(&[1.0, 2.0, 3.0, 10.0]);
        assert_eq!((l.p50, l.p90, l.max, l.mean), (2.0, 10.0, 10.0, 4.0));
    }

    #[test]
    fn ctps_counts_confirmed_over_first_submit_to_last_confirmation() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let hashes: Vec<B256> = (1..=4u8).map(B256::repeat_byte).collect();
        let mut matcher = Matcher::new(&hashes);
        let submitted = Submitted {
            sent_at: vec![
                Some(t0),
                Some(t0 + ms(100)),
                Some(t0 + ms(200)),
                Some(t0 + ms(300)),
            ],
            accepted: vec![true, true, true, false],
            first_errors: vec![(3, "nonce too low".to_owned())],
            finished_at: t0 + ms(300),
        };
        let block = |n, hs: &[B256]| BlockTxs {
            number: n,
            hashes: hs.to_vec(),
            reverted: vec![],
        };
        matcher.observe(&block(1, &[hashes[0], hashes[1]]), t0 + ms(500));
        matcher.observe(&block(2, &[]), t0 + ms(700));
        matcher.observe(&block(3, &[hashes[2], B256::ZERO]), t0 + ms(1000));
        matcher.observe(&block(4, &[]), t0 + ms(1200));

        let shape = RunShape {
            label: "t".into(),
            senders: 2,
            txs: 4,
            rate: 0,
            concurrency: 1,
            batch: 1,
        };
        let r = Report::build(shape, &submitted, &matcher, false, false);
        assert_eq!(
            (r.sent, r.accepted, r.failed, r.confirmed, r.unconfirmed),
            (4, 3, 1, 3, 0)
        );
        assert!((r.duration_secs - 1.0).abs() < 1e-9);
        assert!((r.ctps - 3.0).abs() < 1e-9);
        // latencies 500, 400, 800 ms
        assert_eq!(r.latency_ms.p50, 500.0);
        assert_eq!(r.latency_ms.max, 800.0);
        // blocks 1..=3 span our transactions; block 4 came after.
        assert_eq!((r.blocks, r.max_txs_per_block), (3, 2));
        assert!((r.mean_txs_per_block - 1.0).abs() < 1e-9);
        assert_eq!(r.reverted, None);
        assert_eq!(r.first_errors, ["tx 3: nonce too low"]);
        let text = r.to_string();
        assert!(text.contains("CTPS 3.0"), "{text}");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["label"], "t");
        assert_eq!(json["confirmed"], 3);
    }
}
