//! The node's Prometheus metrics: one [`Metrics`] registry per process with a typed handle per
//! chain ([`ChainMetrics`], labelled `chain="beacon"`, `chain="shard-0"`, ...), and [`serve`],
//! which exposes them at `GET /metrics` in the OpenMetrics text format. The metric list and
//! meanings are in `docs/operations.md`.
//!
//! ```
//! use kaimeng::metrics::{Metrics, VoteKind};
//!
//! let metrics = Metrics::new();
//! let beacon = metrics.chain("beacon");
//! beacon.set_view(7);
//! beacon.vote_received(VoteKind::Notarize);
//! beacon.finalized(3, 120);
//! metrics.set_peers(4);
//! assert!(metrics.encode().contains("kaimeng_finalized_height{chain=\"beacon\"} 3"));
//! ```

mod http;
mod server;

pub use server::serve;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use std::fmt::Write as _;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// Every metric name starts with this (`kaimeng_finalized_height`, ...).
pub const PREFIX: &str = "kaimeng";

/// Upper bounds (seconds) of the block interval histogram's buckets.
pub const BLOCK_INTERVAL_BUCKETS: [f64; 12] = [
    0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0,
];

/// The label of per-chain metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChainLabel {
    chain: String,
}

/// The three consensus votes, as the `kind` label of `kaimeng_votes_received_total`.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum VoteKind {
    /// A vote for a proposal ("valid, and the first I saw from this view's leader").
    Notarize,
    /// A vote to give up on a view.
    Nullify,
    /// A vote to finalize a notarized proposal.
    Finalize,
}

impl VoteKind {
    /// The label value: `notarize`, `nullify` or `finalize`.
    pub fn as_str(self) -> &'static str {
        match self {
            VoteKind::Notarize => "notarize",
            VoteKind::Nullify => "nullify",
            VoteKind::Finalize => "finalize",
        }
    }
}

impl EncodeLabelValue for VoteKind {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

impl From<&kaimeng_consensus::Vote> for VoteKind {
    fn from(vote: &kaimeng_consensus::Vote) -> VoteKind {
        match vote {
            kaimeng_consensus::Vote::Notarize(_) => VoteKind::Notarize,
            kaimeng_consensus::Vote::Nullify { .. } => VoteKind::Nullify,
            kaimeng_consensus::Vote::Finalize(_) => VoteKind::Finalize,
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VoteLabels {
    chain: String,
    kind: VoteKind,
}

type HistogramFamily = Family<ChainLabel, Histogram, fn() -> Histogram>;

fn block_interval_histogram() -> Histogram {
    Histogram::new(BLOCK_INTERVAL_BUCKETS)
}

/// The metric families, shared by every [`ChainMetrics`] handle.
#[derive(Clone)]
struct Families {
    finalized_height: Family<ChainLabel, Gauge>,
    view: Family<ChainLabel, Gauge>,
    votes_received: Family<VoteLabels, Counter>,
    rounds_timed_out: Family<ChainLabel, Counter>,
    block_interval: HistogramFamily,
    transactions_finalized: Family<ChainLabel, Counter>,
    mempool_transactions: Family<ChainLabel, Gauge>,
}

/// The process's metrics. Create one with [`Metrics::new`], share the `Arc`, take a
/// [`ChainMetrics`] per chain with [`Metrics::chain`], and scrape with [`serve`] or
/// [`Metrics::encode`].
pub struct Metrics {
    registry: Registry,
    families: Families,
    peers: Gauge,
    chains: Mutex<HashMap<String, ChainMetrics>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let chains: Vec<String> = self.chains.lock().keys().cloned().collect();
        f.debug_struct("Metrics").field("chains", &chains).finish()
    }
}

impl Metrics {
    /// An empty registry with every metric family registered (no chain series yet).
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix(PREFIX);
        let families = Families {
            finalized_height: Family::default(),
            view: Family::default(),
            votes_received: Family::default(),
            rounds_timed_out: Family::default(),
            block_interval: HistogramFamily::new_with_constructor(block_interval_histogram),
            transactions_finalized: Family::default(),
            mempool_transactions: Family::default(),
        };
        let peers = Gauge::default();
        registry.register(
            "finalized_height",
            "Height of the last block this node saw finalized",
            families.finalized_height.clone(),
        );
        registry.register(
            "view",
            "Current consensus view (round) of this node",
            families.view.clone(),
        );
        registry.register(
            "votes_received",
            "Consensus votes received from validators, by kind",
            families.votes_received.clone(),
        );
        registry.register(
            "rounds_timed_out",
            "Views this node gave up on because their timer expired",
            families.rounds_timed_out.clone(),
        );
        registry.register_with_unit(
            "block_interval",
            "Time between consecutive finalizations seen by this node",
            Unit::Seconds,
            families.block_interval.clone(),
        );
        registry.register(
            "transactions_finalized",
            "Transactions in finalized blocks",
            families.transactions_finalized.clone(),
        );
        registry.register(
            "mempool_transactions",
            "Transactions waiting in the mempool",
            families.mempool_transactions.clone(),
        );
        registry.register("peers", "Connected libp2p peers", peers.clone());
        Arc::new(Metrics {
            registry,
            families,
            peers,
            chains: Mutex::new(HashMap::new()),
        })
    }

    /// The handle of chain `name` (`"beacon"`, `"shard-0"`, ...), created on first use with
    /// its height, view and counters at 0. Every call with the same name returns a handle to
    /// the same series.
    pub fn chain(&self, name: &str) -> ChainMetrics {
        let mut chains = self.chains.lock();
        if let Some(handle) = chains.get(name) {
            return handle.clone();
        }
        let handle = ChainMetrics::new(name, &self.families);
        chains.insert(name.to_owned(), handle.clone());
        handle
    }

    /// The chain label of shard `index`: `shard-{index}`.
    pub fn shard_chain_name(index: u32) -> String {
        format!("shard-{index}")
    }

    /// Sets the number of connected peers.
    pub fn set_peers(&self, peers: u64) {
        self.peers.set(saturating_i64(peers));
    }

    /// The OpenMetrics text of every metric, ending with `# EOF`.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail; an encoder error would leave a partial text,
        // which the scraper rejects (no `# EOF`).
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(%error, "encoding metrics failed");
        }
        text
    }
}

