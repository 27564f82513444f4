//! The validator's event loop: network events, timers and worker results go into the
//! engine; its effects are performed in order (a record is on disk before the next effect).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use alloy_primitives::Address;
use anyhow::Context;
use kaimeng_consensus::{
    Digest, Effect, Input, Message, Proposal, TimeoutConfig, ValidatorIndex, codec,
};
use kaimeng_crypto::SecretKey;
use kaimeng_genesis::GenesisSpec;
use kaimeng_network::{
    BlockSource, Chain, Network, NetworkConfig, NetworkEvent, NetworkHandle, NodeKey, PeerId, Topic,
};
use kaimeng_shards::wire::{self, WireBlock};
use kaimeng_shards::{ChainEvent, ShardChain};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::HostEvent;
use super::beacon::Beacon;
use super::epoch::{ShardEngine, epoch_engine, record_epoch};
use super::gossip;
use super::records::Records;
use super::worker::{self, Work, Worker};
use crate::metrics::{ChainMetrics, Metrics, VoteKind};

/// How to run one validator (or follower) of one shard.
pub struct ValidatorConfig {
    pub genesis: GenesisSpec,
    pub chain: Arc<ShardChain>,
    /// This member's consensus key; `None` runs a follower that checks and syncs blocks and
    /// serves them, but never votes.
    pub consensus_key: Option<SecretKey>,
    pub node_key: NodeKey,
    /// Multiaddrs to listen on, e.g. `/ip4/127.0.0.1/tcp/0`.
    pub listen: Vec<String>,
    /// Peers to dial, with their `/p2p/` ids.
    pub bootstrap: Vec<String>,
    pub timeouts: TimeoutConfig,
    /// How long a leader with an empty pool waits for a transaction before proposing an
    /// empty block (kept below the base timeout so an idle network does not time out).
    pub idle_block_interval: Duration,
    pub max_txs_per_block: usize,
    pub fee_recipient: Address,
    /// The process's Prometheus metrics (this chain's series and the peer count).
    pub metrics: Arc<Metrics>,
}

/// Live numbers for RPC and metrics.
#[derive(Debug, Default)]
pub struct ValidatorStatus {
    pub view: AtomicU64,
    pub finalized_height: AtomicU64,
    pub views_timed_out: AtomicU64,
    pub messages_received: AtomicU64,
    pub messages_rejected: AtomicU64,
}

pub struct RunningValidator {
    pub network: NetworkHandle,
    /// Governance: the consortium state and its transaction pool.
    pub beacon: Arc<Beacon>,
    pub status: Arc<ValidatorStatus>,
    /// This node's index in the validator set; `None` for a follower.
    pub index: Option<ValidatorIndex>,
    tasks: Vec<JoinHandle<()>>,
    worker: std::thread::JoinHandle<()>,
}

impl RunningValidator {
    /// The multiaddrs peers can dial, with this node's `/p2p/` id.
    pub fn dial_addrs(&self) -> Vec<String> {
        let id = self.network.local_peer_id();
        self.network
            .listen_addrs()
            .into_iter()
            .map(|addr| {
                if addr.contains("/p2p/") {
                    addr
                } else {
                    format!("{addr}/p2p/{id}")
                }
            })
            .collect()
    }

    /// Stops the tasks, then waits for the block worker to finish the block it is writing:
    /// nothing may touch the database once the process starts exiting.
    pub async fn stop(self) {
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks {
            // The host task owns the worker's queue; once it is gone the worker drains and ends.
            let _ = task.await;
        }
        let _ = tokio::task::spawn_blocking(move || self.worker.join()).await;
        self.network.shutdown().await;
    }
}

/// Serves final blocks to peers that sync.
struct ShardBlocks(Arc<ShardChain>);

impl BlockSource for ShardBlocks {
    fn block(&self, chain: Chain, height: u64) -> Option<Vec<u8>> {
        if chain != Chain::Shard(self.0.config().shard) {
            return None;
        }
        let block = self.0.block(height).ok().flatten()?;
        let certificate = self.0.certificate(height).ok().flatten();
        Some(super::sync::encode(&block, certificate))
    }
}

