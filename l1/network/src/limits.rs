//! Per-peer limits: the configuration ([`Limits`]), a token bucket, and the [`PeerLimiter`]
//! that decides for each inbound message whether it passes, is dropped, or gets its sender
//! banned. Pure logic: the caller passes the time in.
//!
//! Every peer has one bucket per topic class for messages and one for bytes, one for block
//! sync requests, and a *strike* bucket. A message that finds its buckets empty is dropped and
//! costs the peer a strike; a peer that runs out of strikes (it keeps flooding well beyond its
//! rate) is banned. One flooding peer thus spends only its own tokens.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

use crate::topic::TopicClass;

/// A sustained rate with a burst allowance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Tokens added per second.
    pub per_second: u32,
    /// Bucket size: how much may pass at once after a quiet period.
    pub burst: u32,
}

impl RateLimit {
    pub const fn new(per_second: u32, burst: u32) -> RateLimit {
        RateLimit { per_second, burst }
    }
}

/// Limits on one topic class, per peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassLimits {
    /// Messages per second.
    pub messages: RateLimit,
    /// Payload bytes per second.
    pub bytes: RateLimit,
    /// Largest payload accepted; larger ones are rejected (and cost a strike).
    pub max_message_bytes: usize,
}

/// When a peer that keeps exceeding its limits is banned, and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BanPolicy {
    /// Each dropped or rejected message costs one strike; a peer with no strike left is banned.
    pub strikes: RateLimit,
    /// How long a ban lasts (connections refused both ways).
    pub duration: Duration,
}

/// All per-peer limits and message size caps. [`Limits::default`] documents the defaults
/// (also listed in `docs/network.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub consensus: ClassLimits,
    pub transactions: ClassLimits,
    pub blocks: ClassLimits,
    /// Block sync requests a peer may send us.
    pub sync_requests: RateLimit,
    /// State snapshot part and cross-shard message requests a peer may send us (a sync asks
    /// for 258 parts, served from memory once read, and a shard's proposers ask for the
    /// messages of each shard they do not hold at every beacon block).
    pub snapshot_requests: RateLimit,
    /// Most blocks one `GetBlocks` may ask for (both when we ask and when we serve).
    pub max_blocks_per_request: u64,
    /// Most bytes of block data in one response; a server sends the longest prefix of the
    /// range that fits, a client refuses larger responses.
    pub max_response_bytes: usize,
    /// Block sync requests served at the same time (reads of the block source).
    pub max_concurrent_block_reads: usize,
    pub ban: BanPolicy,
}

impl Default for Limits {
    fn default() -> Limits {
        const KIB: u32 = 1024;
        const MIB: u32 = 1024 * KIB;
        Limits {
            // Votes are ~100 bytes and a 100-member certificate ~10 KiB, but a proposal after a
            // long outage carries many nullification certificates: the cap is the consensus
            // codec's own (1 MiB, ADR 0012).
            consensus: ClassLimits {
                messages: RateLimit::new(1_000, 2_000),
                bytes: RateLimit::new(4 * MIB, 8 * MIB),
                max_message_bytes: MIB as usize,
            },
            // A shard's cap on one transaction is 512 KiB (ADR 0115). The rate covers a node that
            // forwards a whole network's load at several thousand transactions per second.
            transactions: ClassLimits {
                messages: RateLimit::new(10_000, 20_000),
                bytes: RateLimit::new(16 * MIB, 32 * MIB),
                max_message_bytes: 512 * KIB as usize,
            },
            blocks: ClassLimits {
                messages: RateLimit::new(50, 200),
                bytes: RateLimit::new(32 * MIB, 64 * MIB),
                max_message_bytes: 4 * MIB as usize,
            },
            sync_requests: RateLimit::new(20, 50),
            snapshot_requests: RateLimit::new(100, 300),
            max_blocks_per_request: 128,
            max_response_bytes: 16 * MIB as usize,
            max_concurrent_block_reads: 8,
            ban: BanPolicy {
                strikes: RateLimit::new(10, 500),
                duration: Duration::from_secs(300),
            },
        }
    }
}

impl Limits {
    pub fn class(&self, class: TopicClass) -> &ClassLimits {
        match class {
            TopicClass::Consensus => &self.consensus,
            TopicClass::Transactions => &self.transactions,
            TopicClass::Blocks => &self.blocks,
        }
    }

    /// The largest payload of any class (gossipsub's transmit size is set from it).
    pub fn max_message_bytes(&self) -> usize {
        TopicClass::ALL
            .into_iter()
            .map(|class| self.class(class).max_message_bytes)
            .max()
            .unwrap_or(0)
    }

