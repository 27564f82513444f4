//! The node's side of the network: [`NetworkHandle`] (commands), [`NetworkEvent`] (what
//! arrives), and the typed errors of each command. No libp2p type appears here.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::peer::PeerId;
use crate::stats::{NetworkStats, Shared};
use crate::topic::{Chain, Topic};
use crate::wire::Refusal;

/// What the network hands to the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetworkEvent {
    /// A gossip message. `from` is the neighbour that delivered it (authenticated by Noise),
    /// not necessarily its author: the node checks the payload's own signature. With
    /// `NetworkConfig::node_validation` on, the message is forwarded to other peers only once
    /// the node reports `Validation::Accept` for `id` ([`NetworkHandle::validate`]).
    Gossip {
        from: PeerId,
        topic: Topic,
        data: Vec<u8>,
        id: GossipId,
    },
    /// A message sent to this node only (`NetworkHandle::send_to`); `from` is its sender.
    Direct {
        from: PeerId,
        topic: Topic,
        data: Vec<u8>,
    },
    PeerConnected(PeerId),
    PeerDisconnected(PeerId),
    /// A peer kept exceeding its limits; its connections are closed and refused for `duration`.
    PeerBanned {
        peer: PeerId,
        duration: Duration,
    },
}

/// Names one received gossip message, for [`NetworkHandle::validate`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GossipId {
    pub(crate) message: libp2p::gossipsub::MessageId,
    pub(crate) from: libp2p::PeerId,
}

/// The node's verdict on a gossip message (with `NetworkConfig::node_validation` on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validation {
    /// Valid: forward it to the mesh.
    Accept,
    /// Invalid (bad signature, not from a member, undecodable): drop it, and charge the peer
    /// that delivered it a strike.
    Reject,
    /// Not invalid but not worth forwarding (stale, duplicate at the application level).
    Ignore,
}

/// The network service has stopped (shut down, or its task ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the network service has stopped")]
pub struct Stopped;

/// Why publishing a gossip message failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// No connected peer is subscribed to the topic (normal for a lone node).
    #[error("no connected peer is subscribed to {0}")]
    NoPeers(Topic),
    #[error("message of {len} bytes exceeds the {max}-byte cap of {topic}")]
    TooLarge {
        topic: Topic,
        len: usize,
        max: usize,
    },
    #[error("gossip send queues are full")]
    QueuesFull,
    #[error("publish failed: {0}")]
    Other(String),
    #[error(transparent)]
    Stopped(#[from] Stopped),
}

/// How a request to a peer failed in transport.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestFailure {
    #[error("could not connect to the peer")]
    DialFailure,
    #[error("no response within the request timeout")]
    Timeout,
    #[error("the connection closed before the response")]
    ConnectionClosed,
    #[error("the peer does not speak this network's request protocol")]
    UnsupportedProtocol,
    /// Includes responses that were malformed or over the size cap.
    #[error("stream error: {0}")]
    Io(String),
}