/// Starts the network, the engine and the worker for `config.chain`.
pub async fn start(config: ValidatorConfig) -> anyhow::Result<RunningValidator> {
    let genesis = &config.genesis;
    let suite = crate::consensus_suite(genesis.crypto_suite);
    let chain = config.chain.clone();
    let shard = chain.config().shard;
    let (mut records, stored) = Records::load(chain.store().clone())?;
    let beacon = Arc::new(Beacon::open(chain.clone(), genesis)?);
    let head = chain.head();
    let current = epoch_engine(
        &beacon.finalized(),
        &head,
        config.consensus_key.as_ref(),
        suite,
        shard,
        config.timeouts,
    )?;
    // Records of earlier epochs are void: that epoch's last block is final.
    let stored: Vec<_> = stored
        .into_iter()
        .filter(|r| record_epoch(r) == current.epoch)
        .collect();
    if stored.is_empty() {
        records.prune(u64::MAX)?;
    }
    let index = current.index;
    if config.consensus_key.is_none() {
        tracing::info!(
            "full node: following shard {shard} by checking finality certificates; it holds no consensus key and never votes"
        );
    }
    if config.consensus_key.is_some() && index.is_none() {
        tracing::info!(
            "this key is not a validator of the current epoch: following until governance admits it"
        );
    }
    let priority: Vec<PeerId> = genesis
        .members
        .iter()
        .filter_map(|m| m.peer_id.parse().ok())
        .chain(current.peers.iter().flatten().copied())
        .collect();

    let mut network_config = NetworkConfig::new(config.node_key.clone(), genesis.hash().0);
    network_config.listen = config.listen.clone();
    network_config.bootstrap = config.bootstrap.clone();
    network_config.topics = vec![
        Topic::Consensus(Chain::Shard(shard)),
        Topic::Transactions(Chain::Shard(shard)),
        Topic::Blocks(Chain::Shard(shard)),
        Topic::Transactions(Chain::Beacon),
    ];
    network_config.priority_peers = priority;
    network_config.block_source = Some(Arc::new(ShardBlocks(chain.clone())));
    let (network, events) = Network::start(network_config)
        .await
        .context("starting the p2p network")?;

    let chain_metrics = config.metrics.chain(&Metrics::shard_chain_name(shard));
    let (to_host, host_events) = mpsc::unbounded_channel();
    let (work, work_queue) = mpsc::unbounded_channel();
    let worker = Worker {
        chain: chain.clone(),
        network: network.clone(),
        runtime: tokio::runtime::Handle::current(),
        to_host: to_host.clone(),
        fee_recipient: config.fee_recipient,
        max_txs: config.max_txs_per_block,
        shard,
        metrics: chain_metrics.clone(),
        beacon: beacon.clone(),
    };
    let worker = std::thread::Builder::new()
        .name(format!("shard-{shard}-worker"))
        .spawn(move || worker.run(work_queue))
        .context("starting the block worker")?;

    let status = Arc::new(ValidatorStatus::default());
    status
        .finalized_height
        .store(head.number(), Ordering::Relaxed);
    let host = Host {
        engine: current.engine,
        epoch: current.epoch,
        key: config.consensus_key.clone(),
        suite,
        timeouts: config.timeouts,
        future: Vec::new(),
        last_catch_up: None,
        records,
        network: network.clone(),
        peers: current.peers,
        work,
        to_host,
        bodies: Bodies::default(),
        awaiting: HashMap::new(),
        chain: chain.clone(),
        idle: config.idle_block_interval,
        status: status.clone(),
        shard,
        metrics: chain_metrics.clone(),
        beacon: beacon.clone(),
    };
    let gauges_task = tokio::spawn(sample_gauges(
        chain.clone(),
        network.clone(),
        config.metrics.clone(),
        chain_metrics,
    ));
    let gossip_task = tokio::spawn(gossip::publish_local(chain, network.clone()));
    let host_task = tokio::spawn(host.run(stored, events, host_events));
    tracing::info!(shard, index = ?index, peer = %network.local_peer_id(), "validator started");
    Ok(RunningValidator {
        network,
        beacon,
        status,
        index,
        tasks: vec![gossip_task, host_task, gauges_task],
        worker,
    })
}

/// Proposal bodies received, newest kept (a bounded map).
#[derive(Default)]
struct Bodies {
    order: VecDeque<Digest>,
    blocks: HashMap<Digest, Arc<WireBlock>>,
}

impl Bodies {
    const CAPACITY: usize = 256;

    fn insert(&mut self, digest: Digest, block: Arc<WireBlock>) {
        if self.blocks.insert(digest, block).is_none() {
            self.order.push_back(digest);
        }
        while self.order.len() > Self::CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.blocks.remove(&old);
            }
        }
    }
}

