//! How long this node's blocks wait for finality: from the moment a block is executed here
//! (proposed by this node, or received and verified) to the moment it is made final here. The
//! last [`KEPT`] waits are kept, for the explorer's home page and its operators.

use std::collections::VecDeque;
use std::time::Duration;

/// Waits remembered.
pub const KEPT: usize = 256;

/// The recent waits, newest last.
#[derive(Debug, Default)]
pub struct FinalityClock {
    waits: parking_lot::Mutex<VecDeque<Duration>>,
}

/// Percentiles of the recent waits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FinalityWaits {
    pub blocks: usize,
    pub p50: Duration,
    pub p99: Duration,
}

impl FinalityClock {
    pub fn record(&self, wait: Duration) {
        let mut waits = self.waits.lock();
        if waits.len() == KEPT {
            waits.pop_front();
        }
        waits.push_back(wait);
    }

    /// The median and 99th percentile of the recent waits; `None` before any (a local
    /// sealer's blocks are final when made, and record none).
    pub fn summary(&self) -> Option<FinalityWaits> {
        let mut waits: Vec<Duration> = self.waits.lock().iter().copied().collect();
        if waits.is_empty() {
            return None;
        }
        waits.sort_unstable();
        let at = |p: usize| waits[(waits.len() - 1) * p / 100];
        Some(FinalityWaits {
            blocks: waits.len(),
            p50: at(50),
            p99: at(99),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_waits_and_reports_their_percentiles() {
        let clock = FinalityClock::default();
        assert_eq!(clock.summary(), None);
        for ms in 1..=(KEPT as u64 + 100) {
            clock.record(Duration::from_millis(ms));
        }
        let summary = clock.summary().unwrap();
        assert_eq!(summary.blocks, KEPT);
        // The oldest 100 are gone: the waits are 101..=356 ms.
        assert_eq!(summary.p50, Duration::from_millis(101 + 255 / 2));
        assert_eq!(summary.p99, Duration::from_millis(101 + 255 * 99 / 100));
    }
}