    /// Checks the limits make sense (a message at the size cap must fit in a full bucket).
    pub fn check(&self) -> Result<(), String> {
        for class in TopicClass::ALL {
            let limits = self.class(class);
            if limits.max_message_bytes as u64 > u64::from(limits.bytes.burst) {
                return Err(format!(
                    "{class:?}: max_message_bytes {} exceeds the byte burst {}, so such a \
                     message could never pass",
                    limits.max_message_bytes, limits.bytes.burst
                ));
            }
            if limits.messages.burst == 0 || limits.max_message_bytes == 0 {
                return Err(format!("{class:?}: a zero burst or size admits nothing"));
            }
        }
        if self.max_blocks_per_request == 0 {
            return Err("max_blocks_per_request must be at least 1".into());
        }
        if self.max_concurrent_block_reads == 0 {
            return Err("max_concurrent_block_reads must be at least 1".into());
        }
        Ok(())
    }
}

/// A token bucket: `burst` tokens, refilled at `per_second`.
#[derive(Clone, Debug)]
pub(crate) struct TokenBucket {
    tokens: f64,
    capacity: f64,
    per_second: f64,
    updated: Instant,
}

impl TokenBucket {
    pub(crate) fn full(limit: RateLimit, now: Instant) -> TokenBucket {
        TokenBucket {
            tokens: f64::from(limit.burst),
            capacity: f64::from(limit.burst),
            per_second: f64::from(limit.per_second),
            updated: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.updated = now;
    }

    /// Takes `amount` tokens if the bucket holds them; otherwise takes nothing.
    pub(crate) fn try_take(&mut self, amount: f64, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= amount {
            self.tokens -= amount;
            true
        } else {
            false
        }
    }

    pub(crate) fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.capacity
    }
}

/// What to do with one inbound message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Accept,
    /// Over the limit (or too large): drop it, the peer keeps its connection.
    Drop,
    /// Dropped, and the peer has run out of strikes: ban it.
    Ban,
}

#[derive(Debug)]
struct ClassBuckets {
    messages: TokenBucket,
    bytes: TokenBucket,
}

#[derive(Debug)]
struct PeerBuckets {
    classes: [ClassBuckets; 3],
    sync: TokenBucket,
    snapshot: TokenBucket,
    strikes: TokenBucket,
}

impl PeerBuckets {
    fn new(limits: &Limits, now: Instant) -> PeerBuckets {
        let class = |class: TopicClass| {
            let limits = limits.class(class);
            ClassBuckets {
                messages: TokenBucket::full(limits.messages, now),
                bytes: TokenBucket::full(limits.bytes, now),
            }
        };
        PeerBuckets {
            classes: [
                class(TopicClass::Consensus),
                class(TopicClass::Transactions),
                class(TopicClass::Blocks),
            ],
            sync: TokenBucket::full(limits.sync_requests, now),
            snapshot: TokenBucket::full(limits.snapshot_requests, now),
            strikes: TokenBucket::full(limits.ban.strikes, now),
        }
    }

    fn all_full(&mut self, now: Instant) -> bool {
        self.classes
            .iter_mut()
            .all(|c| c.messages.is_full(now) && c.bytes.is_full(now))
            && self.sync.is_full(now)
            && self.snapshot.is_full(now)
            && self.strikes.is_full(now)
    }
}

/// Buckets of every peer that sent something recently. A peer's buckets outlive its
/// connection until they are full again, so reconnecting does not refill them.
#[derive(Debug)]
pub(crate) struct PeerLimiter<P> {
    limits: Limits,
    peers: HashMap<P, PeerBuckets>,
}

impl<P: Hash + Eq + Clone> PeerLimiter<P> {
    pub(crate) fn new(limits: Limits) -> PeerLimiter<P> {
        PeerLimiter {
            limits,
            peers: HashMap::new(),
        }
    }

    fn buckets(&mut self, peer: &P, now: Instant) -> &mut PeerBuckets {
        let limits = &self.limits;
        self.peers
            .entry(peer.clone())
            .or_insert_with(|| PeerBuckets::new(limits, now))
    }

