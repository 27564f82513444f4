//! When to dial the peers we want to keep connected (bootstrap and priority peers): at once at
//! start, then after each lost connection or failed dial with an exponential backoff up to a
//! cap, reset once a connection is made. Pure logic; the caller passes the time in.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Reconnection backoff: the first retry waits `initial`, each failure doubles it, up to `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The wait before retry number `failures` (0 for the first retry).
    pub fn delay(&self, failures: u32) -> Duration {
        let factor = 1u32.checked_shl(failures.min(31)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

#[derive(Debug)]
struct Entry {
    failures: u32,
    /// `None` while connected or while a dial is under way.
    due: Option<Instant>,
}

/// Dial schedule of the wanted peers.
#[derive(Debug)]
pub(crate) struct Redial<P> {
    backoff: Backoff,
    peers: HashMap<P, Entry>,
}

impl<P: Hash + Eq + Clone> Redial<P> {
    pub(crate) fn new(backoff: Backoff) -> Redial<P> {
        Redial {
            backoff,
            peers: HashMap::new(),
        }
    }

    /// Starts tracking a peer; it is due at once unless already connected.
    pub(crate) fn want(&mut self, peer: P, connected: bool, now: Instant) {
        self.peers.entry(peer).or_insert(Entry {
            failures: 0,
            due: (!connected).then_some(now),
        });
    }

    pub(crate) fn unwant(&mut self, peer: &P) {
        self.peers.remove(peer);
    }

    pub(crate) fn is_wanted(&self, peer: &P) -> bool {
        self.peers.contains_key(peer)
    }

    pub(crate) fn connected(&mut self, peer: &P) {
        if let Some(entry) = self.peers.get_mut(peer) {
            entry.failures = 0;
            entry.due = None;
        }
    }

    /// The last connection closed: retry after the first backoff step.
    pub(crate) fn disconnected(&mut self, peer: &P, now: Instant) {
        if let Some(entry) = self.peers.get_mut(peer) {
            entry.due = Some(now + self.backoff.delay(entry.failures));
        }
    }

    /// A dial failed: retry later, each failure waiting twice as long.
    pub(crate) fn dial_failed(&mut self, peer: &P, now: Instant) {
        if let Some(entry) = self.peers.get_mut(peer) {
            entry.failures = entry.failures.saturating_add(1);
            entry.due = Some(now + self.backoff.delay(entry.failures));
        }
    }

    /// Peers whose dial is due; they are marked as being dialled (no longer due).
    pub(crate) fn take_due(&mut self, now: Instant) -> Vec<P> {
        let mut due = Vec::new();
        for (peer, entry) in &mut self.peers {
            if entry.due.is_some_and(|at| at <= now) {
                entry.due = None;
                due.push(peer.clone());
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        let delays: Vec<_> = (0..6).map(|n| backoff.delay(n).as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn a_lost_peer_is_redialled_with_growing_waits_until_it_connects() {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        let start = Instant::now();
        let mut redial = Redial::new(backoff);
        redial.want("a", false, start);
        redial.want("b", true, start);
        assert_eq!(redial.take_due(start), vec!["a"]);
        assert!(redial.take_due(start).is_empty(), "a dial is under way");

        redial.dial_failed(&"a", start);
        assert!(
            redial
                .take_due(start + Duration::from_millis(199))
                .is_empty()
        );
        let t = start + Duration::from_millis(200);
        assert_eq!(redial.take_due(t), vec!["a"]);
        redial.dial_failed(&"a", t);
        assert!(redial.take_due(t + Duration::from_millis(399)).is_empty());
        assert_eq!(redial.take_due(t + Duration::from_millis(400)), vec!["a"]);

        redial.connected(&"a");
        redial.disconnected(&"a", t);
        assert_eq!(redial.take_due(t + Duration::from_millis(100)), vec!["a"]);

        redial.disconnected(&"b", t);
        redial.unwant(&"b");
        assert!(!redial.is_wanted(&"b"));
        assert!(redial.take_due(t + Duration::from_secs(10)).is_empty());
    }
}
