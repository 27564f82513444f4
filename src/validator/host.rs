//! A consensus host: one per chain a node serves (the beacon chain and each shard). Its event
//! loop feeds the chain's network messages, timers and worker results into the engine and
//! performs the engine's effects in order (a record is on disk before the next effect). What is
//! particular to a chain is behind [`Application`]; the host never blocks on it: building,
//! checking, finalizing and syncing run on the chain's own worker thread.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kaimeng_consensus::{
    Anchor, Config, Digest, Effect, Engine, Input, Message, Proposal, Record, TimeoutConfig,
    ValidatorIndex, codec,
};
use kaimeng_crypto::{CryptoSuite, SecretKey};
use kaimeng_network::{NetworkEvent, NetworkHandle, PeerId, Topic};
use tokio::sync::mpsc;

use super::app::{Application, EpochPlan};
use super::body_fetch;
use super::crypto::{SuiteSigner, SuiteVerifier};
use super::records::Records;
use super::worker::Work;
use crate::metrics::{ChainMetrics, VoteKind};

pub type ChainEngine = Engine<SuiteSigner, SuiteVerifier>;

/// Live numbers of one chain for RPC and metrics.
#[derive(Debug, Default)]
pub struct ValidatorStatus {
    pub view: AtomicU64,
    pub finalized_height: AtomicU64,
    pub views_timed_out: AtomicU64,
    pub messages_received: AtomicU64,
    pub messages_rejected: AtomicU64,
}

/// What a host's loop reacts to besides network events.
pub enum HostEvent<B> {
    /// An input for the engine (a payload was built or checked).
    Engine(Input),
    /// A proposal body decoded off the network.
    Body(Arc<B>, Digest),
    /// A timer the engine of `epoch` scheduled fired.
    Timeout {
        epoch: u64,
        timer: kaimeng_consensus::Timer,
    },
    /// The chain's finalized head moved to this height.
    Finalized(u64),
}

/// Whether `key`'s public key is `encoded` (compressed or uncompressed SEC1).
pub fn is_key(key: &SecretKey, encoded: &[u8]) -> bool {
    let public = key.public_key();
    encoded == public.to_bytes().as_slice() || encoded == public.to_uncompressed().as_slice()
}

/// An epoch's engine and who is who in it.
pub struct EpochEngine {
    pub engine: ChainEngine,
    pub epoch: u64,
    pub last_height: u64,
    /// This node's index; `None` when it is not a validator this epoch.
    pub index: Option<ValidatorIndex>,
    /// The peer behind each validator index.
    pub peers: Vec<Option<PeerId>>,
}

/// The engine of `plan`'s epoch, anchored at the finalized head `(height, digest)`.
pub fn epoch_engine(
    plan: EpochPlan,
    namespace: Vec<u8>,
    anchor: (u64, Digest),
    key: Option<&SecretKey>,
    suite: CryptoSuite,
    timeouts: TimeoutConfig,
) -> EpochEngine {
    let index = key.and_then(|key| {
        plan.validators
            .members()
            .iter()
            .position(|m| is_key(key, &m.0))
            .map(|i| i as ValidatorIndex)
    });
    let mut config = Config::new(
        namespace,
        plan.epoch,
        plan.validators.clone(),
        index,
        Anchor {
            height: anchor.0,
            digest: anchor.1,
        },
    );
    config.last_height = Some(plan.last_height);
    config.timeouts = timeouts;
    let signer = SuiteSigner(
        key.cloned()
            .unwrap_or_else(|| SecretKey::from_seed(suite, &[1; 32])),
    );
    EpochEngine {
        engine: Engine::new(config, signer, SuiteVerifier::new(suite, &plan.validators)),
        epoch: plan.epoch,
        last_height: plan.last_height,
        index,
        peers: plan.peers,
    }
}

