//! Ethereum JSON-RPC for Kaimeng shards (jsonrpsee, HTTP and WebSocket on one port).
//!
//! `api` declares one trait per namespace (plus `EthToolsApi` and `RawApi` beside `eth_*` and
//! `debug_*`); `eth`, `net`, `txpool`, `debug` and `raw` implement them by delegating to the
//! shard (`storage_key` parses storage slot keys as the spec takes them), `kaimeng`
//! (membership and governance) by delegating to a [`Consortium`], `finality` (stored finality
//! certificates) by reading the shard; `error` is the single mapping to JSON-RPC error
//! objects; `server` starts a
//! server with its limits; `rate_limit` is the per-client-address limiter; `http_guard` fixes
//! what jsonrpsee answers wrongly at the HTTP level (oversized chunked bodies, bad ids);
//! `backpressure` stops reading a connection's requests while its answers cannot be written;
//! `read_pool` runs the handlers that execute or scan off the async runtime, bounded;
//! `node_status` is what the node tells `net_*` and `eth_syncing` about its peers and sync.

pub mod api;
pub mod backpressure;
pub mod debug;
pub mod error;
pub mod eth;
pub mod finality;
pub mod http_guard;
pub mod kaimeng;
pub mod net;
pub mod node_status;
pub mod not_held;
pub mod pages;
pub mod rate_limit;
pub mod raw;
pub mod read_pool;
pub mod server;
pub mod storage_key;
pub mod txpool;

pub use api::kaimeng::GovernanceDomainView;
pub use eth::DevSigner;
pub use finality::{CertifiedChain, FinalityRpc};
pub use kaimeng::{Consortium, ImmediateConsortium, KaimengRpc};
pub use node_status::{NodeStatus, StandaloneNode, SyncProgress};
pub use pages::{PageService, Pages};
pub use read_pool::ReadPool;
pub use server::{
    RpcConfig, RpcLimits, ServeError, serve, serve_methods, serve_with, serve_with_pages,
};

/// `web3_clientVersion`.
pub fn client_version() -> String {
    format!(
        "kaimeng/v{}/{}-{}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}