    /// A gossip (or direct) message of `len` payload bytes from `peer`.
    pub(crate) fn check_message(
        &mut self,
        peer: &P,
        class: TopicClass,
        len: usize,
        now: Instant,
    ) -> Verdict {
        if len > self.limits.class(class).max_message_bytes {
            return self.strike(peer, now);
        }
        let buckets = &mut self.buckets(peer, now).classes[class.index()];
        // Check both before taking either, so a refused message costs no tokens.
        buckets.messages.refill(now);
        buckets.bytes.refill(now);
        if buckets.messages.tokens >= 1.0 && buckets.bytes.tokens >= len as f64 {
            buckets.messages.tokens -= 1.0;
            buckets.bytes.tokens -= len as f64;
            Verdict::Accept
        } else {
            self.strike(peer, now)
        }
    }

    /// A block sync request from `peer`.
    pub(crate) fn check_sync_request(&mut self, peer: &P, now: Instant) -> Verdict {
        if self.buckets(peer, now).sync.try_take(1.0, now) {
            Verdict::Accept
        } else {
            self.strike(peer, now)
        }
    }

    /// A state snapshot part request from `peer`.
    pub(crate) fn check_snapshot_request(&mut self, peer: &P, now: Instant) -> Verdict {
        if self.buckets(peer, now).snapshot.try_take(1.0, now) {
            Verdict::Accept
        } else {
            self.strike(peer, now)
        }
    }

    /// Counts one misbehaviour (a dropped message, a malformed request).
    pub(crate) fn strike(&mut self, peer: &P, now: Instant) -> Verdict {
        if self.buckets(peer, now).strikes.try_take(1.0, now) {
            Verdict::Drop
        } else {
            Verdict::Ban
        }
    }

    /// Forgets peers whose buckets are all full again, unless `keep` says otherwise
    /// (connected peers are kept: dropping them would change nothing but cost a rebuild).
    pub(crate) fn prune(&mut self, now: Instant, keep: impl Fn(&P) -> bool) {
        self.peers
            .retain(|peer, buckets| keep(peer) || !buckets.all_full(now));
    }

