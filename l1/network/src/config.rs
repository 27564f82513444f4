//! How a node starts its network ([`NetworkConfig`], with defaults), the [`BlockSource`] it
//! serves block sync from, and the checks applied to addresses before anything is bound.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;

use crate::limits::Limits;
use crate::peer::{NodeKey, PeerId};
use crate::redial::Backoff;
use crate::topic::{Chain, Topic};

/// Answers block sync requests by height. Called on a blocking thread, at most
/// [`Limits::max_concurrent_block_reads`] at a time, so it may read from disk.
pub trait BlockSource: Send + Sync + 'static {
    /// The encoded block of `chain` at `height`, or `None` if this node does not have it.
    fn block(&self, chain: Chain, height: u64) -> Option<Vec<u8>>;

    /// Part `part` of `chain`'s state snapshot at `height`, or `None` if this node does not
    /// serve it (or is still preparing it: the asker tries again later or elsewhere).
    fn snapshot_part(&self, chain: Chain, height: u64, part: u32) -> Option<Vec<u8>> {
        let _ = (chain, height, part);
        None
    }

    /// The cross-shard messages shard `source` sent to `destination` from nonce `from` on,
    /// encoded with their proofs, or `None` if this node does not hold `source`.
    fn messages(&self, source: u32, destination: u32, from: u64) -> Option<Vec<u8>> {
        let _ = (source, destination, from);
        None
    }

    /// The encoded transactions of `chain` with these hashes that this node holds (pending in
    /// its pool), in the order asked; those it does not hold are left out.
    fn transactions(&self, chain: Chain, hashes: &[[u8; 32]]) -> Vec<Vec<u8>> {
        let _ = (chain, hashes);
        Vec::new()
    }
}

/// Timers of the protocols.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Gossipsub heartbeat (mesh upkeep, lazy gossip). Also the first heartbeat's delay.
    pub gossip_heartbeat: Duration,
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    /// A connection whose pings fail this many times in a row is closed (and, for wanted
    /// peers, redialled), so a silently dead link is noticed.
    pub ping_failures_before_close: u32,
    /// How long a block sync request or direct message may wait for its response.
    pub request_timeout: Duration,
    /// A connection no protocol uses is closed after this long.
    pub idle_connection_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            gossip_heartbeat: Duration::from_millis(700),
            ping_interval: Duration::from_secs(5),
            ping_timeout: Duration::from_secs(10),
            ping_failures_before_close: 2,
            request_timeout: Duration::from_secs(10),
            idle_connection_timeout: Duration::from_secs(3600),
        }
    }
}

/// Everything [`crate::Network::start`] needs.
#[derive(Clone)]
pub struct NetworkConfig {
    pub key: NodeKey,
    /// Names the network: topics and protocols carry its first 8 bytes.
    pub genesis_hash: [u8; 32],
    /// Multiaddrs to listen on, e.g. `/ip4/0.0.0.0/tcp/30333`.
    pub listen: Vec<String>,
    /// Peers to connect to and keep connected, e.g. `/ip4/10.0.0.2/tcp/30333/p2p/16Uiu2HA...`
    /// (the `/p2p/` part is required: Noise checks that the peer holds that key).
    pub bootstrap: Vec<String>,
    /// Topics subscribed at start (more with `NetworkHandle::subscribe`).
    pub topics: Vec<Topic>,
    /// Peers kept connected and never banned (member validators); see
    /// `NetworkHandle::set_priority_peers`.
    pub priority_peers: Vec<PeerId>,
    pub limits: Limits,
    pub reconnect: Backoff,
    pub timing: Timing,
    /// Most inbound connections at once (priority peers do not count).
    pub max_inbound_connections: u32,
    /// Capacity of the event channel; when the node falls behind, further events are dropped
    /// and counted in `NetworkStats::dropped_events`.
    pub event_buffer: usize,
    /// Serves block sync; without one, sync requests are refused with `NoBlockSource`.
    pub block_source: Option<Arc<dyn BlockSource>>,
    /// When on, gossip that passed the limits is forwarded only after the node reports it
    /// valid (`NetworkHandle::validate`), so invalid messages stop at the first honest hop.
    /// When off, the network forwards everything within the limits.
    pub node_validation: bool,
}

/// The default TCP port.
pub const DEFAULT_PORT: u16 = 30333;

impl NetworkConfig {
    /// Defaults: listen on all interfaces at [`DEFAULT_PORT`], no bootstrap peers, no topics,
    /// [`Limits::default`], [`Backoff::default`], [`Timing::default`], no node validation.
    pub fn new(key: NodeKey, genesis_hash: [u8; 32]) -> NetworkConfig {
        NetworkConfig {
            key,
            genesis_hash,
            listen: vec![format!("/ip4/0.0.0.0/tcp/{DEFAULT_PORT}")],
            bootstrap: Vec::new(),
            topics: Vec::new(),
            priority_peers: Vec::new(),
            limits: Limits::default(),
            reconnect: Backoff::default(),
            timing: Timing::default(),
            max_inbound_connections: 128,
            event_buffer: 16_384,
            block_source: None,
            node_validation: false,
        }
    }
}