struct Host {
    engine: ShardEngine,
    /// The epoch `engine` orders.
    epoch: u64,
    key: Option<SecretKey>,
    suite: kaimeng_crypto::CryptoSuite,
    timeouts: TimeoutConfig,
    /// Messages of later epochs, replayed when this node's next epoch starts.
    future: Vec<Message>,
    /// When this node last asked for missed blocks.
    last_catch_up: Option<std::time::Instant>,
    records: Records,
    network: NetworkHandle,
    peers: Vec<Option<PeerId>>,
    work: mpsc::UnboundedSender<Work>,
    to_host: mpsc::UnboundedSender<HostEvent>,
    bodies: Bodies,
    /// Proposals to check whose body has not arrived yet.
    awaiting: HashMap<Digest, Proposal>,
    chain: Arc<ShardChain>,
    idle: Duration,
    status: Arc<ValidatorStatus>,
    shard: u32,
    metrics: ChainMetrics,
    beacon: Arc<Beacon>,
}

/// Samples the gauges that have no event of their own: peers and pool size.
async fn sample_gauges(
    chain: Arc<ShardChain>,
    network: NetworkHandle,
    metrics: Arc<Metrics>,
    chain_metrics: ChainMetrics,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        metrics.set_peers(network.peers().len() as u64);
        chain_metrics.set_mempool_transactions(chain.pool().len() as u64);
    }
}

/// Most messages of later epochs kept for replay.
const MAX_FUTURE_MESSAGES: usize = 4096;

impl Host {
    /// Peers are in a later epoch, so this node missed an epoch's end: at most once a second,
    /// ask the worker to fetch the final blocks it lacks (each proven by its certificate).
    fn catch_up_if_behind(&mut self) {
        if self
            .last_catch_up
            .is_some_and(|at| at.elapsed() < Duration::from_secs(1))
        {
            return;
        }
        self.last_catch_up = Some(std::time::Instant::now());
        let _ = self.work.send(Work::CatchUp);
    }

    /// Starts the engine of the epoch that `transition` began: new validators, this node's
    /// new index, anchored at the ended epoch's last block.
    async fn next_epoch(
        &mut self,
        transition: &kaimeng_l1::governance::EpochTransition,
    ) -> Result<(), Fatal> {
        let state = self.beacon.finalized();
        if state.consortium.epoch().epoch <= self.epoch {
            return Ok(());
        }
        // The ended epoch's last block, or a later one when block sync jumped epochs.
        let anchor = self.chain.head();
        if anchor.number() < transition.ended.last_height {
            tracing::error!(
                height = transition.ended.last_height,
                "epoch's last block missing"
            );
            return Err(Fatal);
        }
        let next = match epoch_engine(
            &state,
            &anchor,
            self.key.as_ref(),
            self.suite,
            self.shard,
            self.timeouts,
        ) {
            Ok(next) => next,
            Err(error) => {
                tracing::error!(%error, "cannot start the next epoch's engine");
                return Err(Fatal);
            }
        };
        if self.records.prune(u64::MAX).is_err() {
            return Err(Fatal);
        }
        tracing::info!(
            epoch = next.epoch,
            validators = next.peers.len(),
            index = ?next.index,
            "consensus moves to the next epoch"
        );
        self.engine = next.engine;
        self.epoch = next.epoch;
        self.peers = next.peers;
        self.awaiting.clear();
        let _ = self
            .network
            .set_priority_peers(self.peers.iter().flatten().copied().collect())
            .await;
        let effects = self.engine.start(Vec::new());
        self.perform(effects).await?;
        let future = std::mem::take(&mut self.future);
        for message in future {
            if message.epoch() == self.epoch {
                self.apply(Input::Message(message)).await?;
            } else if message.epoch() > self.epoch {
                self.future.push(message);
            }
        }
        Ok(())
    }
}

/// The engine could not be served safely (its record could not be written); stop.
struct Fatal;

impl Host {
    async fn run(
        mut self,
        stored: Vec<kaimeng_consensus::Record>,
        mut network_events: mpsc::Receiver<NetworkEvent>,
        mut host_events: mpsc::UnboundedReceiver<HostEvent>,
    ) {
        let effects = self.engine.start(stored);
        if self.perform(effects).await.is_err() {
            return;
        }
        loop {
            let outcome = tokio::select! {
                Some(event) = network_events.recv() => self.on_network(event).await,
                Some(event) = host_events.recv() => match event {
                    HostEvent::Engine(input) => self.apply(input).await,
                    HostEvent::Timeout { epoch, timer } if epoch == self.epoch => {
                        self.apply(Input::Timeout(timer)).await
                    }
                    HostEvent::Timeout { .. } => Ok(()),
                    HostEvent::Body(block, digest) => self.on_body(digest, block),
                    HostEvent::Epoch(transition) => self.next_epoch(&transition).await,
                },
                else => return,
            };
            if outcome.is_err() {
                tracing::error!(
                    shard = self.shard,
                    "consensus stopped: cannot persist a vote"
                );
                return;
            }
        }
    }