/// For each finalization certificate (by view) among `effects`, the height of the highest
/// real block it is reported for: the engine reports a certificate's notarized ancestors with
/// it, oldest first.
fn highest_finalized(effects: &[Effect]) -> HashMap<u64, u64> {
    let mut highest = HashMap::new();
    for effect in effects {
        if let Effect::Finalized {
            proposal,
            certificate,
        } = effect
            && !proposal.is_padding()
        {
            let top = highest.entry(certificate.vote.view()).or_insert(0);
            *top = proposal.height.max(*top);
        }
    }
    highest
}

/// The epoch a stored record belongs to.
pub fn record_epoch(record: &Record) -> u64 {
    match record {
        Record::Vote(vote) => vote.vote.epoch(),
        Record::Certificate(certificate) => certificate.vote.epoch(),
    }
}

/// Proposal bodies received, newest kept (a bounded map).
struct Bodies<B> {
    order: VecDeque<Digest>,
    blocks: HashMap<Digest, Arc<B>>,
}

impl<B> Default for Bodies<B> {
    fn default() -> Self {
        Self {
            order: VecDeque::new(),
            blocks: HashMap::new(),
        }
    }
}

impl<B> Bodies<B> {
    const CAPACITY: usize = 256;

    fn insert(&mut self, digest: Digest, block: Arc<B>) {
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

/// What a host is given to run.
pub struct HostSetup<A: Application> {
    pub app: Arc<A>,
    pub current: EpochEngine,
    pub key: Option<SecretKey>,
    pub suite: CryptoSuite,
    pub timeouts: TimeoutConfig,
    pub records: Records,
    pub network: NetworkHandle,
    pub work: mpsc::UnboundedSender<Work<A::Body>>,
    pub to_host: mpsc::UnboundedSender<HostEvent<A::Body>>,
    pub idle: Duration,
    pub status: Arc<ValidatorStatus>,
    pub metrics: ChainMetrics,
}

pub struct Host<A: Application> {
    app: Arc<A>,
    engine: ChainEngine,
    /// The epoch `engine` orders, and its last height.
    epoch: u64,
    last_height: u64,
    key: Option<SecretKey>,
    suite: CryptoSuite,
    timeouts: TimeoutConfig,
    /// Messages of later epochs, replayed when this node's next epoch starts.
    future: Vec<Message>,
    /// When this node last asked for missed blocks.
    last_catch_up: Option<std::time::Instant>,
    /// When this node last failed to learn its next epoch (and will ask again).
    epoch_retry_pending: bool,
    records: Records,
    network: NetworkHandle,
    peers: Vec<Option<PeerId>>,
    work: mpsc::UnboundedSender<Work<A::Body>>,
    to_host: mpsc::UnboundedSender<HostEvent<A::Body>>,
    bodies: Bodies<A::Body>,
    /// Proposals to check whose body has not arrived yet.
    awaiting: HashMap<Digest, Proposal>,
    idle: Duration,
    status: Arc<ValidatorStatus>,
    metrics: ChainMetrics,
    name: String,
}

/// Most messages of later epochs kept for replay.
const MAX_FUTURE_MESSAGES: usize = 4096;

/// The engine could not be served safely (its record could not be written); stop.
struct Fatal;

impl<A: Application> Host<A> {
    pub fn new(setup: HostSetup<A>) -> Self {
        let name = setup.app.name();
        Self {
            app: setup.app,
            engine: setup.current.engine,
            epoch: setup.current.epoch,
            last_height: setup.current.last_height,
            key: setup.key,
            suite: setup.suite,
            timeouts: setup.timeouts,
            future: Vec::new(),
            last_catch_up: None,
            epoch_retry_pending: false,
            records: setup.records,
            network: setup.network,
            peers: setup.current.peers,
            work: setup.work,
            to_host: setup.to_host,
            bodies: Bodies::default(),
            awaiting: HashMap::new(),
            idle: setup.idle,
            status: setup.status,
            metrics: setup.metrics,
            name,
        }
    }

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

    /// The head reached `height`: past the epoch's last height, start the next epoch's engine
    /// (new validators, this node's new index), anchored at the head.
    async fn on_finalized(&mut self, height: u64) -> Result<(), Fatal> {
        if height < self.last_height {
            return Ok(());
        }
        let plan = match self.app.epoch_plan() {
            Ok(plan) if plan.epoch > self.epoch => plan,
            Ok(_) => return Ok(()),
            Err(error) => {
                // A shard whose beacon chain has not finalized the epoch it needs: ask again.
                if !self.epoch_retry_pending {
                    self.epoch_retry_pending = true;
                    tracing::info!(chain = %self.name, %error, "next epoch not known yet; retrying");
                    let to_host = self.to_host.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        let _ = to_host.send(HostEvent::Finalized(height));
                    });
                }
                return Ok(());
            }
        };
        self.epoch_retry_pending = false;
        let next = epoch_engine(
            plan,
            self.app.namespace(),
            self.app.head(),
            self.key.as_ref(),
            self.suite,
            self.timeouts,
        );
        if self.records.prune(u64::MAX).is_err() {
            return Err(Fatal);
        }
        tracing::info!(
            chain = %self.name,
            epoch = next.epoch,
            validators = next.peers.len(),
            index = ?next.index,
            "consensus moves to the next epoch"
        );
        self.engine = next.engine;
        self.epoch = next.epoch;
        self.last_height = next.last_height;
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

    pub async fn run(
        mut self,
        stored: Vec<Record>,
        mut network_events: mpsc::Receiver<NetworkEvent>,
        mut host_events: mpsc::UnboundedReceiver<HostEvent<A::Body>>,
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
                    HostEvent::Body(block, digest) => {
                        self.on_body(digest, block);
                        Ok(())
                    }
                    HostEvent::Finalized(height) => self.on_finalized(height).await,
                },
                else => return,
            };
            if outcome.is_err() {
                tracing::error!(chain = %self.name, "consensus stopped: cannot persist a vote");
                return;
            }
        }
    }

    async fn apply(&mut self, input: Input) -> Result<(), Fatal> {
        if let Input::Timeout(timer) = &input
            && timer.view == self.engine.view()
        {
            self.status.views_timed_out.fetch_add(1, Ordering::Relaxed);
            self.metrics.round_timed_out();
            tracing::info!(
                chain = %self.name,
                view = timer.view,
                attempt = timer.attempt,
                leader = self.engine.leader(timer.view),
                waiting_for_body = self.awaiting.values().any(|p| p.view == timer.view),
                peers = self.network.peers().len(),
                "view timed out without a notarization; voting to skip it"
            );
        }
        if let Input::Message(message) = &input
            && message.epoch() > self.epoch
        {
            if self.future.len() < MAX_FUTURE_MESSAGES {
                self.future.push(message.clone());
            }
            self.catch_up_if_behind();
            return Ok(());
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
            _ => return Ok(()),
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
                let app = self.app.clone();
                let to_host = self.to_host.clone();
                let network = self.network.clone();
                tokio::spawn(async move {
                    match body_fetch::decode_completing(app, &network, from, data).await {
                        Ok((digest, body)) => {
                            let _ = to_host.send(HostEvent::Body(Arc::new(body), digest));
                        }
                        Err(error) => tracing::debug!(%from, %error, "invalid proposal body"),
                    }
                });
            }
            Topic::Transactions(_) => {
                let app = self.app.clone();
                tokio::task::spawn_blocking(move || app.on_transactions(data));
            }
        }
        Ok(())
    }

    fn on_body(&mut self, digest: Digest, body: Arc<A::Body>) {
        if let Some(proposal) = self.awaiting.remove(&digest) {
            let _ = self.work.send(Work::Verify {
                proposal,
                proposer: self.engine.leader(proposal.view),
                body: body.clone(),
            });
        }
        self.bodies.insert(digest, body);
    }

    async fn perform(&mut self, effects: Vec<Effect>) -> Result<(), Fatal> {
        let highest = highest_finalized(&effects);
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
                // A block the same certificate also finalizes a descendant of: the effect for
                // that descendant (in this batch) finalizes it too, so that every final block is
                // stored with the block its certificate is for.
                Effect::Finalized {
                    proposal,
                    certificate,
                } if highest
                    .get(&certificate.vote.view())
                    .is_some_and(|&top| proposal.height < top) => {}
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
                    tracing::info!(chain = %self.name, epoch = self.epoch, "epoch ended");
                }
                Effect::Fault(evidence) => {
                    let signer = evidence.first.signer;
                    let key = self
                        .engine
                        .config()
                        .validators
                        .members()
                        .get(signer as usize)
                        .map(|key| key.0.clone());
                    tracing::warn!(
                        chain = %self.name,
                        validator = signer,
                        "validator signed conflicting votes: evidence submitted to the beacon chain"
                    );
                    if let Some(key) = key {
                        self.app.report_fault(key, evidence.first, evidence.second);
                    }
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
        let topic = Topic::Consensus(self.app.chain());
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
        let topic = Topic::Consensus(self.app.chain());
        let bytes = codec::encode_message(message);
        tokio::spawn(async move {
            if let Err(error) = network.send_to(peer, topic, bytes).await {
                tracing::debug!(%peer, %error, "direct consensus message not delivered");
            }
        });
    }

    /// Asks the worker for a block once the chain has something to put in it, or after the
    /// idle interval (so an idle network still makes empty blocks, but never as fast as
    /// consensus allows).
    fn request_payload(&self, view: u64, parent: Digest, height: u64) {
        let wait = self.app.clone().wait_for_work(self.idle);
        let work = self.work.clone();
        let proposer = self.engine.leader(view);
        tokio::spawn(async move {
            wait.await;
            let _ = work.send(Work::Build {
                view,
                proposer,
                parent,
                height,
            });
        });
    }

    fn verify_payload(&mut self, proposal: Proposal) {
        if let Some(body) = self.bodies.blocks.get(&proposal.payload) {
            let _ = self.work.send(Work::Verify {
                proposal,
                proposer: self.engine.leader(proposal.view),
                body: body.clone(),
            });
        } else {
            // Our own proposal, a block already checked, or one kept before a restart: the
            // worker finds it. Otherwise its body is still on the way.
            let _ = self.work.send(Work::VerifyKept {
                proposal,
                proposer: self.engine.leader(proposal.view),
            });
            self.awaiting.insert(proposal.payload, proposal);
        }
    }
}