    /// Starts a peer afresh (after its ban ends).
    pub(crate) fn forget(&mut self, peer: &P) {
        self.peers.remove(peer);
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.peers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_limits() -> Limits {
        let class = ClassLimits {
            messages: RateLimit::new(10, 5),
            bytes: RateLimit::new(1_000, 1_000),
            max_message_bytes: 500,
        };
        Limits {
            consensus: class,
            transactions: class,
            blocks: class,
            sync_requests: RateLimit::new(1, 2),
            ban: BanPolicy {
                strikes: RateLimit::new(1, 3),
                duration: Duration::from_secs(60),
            },
            ..Limits::default()
        }
    }

    #[test]
    fn defaults_are_consistent() {
        Limits::default().check().unwrap();
        let mut broken = Limits::default();
        broken.blocks.bytes.burst = 10;
        assert!(broken.check().unwrap_err().contains("Blocks"));
    }

    #[test]
    fn bucket_refills_at_its_rate_up_to_its_burst() {
        let start = Instant::now();
        let mut bucket = TokenBucket::full(RateLimit::new(10, 3), start);
        assert!((0..3).all(|_| bucket.try_take(1.0, start)));
        assert!(!bucket.try_take(1.0, start));
        // 100 ms at 10/s is one token.
        let later = start + Duration::from_millis(100);
        assert!(bucket.try_take(1.0, later));
        assert!(!bucket.try_take(1.0, later));
        // A long pause refills to the burst, no more.
        let much_later = later + Duration::from_secs(60);
        assert!((0..3).all(|_| bucket.try_take(1.0, much_later)));
        assert!(!bucket.try_take(1.0, much_later));
    }

    #[test]
    fn a_flooding_peer_is_dropped_then_banned_and_others_are_untouched() {
        let now = Instant::now();
        let mut limiter = PeerLimiter::new(small_limits());
        let verdicts: Vec<_> = (0..10)
            .map(|_| limiter.check_message(&"flooder", TopicClass::Transactions, 10, now))
            .collect();
        // Burst of 5 passes, then 3 strikes are dropped, then the ban.
        assert_eq!(&verdicts[..5], &[Verdict::Accept; 5]);
        assert_eq!(&verdicts[5..8], &[Verdict::Drop; 3]);
        assert_eq!(&verdicts[8..], &[Verdict::Ban; 2]);
        for _ in 0..5 {
            assert_eq!(
                limiter.check_message(&"honest", TopicClass::Transactions, 10, now),
                Verdict::Accept
            );
        }
    }

    #[test]
    fn classes_have_separate_buckets() {
        let now = Instant::now();
        let mut limiter = PeerLimiter::new(small_limits());
        for _ in 0..5 {
            limiter.check_message(&1, TopicClass::Transactions, 10, now);
        }
        assert_eq!(
            limiter.check_message(&1, TopicClass::Transactions, 10, now),
            Verdict::Drop
        );
        assert_eq!(
            limiter.check_message(&1, TopicClass::Consensus, 10, now),
            Verdict::Accept
        );
    }

    #[test]
    fn bytes_are_limited_and_oversized_messages_cost_a_strike() {
        let now = Instant::now();
        let mut limiter = PeerLimiter::new(small_limits());
        assert_eq!(
            limiter.check_message(&1, TopicClass::Blocks, 500, now),
            Verdict::Accept
        );
        assert_eq!(
            limiter.check_message(&1, TopicClass::Blocks, 500, now),
            Verdict::Accept
        );
        // The byte bucket (1,000) is empty although message tokens remain.
        assert_eq!(
            limiter.check_message(&1, TopicClass::Blocks, 1, now),
            Verdict::Drop
        );
        assert_eq!(
            limiter.check_message(&2, TopicClass::Blocks, 501, now),
            Verdict::Drop
        );
    }

    #[test]
    fn a_refused_message_takes_no_tokens() {
        let now = Instant::now();
        let mut limiter = PeerLimiter::new(small_limits());
        assert_eq!(
            limiter.check_message(&1, TopicClass::Blocks, 500, now),
            Verdict::Accept
        );
        assert_eq!(
            limiter.check_message(&1, TopicClass::Blocks, 500, now),
            Verdict::Accept
        );
        // Refused for bytes: its message token must not be spent.
        assert_eq!(
            limiter.check_message(&1, TopicClass::Blocks, 400, now),
            Verdict::Drop
        );
        let later = now + Duration::from_millis(400); // 400 bytes, 4 messages refilled
        for _ in 0..3 {
            assert_eq!(
                limiter.check_message(&1, TopicClass::Blocks, 100, later),
                Verdict::Accept
            );
        }
    }

    #[test]
    fn sync_requests_have_their_own_rate() {
        let now = Instant::now();
        let mut limiter = PeerLimiter::new(small_limits());
        assert_eq!(limiter.check_sync_request(&1, now), Verdict::Accept);
        assert_eq!(limiter.check_sync_request(&1, now), Verdict::Accept);
        assert_eq!(limiter.check_sync_request(&1, now), Verdict::Drop);
        let later = now + Duration::from_secs(1);
        assert_eq!(limiter.check_sync_request(&1, later), Verdict::Accept);
    }

    #[test]
    fn snapshot_and_message_requests_have_a_bucket_of_their_own() {
        let now = Instant::now();
        let mut limiter = PeerLimiter::new(Limits {
            snapshot_requests: RateLimit::new(1, 2),
            ..small_limits()
        });
        // Block sync used up does not stop snapshot parts, and the other way round.
        for _ in 0..2 {
            assert_eq!(limiter.check_sync_request(&1, now), Verdict::Accept);
        }
        assert_eq!(limiter.check_sync_request(&1, now), Verdict::Drop);
        assert_eq!(limiter.check_snapshot_request(&1, now), Verdict::Accept);
        assert_eq!(limiter.check_snapshot_request(&1, now), Verdict::Accept);
        assert_eq!(limiter.check_snapshot_request(&1, now), Verdict::Drop);
        let later = now + Duration::from_secs(1);
        assert_eq!(limiter.check_snapshot_request(&1, later), Verdict::Accept);
    }

    #[test]
    fn strikes_recover_slowly() {
        let now = Instant::now();
        let mut limiter = PeerLimiter::new(small_limits());
        for _ in 0..3 {
            assert_eq!(limiter.strike(&1, now), Verdict::Drop);
        }
        assert_eq!(limiter.strike(&1, now), Verdict::Ban);
        // One strike per second comes back.
        assert_eq!(
            limiter.strike(&1, now + Duration::from_secs(1)),
            Verdict::Drop
        );
    }

    #[test]
    fn idle_peers_are_pruned_only_once_their_buckets_refilled() {
        let now = Instant::now();
        let mut limiter = PeerLimiter::new(small_limits());
        limiter.check_message(&1, TopicClass::Consensus, 10, now);
        limiter.check_message(&2, TopicClass::Consensus, 10, now);
        limiter.prune(now, |_| false);
        assert_eq!(limiter.tracked(), 2, "buckets not yet full");
        let later = now + Duration::from_secs(10);
        limiter.prune(later, |peer| *peer == 2);
        assert_eq!(
            limiter.tracked(),
            1,
            "peer 1 forgotten, connected peer 2 kept"
        );
        limiter.forget(&2);
        assert_eq!(limiter.tracked(), 0);
    }
}
