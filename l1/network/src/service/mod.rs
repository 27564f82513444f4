//! The network task: owns the libp2p swarm and runs one loop over swarm events, the handles'
//! commands, finished block reads and a housekeeping tick. Everything the node sees goes
//! through [`Network::start`]'s handle and event channel.
//!
//! - `commands.rs`: what the handle asks (publish, send, sync, subscriptions, peers).
//! - `inbound.rs`: gossip and requests from peers, through the limiter.
//! - `peers.rs`: connections, dialling with backoff, bans, identify and ping.

mod commands;
mod inbound;
mod peers;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::request_response::{OutboundRequestId, ResponseChannel};
use libp2p::swarm::{ConnectionId, SwarmEvent};
use libp2p::{Multiaddr, Swarm, gossipsub};
use tokio::sync::{mpsc, oneshot};

use crate::behaviour::{Behaviour, BehaviourEvent, BuildError, build_swarm};
use crate::config::{
    BlockSource, ConfigError, NetworkConfig, Timing, parse_listen_addr, parse_peer_addr,
};
use crate::handle::{Command, NetworkEvent, NetworkHandle, SendError, SyncError};
use crate::limits::{Limits, PeerLimiter};
use crate::peer::PeerId;
use crate::redial::Redial;
use crate::stats::{NetworkStats, Shared};
use crate::topic::{NetworkId, Topic};
use crate::wire::Response;

/// How often bans expire, due dials start and idle limiter entries go.
const TICK: Duration = Duration::from_millis(100);
/// How long `start` waits for its listeners to bind.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);
/// Addresses remembered per peer.
const MAX_ADDRESSES_PER_PEER: usize = 8;

/// Why the network could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: String, reason: String },
}

/// The entry point: [`Network::start`].
pub struct Network;

impl Network {
    /// Starts the network on the current tokio runtime: binds the listeners (returning once
    /// they are bound), subscribes the configured topics and dials the bootstrap peers.
    pub async fn start(
        config: NetworkConfig,
    ) -> Result<(NetworkHandle, mpsc::Receiver<NetworkEvent>), StartError> {
        config.check()?;
        let listen = config
            .listen
            .iter()
            .map(|addr| parse_listen_addr(addr))
            .collect::<Result<Vec<_>, _>>()?;
        let bootstrap = config
            .bootstrap
            .iter()
            .map(|addr| parse_peer_addr(addr))
            .collect::<Result<Vec<_>, _>>()?;
        let network = NetworkId::from_genesis_hash(&config.genesis_hash);
        let mut swarm = build_swarm(&config, &network)?;
        let local_peer_id = *swarm.local_peer_id();

        let mut pending_listeners = HashSet::new();
        for addr in &listen {
            let id = swarm
                .listen_on(addr.clone())
                .map_err(|e| StartError::Listen {
                    addr: addr.to_string(),
                    reason: e.to_string(),
                })?;
            pending_listeners.insert(id);
        }
        // Drive the swarm until every listener has an address; keep anything else for later.
        let mut early_events = Vec::new();
        let bound = tokio::time::timeout(LISTEN_TIMEOUT, async {
            while !pending_listeners.is_empty() {
                match swarm.select_next_some().await {
                    SwarmEvent::NewListenAddr {
                        listener_id,
                        address,
                    } => {
                        pending_listeners.remove(&listener_id);
                        early_events.push(SwarmEvent::NewListenAddr {
                            listener_id,
                            address,
                        });
                    }
                    SwarmEvent::ListenerError { error, .. } => {
                        return Err(StartError::Listen {
                            addr: format!("{listen:?}"),
                            reason: error.to_string(),
                        });
                    }
                    SwarmEvent::ListenerClosed { reason, .. } => {
                        return Err(StartError::Listen {
                            addr: format!("{listen:?}"),
                            reason: format!("listener closed: {reason:?}"),
                        });
                    }
                    other => early_events.push(other),
                }
            }
            Ok(())
        })
        .await;
        match bound {
            Ok(result) => result?,
            Err(_) => {
                return Err(StartError::Listen {
                    addr: format!("{listen:?}"),
                    reason: format!("no address within {LISTEN_TIMEOUT:?}"),
                });
            }
        }

        let (command_tx, command_rx) = mpsc::channel(1024);
        let (event_tx, event_rx) = mpsc::channel(config.event_buffer);
        let (reads_tx, reads_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::default());
        let mut service = Service {
            swarm,
            network,
            limits: config.limits,
            timing: config.timing,
            node_validation: config.node_validation,
            local_peer_id,
            commands: command_rx,
            events: event_tx,
            shared: shared.clone(),
            limiter: PeerLimiter::new(config.limits),
            redial: Redial::new(config.reconnect),
            addresses: HashMap::new(),
            bootstrap: HashSet::new(),
            priority: HashSet::new(),
            bans: HashMap::new(),
            blocked: HashSet::new(),
            topics: HashSet::new(),
            pending: HashMap::new(),
            block_source: config.block_source.clone(),
            block_reads: 0,
            reads_done_tx: reads_tx,
            reads_done: reads_rx,
            ping_failures: HashMap::new(),
        };
        for event in early_events {
            service.on_swarm_event(event);
        }
        for topic in &config.topics {
            service.subscribe(*topic);
        }
        for (peer, addr) in bootstrap {
            service.add_peer(peer, addr);
        }
        service.set_priority_peers(&config.priority_peers);
        tokio::spawn(service.run());

        let handle = NetworkHandle {
            commands: command_tx,
            shared,
            local_peer_id: PeerId(local_peer_id),
        };
        Ok((handle, event_rx))
    }
}