    async fn apply(&mut self, input: Input) -> Result<(), Fatal> {
        if let Input::Timeout(timer) = &input {
            if timer.view == self.engine.view() {
                self.status.views_timed_out.fetch_add(1, Ordering::Relaxed);
                self.metrics.round_timed_out();
                tracing::info!(
                    shard = self.shard,
                    view = timer.view,
                    attempt = timer.attempt,
                    leader = self.engine.leader(timer.view),
                    waiting_for_body = self.awaiting.values().any(|p| p.view == timer.view),
                    peers = self.network.peers().len(),
                    "view timed out without a notarization; voting to skip it"
                );
            }
        }
        if let Input::Message(message) = &input {
            let epoch = message.epoch();
            if epoch > self.epoch {
                if self.future.len() < MAX_FUTURE_MESSAGES {
                    self.future.push(message.clone());
                }
                self.catch_up_if_behind();
                return Ok(());
            }
        }
        let is_message = matches!(input, Input::Message(_));
        if let Input::Message(Message::Vote(vote)) = &input {
            self.metrics.vote_received(VoteKind::from(&vote.vote));
        }
        match self.engine.apply(input) {
            Ok(effects) => {
                self.status
                    .view
                    .store(self.engine.view(), Ordering::Relaxed);
                self.metrics.set_view(self.engine.view());
                self.perform(effects).await
            }
            Err(rejection) => {
                if is_message {
                    self.status
                        .messages_rejected
                        .fetch_add(1, Ordering::Relaxed);
                }
                tracing::debug!(?rejection, "engine refused an input");
                Ok(())
            }
        }
    }

    async fn on_network(&mut self, event: NetworkEvent) -> Result<(), Fatal> {
        let (from, topic, data) = match event {
            NetworkEvent::Gossip {
                from, topic, data, ..
            }
            | NetworkEvent::Direct { from, topic, data } => (from, topic, data),
            NetworkEvent::PeerConnected(peer) => {
                tracing::debug!(%peer, "peer connected");
                return Ok(());
            }
            NetworkEvent::PeerDisconnected(peer) => {
                tracing::debug!(%peer, "peer disconnected");
                return Ok(());
            }
            NetworkEvent::PeerBanned { peer, duration } => {
                tracing::warn!(%peer, ?duration, "peer banned for flooding");
                return Ok(());
            }
        };
        match topic {
            Topic::Consensus(_) => {
                self.status
                    .messages_received
                    .fetch_add(1, Ordering::Relaxed);
                match codec::decode_message(&data) {
                    Ok(message) => self.apply(Input::Message(message)).await?,
                    Err(error) => {
                        self.status
                            .messages_rejected
                            .fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(%from, ?error, "undecodable consensus message");
                    }
                }
            }
            Topic::Blocks(_) => {
                let chain = self.chain.clone();
                let to_host = self.to_host.clone();
                tokio::task::spawn_blocking(move || {
                    // Pooled transactions were checked when they arrived: skip recovering them.
                    let decoded =
                        wire::decode_block_with(&data, chain.config().chain_id, |hashes| {
                            let pool = chain.pool();
                            hashes.iter().map(|hash| pool.get(hash)).collect()
                        });
                    match decoded {
                        Ok(block) => {
                            let digest = worker::digest(block.header.hash_slow());
                            let _ = to_host.send(HostEvent::Body(Arc::new(block), digest));
                        }
                        Err(error) => tracing::debug!(%from, %error, "invalid proposal body"),
                    }
                });
            }
            Topic::Transactions(Chain::Beacon) => {
                match kaimeng_l1::governance::SignedGovernanceTx::decode(&data) {
                    Ok(tx) => {
                        if let Err(error) = self.beacon.submit(tx) {
                            tracing::debug!(%from, %error, "governance transaction not pooled");
                        }
                    }
                    Err(error) => {
                        tracing::debug!(%from, %error, "undecodable governance transaction")
                    }
                }
            }
            Topic::Transactions(_) => {
                let chain = self.chain.clone();
                tokio::task::spawn_blocking(move || {
                    if let Err(error) = gossip::pool_remote(&chain, &data) {
                        tracing::debug!(%from, %error, "invalid transaction batch");
                    }
                });
            }
        }
        Ok(())
    }

    fn on_body(&mut self, digest: Digest, block: Arc<WireBlock>) -> Result<(), Fatal> {
        if let Some(proposal) = self.awaiting.remove(&digest) {
            let _ = self.work.send(Work::Verify {
                proposal,
                block: block.clone(),
            });
        }
        self.bodies.insert(digest, block);
        Ok(())
    }