impl fmt::Debug for NetworkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetworkConfig")
            .field("key", &self.key)
            .field("genesis_hash", &self.genesis_hash)
            .field("listen", &self.listen)
            .field("bootstrap", &self.bootstrap)
            .field("topics", &self.topics)
            .field("priority_peers", &self.priority_peers)
            .field("limits", &self.limits)
            .field("reconnect", &self.reconnect)
            .field("timing", &self.timing)
            .field("max_inbound_connections", &self.max_inbound_connections)
            .field("event_buffer", &self.event_buffer)
            .field("block_source", &self.block_source.as_ref().map(|_| "..."))
            .field("node_validation", &self.node_validation)
            .finish()
    }
}

/// A configuration the network cannot start with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("listen address {addr:?}: {reason}")]
    ListenAddr { addr: String, reason: String },
    #[error("peer address {addr:?}: {reason}")]
    PeerAddr { addr: String, reason: String },
    #[error("limits: {0}")]
    Limits(String),
    #[error("{0} must be at least 1")]
    Zero(&'static str),
}

pub(crate) fn parse_listen_addr(text: &str) -> Result<Multiaddr, ConfigError> {
    let addr: Multiaddr = text.parse().map_err(|e| ConfigError::ListenAddr {
        addr: text.to_owned(),
        reason: format!("not a multiaddr ({e})"),
    })?;
    let mut parts = addr.iter();
    let ip_ok = matches!(parts.next(), Some(Protocol::Ip4(_) | Protocol::Ip6(_)));
    let tcp_ok = matches!(parts.next(), Some(Protocol::Tcp(_)));
    if !ip_ok || !tcp_ok || parts.next().is_some() {
        return Err(ConfigError::ListenAddr {
            addr: text.to_owned(),
            reason: "expected /ip4/<ip>/tcp/<port> or /ip6/<ip>/tcp/<port>".into(),
        });
    }
    Ok(addr)
}

/// Parses `<transport address>/p2p/<peer id>` into the peer and its address (without `/p2p`).
pub(crate) fn parse_peer_addr(text: &str) -> Result<(libp2p::PeerId, Multiaddr), ConfigError> {
    let error = |reason: String| ConfigError::PeerAddr {
        addr: text.to_owned(),
        reason,
    };
    let mut addr: Multiaddr = text
        .parse()
        .map_err(|e| error(format!("not a multiaddr ({e})")))?;
    let Some(Protocol::P2p(peer)) = addr.pop() else {
        return Err(error(
            "must end with /p2p/<peer id>, so the connection is authenticated".into(),
        ));
    };
    let mut parts = addr.iter();
    let host_ok = matches!(
        parts.next(),
        Some(Protocol::Ip4(_) | Protocol::Ip6(_) | Protocol::Dns(_))
    );
    let tcp_ok = matches!(parts.next(), Some(Protocol::Tcp(_)));
    if !host_ok || !tcp_ok || parts.next().is_some() {
        return Err(error(
            "expected /ip4/<ip>/tcp/<port>/p2p/<peer id> (or /ip6/...)".into(),
        ));
    }
    Ok((peer, addr))
}

impl NetworkConfig {
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        self.limits.check().map_err(ConfigError::Limits)?;
        if self.event_buffer == 0 {
            return Err(ConfigError::Zero("event_buffer"));
        }
        if self.timing.ping_failures_before_close == 0 {
            return Err(ConfigError::Zero("timing.ping_failures_before_close"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_addresses_need_a_peer_id_and_tcp() {
        let id = NodeKey::from_secret_bytes([1; 32]).unwrap().peer_id();
        let (peer, addr) = parse_peer_addr(&format!("/ip4/127.0.0.1/tcp/4000/p2p/{id}")).unwrap();
        assert_eq!(peer, id.0);
        assert_eq!(addr.to_string(), "/ip4/127.0.0.1/tcp/4000");

        let no_id = parse_peer_addr("/ip4/127.0.0.1/tcp/4000").unwrap_err();
        assert!(no_id.to_string().contains("/p2p/"), "{no_id}");
        let udp = parse_peer_addr(&format!("/ip4/127.0.0.1/udp/4000/p2p/{id}")).unwrap_err();
        assert!(udp.to_string().contains("expected"), "{udp}");
        assert!(matches!(
            parse_peer_addr("hello"),
            Err(ConfigError::PeerAddr { .. })
        ));
    }

    #[test]
    fn listen_addresses_are_ip_and_tcp() {
        parse_listen_addr("/ip4/0.0.0.0/tcp/30333").unwrap();
        parse_listen_addr("/ip6/::1/tcp/0").unwrap();
        assert!(parse_listen_addr("/ip4/0.0.0.0/udp/1").is_err());
        assert!(parse_listen_addr("/ip4/0.0.0.0").is_err());
        assert!(parse_listen_addr("0.0.0.0:1").is_err());
    }
}
