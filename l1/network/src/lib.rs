//! Kaimeng's peer-to-peer network: a libp2p swarm (TCP + Noise + Yamux, gossipsub,
//! request-response, identify, ping) behind a small async API that carries opaque bytes.
//!
//! - [`Network::start`] binds, dials the bootstrap peers and returns a [`NetworkHandle`] and
//!   a channel of [`NetworkEvent`]s.
//! - Gossip per [`Topic`]: consensus messages, transactions and block announcements per
//!   [`Chain`]; direct messages to one peer ([`NetworkHandle::send_to`]).
//! - Block sync: [`NetworkHandle::request_blocks`] asks a peer for a height range, answered by
//!   that peer's [`BlockSource`].
//! - Per-peer limits ([`Limits`]): token buckets per peer and topic class, size caps, and bans
//!   for peers that keep flooding; counted in [`NetworkStats`].
//!
//! The network decides nothing about membership: events name the peer that delivered a
//! message and the node checks signatures against the member set. It only keeps the peers the
//! node names ([`NetworkHandle::set_priority_peers`]) connected. `docs/network.md` describes
//! how the node uses it and the limits' defaults.
//!
//! ```no_run
//! use kaimeng_network::{Chain, Network, NetworkConfig, NetworkEvent, NodeKey, Topic};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = NetworkConfig::new(NodeKey::from_secret_bytes([1; 32])?, [0xaa; 32]);
//! config.bootstrap = vec!["/ip4/10.0.0.2/tcp/30333/p2p/16Uiu2HAm...".into()];
//! config.topics = vec![Topic::Consensus(Chain::Beacon), Topic::Transactions(Chain::Shard(0))];
//! let (network, mut events) = Network::start(config).await?;
//! network.publish(Topic::Consensus(Chain::Beacon), b"a vote".to_vec()).await.ok();
//! while let Some(event) = events.recv().await {
//!     if let NetworkEvent::Gossip { from, topic, data, .. } = event {
//!         // decode, check the signature against the member set, feed the engine
//!         let _ = (from, topic, data);
//!     }
//! }
//! # Ok(()) }
//! ```

mod behaviour;
mod config;
mod handle;
mod limits;
mod peer;
mod protocol;
mod redial;
mod serve;
mod service;
mod stats;
mod topic;
pub mod wire;

pub use behaviour::BuildError;
pub use config::{BlockSource, ConfigError, DEFAULT_PORT, NetworkConfig, Timing};
pub use handle::{
    AddPeerError, GossipId, NetworkEvent, NetworkHandle, PublishError, RequestFailure, SendError,
    Stopped, SyncError, Validation,
};
pub use limits::{BanPolicy, ClassLimits, Limits, RateLimit};
pub use peer::{NodeKey, NodeKeyError, PeerId, PeerIdError};
pub use redial::Backoff;
pub use service::{Network, StartError};
pub use stats::{NetworkStats, TopicStats};
pub use topic::{Chain, NetworkId, Topic, TopicClass};
pub use wire::Refusal;