/// One chain's series. Cheap to clone: every clone updates the same values.
#[derive(Clone)]
pub struct ChainMetrics {
    label: ChainLabel,
    finalized_height: Gauge,
    view: Gauge,
    rounds_timed_out: Counter,
    block_interval: Histogram,
    transactions_finalized: Counter,
    votes_received: Family<VoteLabels, Counter>,
    mempool_transactions: Family<ChainLabel, Gauge>,
    /// Height and time of the last finalization, for the block interval.
    last_finalized: Arc<Mutex<Option<(u64, Instant)>>>,
}

impl std::fmt::Debug for ChainMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainMetrics")
            .field("chain", &self.label.chain)
            .field("finalized_height", &self.finalized_height.get())
            .field("view", &self.view.get())
            .finish()
    }
}

impl ChainMetrics {
    fn new(name: &str, families: &Families) -> ChainMetrics {
        let label = ChainLabel {
            chain: name.to_owned(),
        };
        for kind in [VoteKind::Notarize, VoteKind::Nullify, VoteKind::Finalize] {
            let _ = families.votes_received.get_or_create(&VoteLabels {
                chain: name.to_owned(),
                kind,
            });
        }
        ChainMetrics {
            finalized_height: families.finalized_height.get_or_create_owned(&label),
            view: families.view.get_or_create_owned(&label),
            rounds_timed_out: families.rounds_timed_out.get_or_create_owned(&label),
            block_interval: families.block_interval.get_or_create_owned(&label),
            transactions_finalized: families.transactions_finalized.get_or_create_owned(&label),
            votes_received: families.votes_received.clone(),
            mempool_transactions: families.mempool_transactions.clone(),
            last_finalized: Arc::new(Mutex::new(None)),
            label,
        }
    }

    /// The chain label of this handle.
    pub fn name(&self) -> &str {
        &self.label.chain
    }

    /// Block `height` was finalized with `transactions` transactions, now.
    pub fn finalized(&self, height: u64, transactions: u64) {
        self.finalized_at(height, transactions, Instant::now());
    }

    /// Block `height` was finalized with `transactions` transactions at `now`. Sets the
    /// finalized height, counts the transactions, and observes the time since the previous
    /// finalization in the block interval histogram. A height at or below the last one
    /// (a repeated report) changes nothing; the first report after start observes no interval.
    pub fn finalized_at(&self, height: u64, transactions: u64, now: Instant) {
        let mut last = self.last_finalized.lock();
        if let Some((last_height, last_time)) = *last {
            if height <= last_height {
                return;
            }
            let seconds = now.saturating_duration_since(last_time).as_secs_f64();
            self.block_interval.observe(seconds);
        }
        *last = Some((height, now));
        self.finalized_height.set(saturating_i64(height));
        self.transactions_finalized.inc_by(transactions);
    }

    /// The engine entered `view`.
    pub fn set_view(&self, view: u64) {
        self.view.set(saturating_i64(view));
    }

    /// A vote of `kind` was received (and accepted by the engine).
    pub fn vote_received(&self, kind: VoteKind) {
        self.votes_received
            .get_or_create(&VoteLabels {
                chain: self.label.chain.clone(),
                kind,
            })
            .inc();
    }

    /// This node's timer for the current view expired (it nullifies the view).
    pub fn round_timed_out(&self) {
        self.rounds_timed_out.inc();
    }

    /// Sets the number of transactions in this chain's mempool.
    pub fn set_mempool_transactions(&self, transactions: u64) {
        self.mempool_transactions
            .get_or_create(&self.label)
            .set(saturating_i64(transactions));
    }
}

fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