/// An outbound request waiting for its response.
enum Pending {
    Blocks {
        requested: u64,
        reply: oneshot::Sender<Result<Vec<Vec<u8>>, SyncError>>,
    },
    Direct {
        reply: oneshot::Sender<Result<(), SendError>>,
    },
}

/// A finished read of the block source, to be sent back on the request's stream.
type BlockRead = (ResponseChannel<Response>, Response);

struct Service {
    swarm: Swarm<Behaviour>,
    network: NetworkId,
    limits: Limits,
    timing: Timing,
    node_validation: bool,
    local_peer_id: libp2p::PeerId,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<NetworkEvent>,
    shared: Arc<Shared>,
    limiter: PeerLimiter<libp2p::PeerId>,
    redial: Redial<libp2p::PeerId>,
    /// Known addresses of peers: configured ones first, then what identify taught us.
    addresses: HashMap<libp2p::PeerId, Vec<Multiaddr>>,
    bootstrap: HashSet<libp2p::PeerId>,
    priority: HashSet<libp2p::PeerId>,
    /// Banned peers and when their ban ends.
    bans: HashMap<libp2p::PeerId, Instant>,
    /// Peers the operator blocked (`NetworkHandle::block_peer`); no expiry.
    blocked: HashSet<libp2p::PeerId>,
    topics: HashSet<Topic>,
    pending: HashMap<OutboundRequestId, Pending>,
    block_source: Option<Arc<dyn BlockSource>>,
    /// Block source reads under way.
    block_reads: usize,
    reads_done_tx: mpsc::UnboundedSender<BlockRead>,
    reads_done: mpsc::UnboundedReceiver<BlockRead>,
    /// Consecutive ping failures per connection.
    ping_failures: HashMap<ConnectionId, u32>,
}

impl Service {
    async fn run(mut self) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stopped: Option<oneshot::Sender<()>> = None;
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                command = self.commands.recv() => match command {
                    None => break,
                    Some(Command::Shutdown { reply }) => {
                        stopped = Some(reply);
                        break;
                    }
                    Some(command) => self.on_command(command),
                },
                Some((channel, response)) = self.reads_done.recv() => {
                    self.block_reads = self.block_reads.saturating_sub(1);
                    // The requester may have gone; then there is nobody to answer.
                    let _ = self.swarm.behaviour_mut().requests.send_response(channel, response);
                }
                _ = tick.tick() => self.on_tick(),
            }
        }
        tracing::debug!(peer = %self.local_peer_id, "network stopping");
        self.shared.peers.lock().clear();
        self.shared.listen_addrs.lock().clear();
        // Dropping the swarm closes listeners and connections before the caller hears back.
        drop(self);
        if let Some(reply) = stopped {
            let _ = reply.send(());
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(event) => match event {
                BehaviourEvent::Gossipsub(event) => self.on_gossipsub(event),
                BehaviourEvent::Requests(event) => self.on_request_event(event),
                BehaviourEvent::Identify(event) => self.on_identify(event),
                BehaviourEvent::Ping(event) => self.on_ping(event),
                BehaviourEvent::Banned(never) => match never {},
                BehaviourEvent::ConnectionLimits(never) => match never {},
            },
            SwarmEvent::ConnectionEstablished {
                peer_id,
                endpoint,
                num_established,
                ..
            } => self.on_connected(peer_id, &endpoint, num_established.get()),
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                num_established,
                cause,
                ..
            } => self.on_disconnected(peer_id, connection_id, num_established, cause),
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                self.on_dial_failed(peer_id, &error)
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                let full = format!("{address}/p2p/{}", self.local_peer_id);
                tracing::info!(address = %full, "listening");
                let mut addrs = self.shared.listen_addrs.lock();
                if !addrs.contains(&full) {
                    addrs.push(full);
                }
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                let full = format!("{address}/p2p/{}", self.local_peer_id);
                self.shared.listen_addrs.lock().retain(|a| *a != full);
            }
            _ => {}
        }
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        self.expire_bans(now);
        for peer in self.redial.take_due(now) {
            self.dial(peer, now);
        }
        let swarm = &self.swarm;
        self.limiter.prune(now, |peer| swarm.is_connected(peer));
    }

    /// Hands an event to the node, or counts it as dropped if the node is behind.
    fn emit(&mut self, event: NetworkEvent) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.events.try_send(event) {
            self.stats(|s| s.dropped_events += 1);
        }
    }

    fn stats(&self, update: impl FnOnce(&mut NetworkStats)) {
        update(&mut self.shared.stats.lock());
    }

    fn topic_hash(&self, topic: Topic) -> gossipsub::TopicHash {
        gossipsub::IdentTopic::new(self.network.topic_name(topic)).hash()
    }
}
