//! The explorer (ADR 0107, 0108): read-only pages about the network, served by every node on
//! its RPC port under `/explorer`, in Chinese and English, over indexes the node builds in its
//! own data directory as blocks finalize. No separate indexer process and no database server.
//!
//! - [`index`]: the indexes and their writer;
//! - `web`: the router, language choice, errors and the rate-limited mount point;
//! - `pages`: one module per page kind, each turning node data into a template's context;
//! - `i18n`: the message catalogs (`i18n/en.toml`, `i18n/zh.toml`).

mod fmt;
mod i18n;
pub mod index;
mod pages;
mod web;

use std::sync::Arc;

use alloy_primitives::Address;
use kaimeng_shards::ShardChain;

pub use index::{Index, IndexOptions};
pub use web::{PREFIX, pages_service, router};

/// Where the explorer reads what it shows.
pub struct Sources {
    /// Every shard of the network, in shard order.
    pub chains: Vec<Arc<ShardChain>>,
    /// The indexes; `None` when the operator switched them off (pages that need them say so).
    pub index: Option<Arc<Index>>,
    /// The beacon chain's `kaimeng_*` methods (members, proposals, epochs, committees,
    /// crosslinks, certificates), called in-process; `None` for a single dev sealer.
    pub beacon: Option<jsonrpsee::Methods>,
    /// The beacon chain's final height, when there is one.
    pub beacon_height: Option<Arc<dyn Fn() -> u64 + Send + Sync>>,
    /// Peers connected, for the home page.
    pub status: Arc<dyn kaimeng_rpc::NodeStatus>,
    /// The rollup bridge on shard 0, when the network has a rollup.
    pub bridge: Option<Address>,
    /// Shard 0's chain id and the network's crypto suite, for every page's footer.
    pub chain_id: u64,
    pub crypto_suite: String,
}

/// The explorer of one node.
pub struct Explorer {
    sources: Sources,
    templates: minijinja::Environment<'static>,
    catalogs: i18n::Catalogs,
    /// Pages being built at once (each on a blocking thread), and requests waiting for a turn.
    building: tokio::sync::Semaphore,
    waiting: std::sync::atomic::AtomicUsize,
    /// (shard, number) → (timestamp, transactions) of recent blocks, for the home page.
    block_sizes: parking_lot::Mutex<std::collections::BTreeMap<(u32, u64), (u64, usize)>>,
}

/// Pages built at once.
pub const PAGES_AT_ONCE: usize = 4;
/// Requests that may wait for a turn; one more gets 503 at once.
pub const PAGES_WAITING: usize = 256;

impl Explorer {
    pub fn new(sources: Sources) -> Arc<Self> {
        Arc::new(Self {
            sources,
            templates: pages::templates(),
            catalogs: i18n::Catalogs::load(),
            building: tokio::sync::Semaphore::new(PAGES_AT_ONCE),
            waiting: std::sync::atomic::AtomicUsize::new(0),
            block_sizes: Default::default(),
        })
    }

    fn chain(&self, shard: u32) -> Option<&Arc<ShardChain>> {
        self.sources.chains.get(shard as usize)
    }
}