    async fn perform(&mut self, effects: Vec<Effect>) -> Result<(), Fatal> {
        for effect in effects {
            match effect {
                Effect::Persist(record) => {
                    if let Err(error) = self.records.append(&record) {
                        tracing::error!(%error, "cannot persist a consensus record");
                        return Err(Fatal);
                    }
                }
                Effect::Broadcast(message) => self.broadcast(&message).await,
                Effect::SendTo { to, message } => self.send_to(to, &message),
                Effect::ScheduleTimeout { timer, after } => {
                    // Timers name views, and views restart every epoch: a timer carries the
                    // epoch it was set in and is dropped if another epoch runs when it fires.
                    let to_host = self.to_host.clone();
                    let epoch = self.epoch;
                    tokio::spawn(async move {
                        tokio::time::sleep(after).await;
                        let _ = to_host.send(HostEvent::Timeout { epoch, timer });
                    });
                }
                Effect::RequestPayload {
                    view,
                    parent,
                    height,
                } => self.request_payload(view, parent.digest, height),
                Effect::VerifyPayload { proposal } => self.verify_payload(proposal),
                Effect::Finalized { proposal, .. } if proposal.is_padding() => {}
                Effect::Finalized {
                    proposal,
                    certificate,
                } => {
                    self.status
                        .finalized_height
                        .fetch_max(proposal.height, Ordering::Relaxed);
                    self.awaiting.retain(|_, p| p.height > proposal.height);
                    let _ = self.work.send(Work::Finalize {
                        height: proposal.height,
                        digest: proposal.payload,
                        certificate: codec::encode_certificate(&certificate),
                    });
                }
                Effect::EpochEnded { .. } => {
                    tracing::info!(shard = self.shard, "epoch ended");
                }
                Effect::Fault(evidence) => {
                    tracing::warn!(
                        validator = evidence.first.signer,
                        "validator signed conflicting votes (evidence kept in the log)"
                    );
                }
                Effect::Prune { below_view } => {
                    if let Err(error) = self.records.prune(below_view) {
                        tracing::warn!(%error, "cannot prune consensus records");
                    }
                }
            }
        }
        Ok(())
    }

    async fn broadcast(&self, message: &Message) {
        let topic = Topic::Consensus(Chain::Shard(self.shard));
        if let Err(error) = self
            .network
            .publish(topic, codec::encode_message(message))
            .await
        {
            tracing::debug!(%error, "consensus message not published");
        }
    }

    fn send_to(&self, to: ValidatorIndex, message: &Message) {
        let Some(Some(peer)) = self.peers.get(to as usize).copied() else {
            return;
        };
        let network = self.network.clone();
        let topic = Topic::Consensus(Chain::Shard(self.shard));
        let bytes = codec::encode_message(message);
        tokio::spawn(async move {
            if let Err(error) = network.send_to(peer, topic, bytes).await {
                tracing::debug!(%peer, %error, "direct consensus message not delivered");
            }
        });
    }

    /// Asks the worker for a block, after waiting (up to the idle interval) for an executable
    /// transaction when the pool has none. Transactions queued behind a nonce gap do not end
    /// the wait: they cannot go into the block, and proposing early for them would seal empty
    /// blocks as fast as consensus allows.
    fn request_payload(&self, view: u64, parent: Digest, height: u64) {
        let chain = self.chain.clone();
        let work = self.work.clone();
        let idle = self.idle;
        tokio::spawn(async move {
            let mut events = chain.subscribe();
            if !chain.has_executable() {
                let _ = tokio::time::timeout(idle, async {
                    loop {
                        match events.recv().await {
                            Ok(ChainEvent::PendingTx(hash)) if chain.is_executable(&hash) => return,
                            Err(RecvError::Lagged(_)) if chain.has_executable() => return,
                            Err(RecvError::Closed) => return,
                            Ok(_) | Err(RecvError::Lagged(_)) => {}
                        }
                    }
                })
                .await;
            }
            let _ = work.send(Work::Build {
                view,
                parent,
                height,
            });
        });
    }

    fn verify_payload(&mut self, proposal: Proposal) {
        if let Some(block) = self.bodies.blocks.get(&proposal.payload) {
            let _ = self.work.send(Work::Verify {
                proposal,
                block: block.clone(),
            });
        } else {
            // Our own proposal, a block already checked, or one kept before a restart: the
            // worker finds it. Otherwise its body is still on the way.
            let _ = self.work.send(Work::VerifyKept { proposal });
            self.awaiting.insert(proposal.payload, proposal);
        }
    }
}