#[cfg(test)]
mod tests {
    use kaimeng_consensus::{Certificate, Parent, Proposal, Vote};

    use super::*;

    fn block(view: u64, height: u64, payload: u8) -> Proposal {
        Proposal {
            epoch: 0,
            view,
            height,
            parent: Parent {
                view: view - 1,
                digest: Digest([payload.wrapping_sub(1); 32]),
            },
            payload: Digest([payload; 32]),
        }
    }

    fn finalized(proposal: Proposal, of: Proposal) -> Effect {
        Effect::Finalized {
            proposal,
            certificate: Certificate {
                vote: Vote::Finalize(of),
                signatures: Vec::new(),
            },
        }
    }

    #[test]
    fn a_certificate_finalizes_its_ancestors_through_its_own_block_only() {
        // One certificate (view 7, height 4) reported for heights 2, 3 and 4: only height 4 is
        // handed to the chain, which finalizes 2 and 3 with it as ancestors.
        let top = block(7, 4, 4);
        let effects = vec![
            finalized(block(5, 2, 2), top),
            finalized(block(6, 3, 3), top),
            finalized(top, top),
        ];
        assert_eq!(highest_finalized(&effects), HashMap::from([(7, 4)]));
        // Through a padding block (an epoch's end): the real block under it is the highest.
        let on_four = block(9, 5, 5);
        let padding = Proposal {
            payload: on_four.parent.digest,
            ..on_four
        };
        let effects = vec![
            finalized(block(7, 3, 3), padding),
            finalized(block(8, 4, 4), padding),
            finalized(padding, padding),
        ];
        assert_eq!(highest_finalized(&effects), HashMap::from([(9, 4)]));
        // Two certificates in one batch are kept apart.
        let effects = vec![
            finalized(block(3, 1, 1), block(3, 1, 1)),
            finalized(top, top),
        ];
        assert_eq!(highest_finalized(&effects), HashMap::from([(3, 1), (7, 4)]));
    }
}