/// Why a block sync request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    #[error("invalid range {from}..={to}: from is above to")]
    InvalidRange { from: u64, to: u64 },
    #[error("range {from}..={to} asks for more than {max} blocks in one request")]
    RangeTooLarge { from: u64, to: u64, max: u64 },
    #[error("the peer refused: {0}")]
    Refused(Refusal),
    #[error("the peer answered a request for {requested} blocks with {got}")]
    TooManyBlocks { requested: u64, got: u64 },
    #[error("the peer answered with an unexpected response type")]
    UnexpectedResponse,
    #[error(transparent)]
    Failed(#[from] RequestFailure),
    #[error(transparent)]
    Stopped(#[from] Stopped),
}

/// Why a direct message failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("message of {len} bytes exceeds the {max}-byte cap of {topic}")]
    TooLarge {
        topic: Topic,
        len: usize,
        max: usize,
    },
    #[error("the peer refused: {0}")]
    Refused(Refusal),
    #[error("the peer answered with an unexpected response type")]
    UnexpectedResponse,
    #[error(transparent)]
    Failed(#[from] RequestFailure),
    #[error(transparent)]
    Stopped(#[from] Stopped),
}

pub(crate) enum Command {
    Publish {
        topic: Topic,
        data: Vec<u8>,
        reply: oneshot::Sender<Result<(), PublishError>>,
    },
    SendTo {
        peer: PeerId,
        topic: Topic,
        data: Vec<u8>,
        reply: oneshot::Sender<Result<(), SendError>>,
    },
    RequestBlocks {
        peer: PeerId,
        chain: Chain,
        from: u64,
        to: u64,
        reply: oneshot::Sender<Result<Vec<Vec<u8>>, SyncError>>,
    },
    RequestSnapshotPart {
        peer: PeerId,
        chain: Chain,
        height: u64,
        part: u32,
        reply: oneshot::Sender<Result<Vec<Vec<u8>>, SyncError>>,
    },
    RequestMessages {
        peer: PeerId,
        source: u32,
        destination: u32,
        from: u64,
        reply: oneshot::Sender<Result<Vec<Vec<u8>>, SyncError>>,
    },
    RequestTransactions {
        peer: PeerId,
        chain: Chain,
        hashes: Vec<[u8; 32]>,
        reply: oneshot::Sender<Result<Vec<Vec<u8>>, SyncError>>,
    },
    Subscribe {
        topic: Topic,
        reply: oneshot::Sender<()>,
    },
    Unsubscribe {
        topic: Topic,
        reply: oneshot::Sender<()>,
    },
    Validate {
        id: GossipId,
        validation: Validation,
    },
    MeshPeers {
        topic: Topic,
        reply: oneshot::Sender<Vec<PeerId>>,
    },
    KnownAddresses {
        peer: PeerId,
        reply: oneshot::Sender<Vec<String>>,
    },
    SetPriorityPeers {
        peers: Vec<PeerId>,
        reply: oneshot::Sender<()>,
    },
    AddPeer {
        peer: libp2p::PeerId,
        addr: libp2p::Multiaddr,
        reply: oneshot::Sender<()>,
    },
    Block {
        peer: PeerId,
        reply: oneshot::Sender<()>,
    },
    Unblock {
        peer: PeerId,
        reply: oneshot::Sender<()>,
    },
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

/// Commands the running network. Cheap to clone; the service stops when every handle is
/// dropped or on [`NetworkHandle::shutdown`].
#[derive(Clone, Debug)]
pub struct NetworkHandle {
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) local_peer_id: PeerId,
}

impl NetworkHandle {
    async fn call<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, Stopped> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| Stopped)?;
        answer.await.map_err(|_| Stopped)
    }

    pub fn local_peer_id(&self) -> PeerId {
        self.local_peer_id
    }

    /// The addresses this node listens on, with `/p2p/<its peer id>`: what other nodes put in
    /// their bootstrap list.
    pub fn listen_addrs(&self) -> Vec<String> {
        self.shared.listen_addrs.lock().clone()
    }

    /// Connected peers.
    pub fn peers(&self) -> Vec<PeerId> {
        self.shared.peers.lock().iter().copied().collect()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> NetworkStats {
        let mut stats = self.shared.stats.lock().clone();
        stats.connected_peers = self.shared.peers.lock().len() as u64;
        stats
    }

    /// Gossips `data` on `topic` to the peers subscribed to it.
    pub async fn publish(&self, topic: Topic, data: Vec<u8>) -> Result<(), PublishError> {
        self.call(|reply| Command::Publish { topic, data, reply })
            .await?
    }

    /// Sends `data` to one peer (dialling it if an address is known) and waits for its ack.
    /// It arrives there as [`NetworkEvent::Direct`], under the same limits as gossip.
    pub async fn send_to(
        &self,
        peer: PeerId,
        topic: Topic,
        data: Vec<u8>,
    ) -> Result<(), SendError> {
        self.call(|reply| Command::SendTo {
            peer,
            topic,
            data,
            reply,
        })
        .await?
    }

    /// Fetches the blocks of `chain` at heights `from..=to` from `peer`'s [`crate::BlockSource`].
    /// The answer is the longest prefix of the range the peer has and fits its response cap
    /// (possibly empty); ask again from the next height for the rest.
    pub async fn request_blocks(
        &self,
        peer: PeerId,
        chain: Chain,
        from: u64,
        to: u64,
    ) -> Result<Vec<Vec<u8>>, SyncError> {
        self.call(|reply| Command::RequestBlocks {
            peer,
            chain,
            from,
            to,
            reply,
        })
        .await?
    }

    /// Fetches part `part` of `chain`'s state snapshot at `height` from `peer`'s
    /// [`crate::BlockSource::snapshot_part`]: `None` when the peer does not serve it (or not
    /// yet). The caller checks what it gets.
    pub async fn request_snapshot_part(
        &self,
        peer: PeerId,
        chain: Chain,
        height: u64,
        part: u32,
    ) -> Result<Option<Vec<u8>>, SyncError> {
        let answer = self
            .call(|reply| Command::RequestSnapshotPart {
                peer,
                chain,
                height,
                part,
                reply,
            })
            .await??;
        Ok(answer.into_iter().next())
    }

    /// Fetches the cross-shard messages shard `source` sent to `destination` from nonce `from`
    /// on from `peer` ([`crate::BlockSource::messages`]): `None` when it does not hold
    /// `source`. The caller checks what it gets.
    pub async fn request_messages(
        &self,
        peer: PeerId,
        source: u32,
        destination: u32,
        from: u64,
    ) -> Result<Option<Vec<u8>>, SyncError> {
        let answer = self
            .call(|reply| Command::RequestMessages {
                peer,
                source,
                destination,
                from,
                reply,
            })
            .await??;
        Ok(answer.into_iter().next())
    }

    /// Fetches the transactions of `chain` with these hashes from `peer`'s pool
    /// ([`crate::BlockSource::transactions`]): those it holds, at most
    /// [`crate::Limits::max_blocks_per_request`] hashes a request. The caller checks what it
    /// gets against the hashes.
    pub async fn request_transactions(
        &self,
        peer: PeerId,
        chain: Chain,
        hashes: Vec<[u8; 32]>,
    ) -> Result<Vec<Vec<u8>>, SyncError> {
        self.call(|reply| Command::RequestTransactions {
            peer,
            chain,
            hashes,
            reply,
        })
        .await?
    }

    /// Reports the node's verdict on a gossip message. Only needed with
    /// `NetworkConfig::node_validation` on (otherwise the network has already forwarded it, and
    /// this does nothing). A message never validated is dropped from gossipsub's cache after a
    /// few heartbeats without being forwarded.
    pub async fn validate(&self, id: GossipId, validation: Validation) -> Result<(), Stopped> {
        self.commands
            .send(Command::Validate { id, validation })
            .await
            .map_err(|_| Stopped)
    }

    pub async fn subscribe(&self, topic: Topic) -> Result<(), Stopped> {
        self.call(|reply| Command::Subscribe { topic, reply }).await
    }

    pub async fn unsubscribe(&self, topic: Topic) -> Result<(), Stopped> {
        self.call(|reply| Command::Unsubscribe { topic, reply })
            .await
    }

    /// The peers in this node's gossip mesh for `topic`: the ones it forwards that topic's
    /// messages to. Empty until the mesh forms (a gossip heartbeat after peers subscribe).
    pub async fn mesh_peers(&self, topic: Topic) -> Result<Vec<PeerId>, Stopped> {
        self.call(|reply| Command::MeshPeers { topic, reply }).await
    }

    /// The addresses this node would dial `peer` at: configured ones, then those the peer
    /// announced (identify) or we reached it at. Empty for a peer it cannot redial.
    pub async fn known_addresses(&self, peer: PeerId) -> Result<Vec<String>, Stopped> {
        self.call(|reply| Command::KnownAddresses { peer, reply })
            .await
    }

    /// Replaces the set of priority peers (the current member validators): they are redialled
    /// whenever their connection drops (given a known address: from the bootstrap list,
    /// [`NetworkHandle::add_peer`], or what they announced via identify), bypass the inbound
    /// connection limit, and are throttled but never banned.
    pub async fn set_priority_peers(&self, peers: Vec<PeerId>) -> Result<(), Stopped> {
        self.call(|reply| Command::SetPriorityPeers { peers, reply })
            .await
    }

    /// Closes every connection to `peer` and refuses new ones, priority peer or not, until
    /// [`NetworkHandle::unblock_peer`] (an operator's deny list; also how tests partition).
    pub async fn block_peer(&self, peer: PeerId) -> Result<(), Stopped> {
        self.call(|reply| Command::Block { peer, reply }).await
    }

    /// Lifts [`NetworkHandle::block_peer`]; a wanted peer (priority or bootstrap) is dialled
    /// again.
    pub async fn unblock_peer(&self, peer: PeerId) -> Result<(), Stopped> {
        self.call(|reply| Command::Unblock { peer, reply }).await
    }

    /// Adds a peer to keep connected, as a bootstrap entry would
    /// (`/ip4/<ip>/tcp/<port>/p2p/<peer id>`).
    pub async fn add_peer(&self, addr: &str) -> Result<(), AddPeerError> {
        let (peer, addr) = crate::config::parse_peer_addr(addr)?;
        self.call(|reply| Command::AddPeer { peer, addr, reply })
            .await?;
        Ok(())
    }

    /// Stops the service: connections close, listeners shut. Returns once it has stopped.
    pub async fn shutdown(&self) {
        let _ = self.call(|reply| Command::Shutdown { reply }).await;
    }
}

/// Why [`NetworkHandle::add_peer`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddPeerError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Stopped(#[from] Stopped),
}
