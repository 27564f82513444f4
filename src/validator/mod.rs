//! A member's validator (or a non-member full node): one libp2p network and one consensus host
//! per chain the node serves, the beacon chain and every shard (`kaimeng-consensus` engines).
//! A node votes on a shard in the epochs its committee holds it, and follows it otherwise.
//!
//! - `app`: the narrow interface between a host and its chain.
//! - `host`: a chain's event loop; performs the engine's effects in order.
//! - `worker`: a chain's builds, checks, finalizations and block sync, on its own thread.
//! - `beacon`: the beacon chain (blocks, store, governance pool, crosslinks, RPC).
//! - `shard`: a shard that follows finalized beacon blocks.
//! - `sync`: what block sync serves (blocks with their finality certificates) and its check.
//! - `gossip`: transactions between pools, in batches.
//! - `records`: the engine's votes and certificates on disk.
//! - `crypto`: the engine's signer and verifier over the genesis crypto suite.
//! - `admin`: the operator's `admin_*` RPC (peers, deny list).
//!
//! The design is in `docs/adr/0096-the-beacon-chain-as-its-own-chain.md`, the host in
//! `docs/adr/0006-validator-host-and-unfinalized-blocks.md`, certificates and block sync in
//! `docs/adr/0017-finality-certificates-stored-and-checked.md`.

mod admin;
pub mod app;
pub mod beacon;
mod body_fetch;
pub mod crypto;
mod gossip;
mod host;
mod records;
mod relay;
mod shard;
pub mod state_sync;
pub mod sync;
mod worker;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use alloy_primitives::Address;
use anyhow::Context;
use kaimeng_consensus::{TimeoutConfig, ValidatorIndex};
use kaimeng_crypto::SecretKey;
use kaimeng_genesis::GenesisSpec;
use kaimeng_network::{
    BlockSource, Chain, Network, NetworkConfig, NetworkEvent, NetworkHandle, NodeKey, PeerId, Topic,
};
use kaimeng_shards::ShardChain;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use admin::admin_methods;
use app::Application;
use beacon::BeaconChain;
pub use host::ValidatorStatus;
use host::{Host, HostSetup, epoch_engine, record_epoch};
use records::Records;
use shard::ShardApp;
use worker::Worker;

use crate::metrics::{ChainMetrics, Metrics};

/// How to run one validator (or full node) of the beacon chain and the shards.
pub struct ValidatorConfig {
    pub genesis: GenesisSpec,
    pub beacon: Arc<BeaconChain>,
    /// Every shard, by shard number.
    pub chains: Vec<Arc<ShardChain>>,
    /// This member's consensus key; `None` runs a full node that checks and syncs blocks and
    /// serves them, but never votes.
    pub consensus_key: Option<SecretKey>,
    pub node_key: NodeKey,
    /// Multiaddrs to listen on, e.g. `/ip4/127.0.0.1/tcp/0`.
    pub listen: Vec<String>,
    /// Peers to dial, with their `/p2p/` ids.
    pub bootstrap: Vec<String>,
    pub timeouts: TimeoutConfig,
    /// How long a leader with nothing to include waits before proposing an empty block (kept
    /// below the base timeout so an idle network does not time out).
    pub idle_block_interval: Duration,
    pub max_txs_per_block: usize,
    pub fee_recipient: Address,
    /// The process's Prometheus metrics (each chain's series and the peer count).
    pub metrics: Arc<Metrics>,
    /// A shard at genesis whose crosslinked epoch end is at least this far ahead takes a state
    /// snapshot from peers instead of replaying every block; `None` always replays.
    pub snapshot_min_gap: Option<u64>,
    /// Which shards a validator executes (`[shards] hold`); a full node holds every shard.
    pub hold: crate::config::HoldShards,
}

pub struct RunningValidator {
    pub network: NetworkHandle,
    /// The beacon chain: governance, the consortium state, crosslinks.
    pub beacon: Arc<BeaconChain>,
    /// Each shard's consensus numbers, by shard number.
    pub statuses: Vec<Arc<ValidatorStatus>>,
    /// This node's index in the beacon chain's validator set now; `None` for a full node.
    pub index: Option<ValidatorIndex>,
    tasks: Vec<JoinHandle<()>>,
    workers: Vec<std::thread::JoinHandle<()>>,
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

    /// Stops the tasks, then waits for each worker to finish the block it is writing: nothing
    /// may touch a database once the process starts exiting.
    pub async fn stop(self) {
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks {
            // A host task owns its worker's queue; once it is gone the worker drains and ends.
            let _ = task.await;
        }
        for worker in self.workers {
            let _ = tokio::task::spawn_blocking(move || worker.join()).await;
        }
        self.network.shutdown().await;
    }
}

/// Serves each chain's final blocks to peers that sync.
struct Blocks {
    beacon: Arc<BeaconChain>,
    shards: Vec<Arc<ShardApp>>,
}

impl BlockSource for Blocks {
    fn block(&self, chain: Chain, height: u64) -> Option<Vec<u8>> {
        match chain {
            Chain::Beacon => self.beacon.serve(height),
            Chain::Shard(shard) => self.shards.get(shard as usize)?.serve(height),
        }
    }

    fn snapshot_part(&self, chain: Chain, height: u64, part: u32) -> Option<Vec<u8>> {
        let Chain::Shard(shard) = chain else {
            return None;
        };
        let epoch_length = self.beacon.finalized_state().shard_epoch_length;
        self.shards
            .get(shard as usize)?
            .snapshots
            .part(height, part, epoch_length)
    }

    fn messages(&self, source: u32, destination: u32, from: u64) -> Option<Vec<u8>> {
        relay::serve_messages(&self.beacon, source, destination, from)
    }

    fn transactions(&self, chain: Chain, hashes: &[[u8; 32]]) -> Vec<Vec<u8>> {
        let Some(shard) = (match chain {
            Chain::Beacon => None,
            Chain::Shard(shard) => self.shards.get(shard as usize),
        }) else {
            return Vec::new();
        };
        pooled_transactions(&shard.chain, hashes)
    }
}

/// The encoded transactions with these hashes pending in `chain`'s pool, in the order asked.
fn pooled_transactions(chain: &kaimeng_shards::ShardChain, hashes: &[[u8; 32]]) -> Vec<Vec<u8>> {
    let pool = chain.pool();
    hashes
        .iter()
        .filter_map(|hash| pool.get(&hash.into()))
        .map(|tx| tx.encoded.to_vec())
        .collect()
}

/// Network events for each chain's host; a chain that falls behind loses its own messages
/// (consensus recovers them), never another chain's.
struct Routes {
    beacon: mpsc::Sender<NetworkEvent>,
    /// By shard number.
    shards: Vec<mpsc::Sender<NetworkEvent>>,
    /// Whether this node holds a shard: messages of shards it does not hold are dropped, so
    /// it neither checks nor executes their blocks.
    holds: Arc<dyn Fn(u32) -> bool + Send + Sync>,
}

const EVENT_QUEUE: usize = 4096;

async fn route(mut events: mpsc::Receiver<NetworkEvent>, routes: Routes) {
    while let Some(event) = events.recv().await {
        let topic = match &event {
            NetworkEvent::Gossip { topic, .. } | NetworkEvent::Direct { topic, .. } => *topic,
            NetworkEvent::PeerConnected(peer) => {
                tracing::debug!(%peer, "peer connected");
                continue;
            }
            NetworkEvent::PeerDisconnected(peer) => {
                tracing::debug!(%peer, "peer disconnected");
                continue;
            }
            NetworkEvent::PeerBanned { peer, duration } => {
                tracing::warn!(%peer, ?duration, "peer banned for flooding");
                continue;
            }
        };
        let to = match topic.chain() {
            Chain::Beacon => &routes.beacon,
            Chain::Shard(shard) => match routes.shards.get(shard as usize) {
                Some(to) if (routes.holds)(shard) => to,
                _ => continue,
            },
        };
        if to.try_send(event).is_err() {
            tracing::debug!(?topic, "chain busy: a network message was dropped");
        }
    }
}

/// Starts the network, then the beacon chain's host and one host per shard.
pub async fn start(config: ValidatorConfig) -> anyhow::Result<RunningValidator> {
    let genesis = &config.genesis;
    let suite = crate::consensus_suite(genesis.crypto_suite);
    let beacon = config.beacon.clone();
    let shard_apps: Vec<Arc<ShardApp>> = config
        .chains
        .iter()
        .map(|chain| {
            Arc::new(ShardApp {
                chain: chain.clone(),
                beacon: beacon.clone(),
                runtime: tokio::runtime::Handle::current(),
                fee_recipient: config.fee_recipient,
                max_txs: config.max_txs_per_block,
                metrics: config
                    .metrics
                    .chain(&Metrics::shard_chain_name(chain.config().shard)),
                snapshots: state_sync::SnapshotServer::new(chain.clone()),
                state_sync: state_sync::StateSyncConfig {
                    genesis: Arc::new(config.genesis.clone()),
                    min_gap: config.snapshot_min_gap,
                },
                snapshot_failures: Default::default(),
                remote: Default::default(),
            })
        })
        .collect();
    if let (crate::config::HoldShards::Committees, Some(key)) =
        (config.hold, config.consensus_key.as_ref())
    {
        beacon.hold_only_committees_of(key.clone());
        tracing::info!(
            held = ?(0..beacon.shard_count()).filter(|s| beacon.holds(*s)).collect::<Vec<_>>(),
            "this validator executes only the shards of its committees"
        );
    }
    if config.consensus_key.is_none() {
        tracing::info!(
            shards = shard_apps.len(),
            "full node: following the beacon chain and every shard by checking finality certificates; it holds no consensus key and never votes"
        );
    }
    let members: Vec<PeerId> = beacon
        .finalized_state()
        .consortium
        .validators()
        .iter()
        .filter_map(|m| m.peer_id.parse().ok())
        .chain(
            genesis
                .members
                .iter()
                .filter_map(|m| m.peer_id.parse().ok()),
        )
        .collect();

    let mut network_config = NetworkConfig::new(config.node_key.clone(), genesis.hash().0);
    network_config.listen = config.listen.clone();
    network_config.bootstrap = config.bootstrap.clone();
    network_config.topics = std::iter::once(Chain::Beacon)
        .chain(shard_apps.iter().map(|app| app.chain()))
        .flat_map(|c| {
            [
                Topic::Consensus(c),
                Topic::Transactions(c),
                Topic::Blocks(c),
            ]
        })
        .collect();
    network_config.priority_peers = members;
    network_config.block_source = Some(Arc::new(Blocks {
        beacon: beacon.clone(),
        shards: shard_apps.clone(),
    }));
    let (network, events) = Network::start(network_config)
        .await
        .context("starting the p2p network")?;
    beacon.attach_network(network.clone());
    let (beacon_events, beacon_rx) = mpsc::channel(EVENT_QUEUE);
    let (shard_events, shard_rxs): (Vec<_>, Vec<_>) = shard_apps
        .iter()
        .map(|_| mpsc::channel(EVENT_QUEUE))
        .unzip();
    let mut tasks = vec![tokio::spawn(route(
        events,
        Routes {
            beacon: beacon_events,
            shards: shard_events,
            holds: {
                let beacon = beacon.clone();
                Arc::new(move |shard| beacon.holds(shard))
            },
        },
    ))];
    let mut workers = Vec::new();
    let common = Common {
        key: config.consensus_key.clone(),
        suite,
        timeouts: config.timeouts,
        idle: config.idle_block_interval,
        network: network.clone(),
    };
    let beacon_metrics = config.metrics.chain("beacon");
    let (task, worker, _, index) = common.spawn(
        beacon.clone(),
        beacon.store().clone(),
        beacon_rx,
        beacon_metrics,
    )?;
    tasks.push(task);
    workers.push(worker);
    let mut statuses = Vec::new();
    for (app, events) in shard_apps.into_iter().zip(shard_rxs) {
        let chain = app.chain.clone();
        let app_for_messages = app.clone();
        let shard = chain.config().shard;
        let shard_metrics = config.metrics.chain(&Metrics::shard_chain_name(shard));
        let (task, worker, status, shard_index) =
            common.spawn(app, chain.store().clone(), events, shard_metrics.clone())?;
        tracing::info!(shard, index = ?shard_index, "shard host started");
        tasks.push(task);
        workers.push(worker);
        statuses.push(status);
        tasks.push(tokio::spawn(sample_gauges(
            chain.clone(),
            network.clone(),
            config.metrics.clone(),
            shard_metrics,
        )));
        tasks.push(tokio::spawn(gossip::publish_local(
            chain.clone(),
            network.clone(),
        )));
        tasks.push(tokio::spawn(gossip::republish_local(
            chain,
            network.clone(),
        )));
        tasks.push(tokio::spawn(
            app_for_messages.fetch_remote_messages(network.clone()),
        ));
    }
    tracing::info!(index = ?index, shards = statuses.len(), peer = %network.local_peer_id(), "validator started");
    Ok(RunningValidator {
        network,
        beacon,
        statuses,
        index,
        tasks,
        workers,
    })
}

/// What every host of this node shares.
struct Common {
    key: Option<SecretKey>,
    suite: kaimeng_crypto::CryptoSuite,
    timeouts: TimeoutConfig,
    idle: Duration,
    network: NetworkHandle,
}

impl Common {
    /// Starts `app`'s worker thread and host task, with its engine records in `store`.
    fn spawn<A: Application>(
        &self,
        app: Arc<A>,
        store: kaimeng_l1::Store,
        events: mpsc::Receiver<NetworkEvent>,
        metrics: ChainMetrics,
    ) -> anyhow::Result<(
        JoinHandle<()>,
        std::thread::JoinHandle<()>,
        Arc<ValidatorStatus>,
        Option<ValidatorIndex>,
    )> {
        let name = app.name();
        let (mut records, stored) = Records::load(store)?;
        let plan = app
            .epoch_plan()
            .with_context(|| format!("{name}: the current epoch"))?;
        let current = epoch_engine(
            plan,
            app.namespace(),
            app.head(),
            self.key.as_ref(),
            self.suite,
            self.timeouts,
        );
        // Records of earlier epochs are void: that epoch's last block is final.
        let stored: Vec<_> = stored
            .into_iter()
            .filter(|r| record_epoch(r) == current.epoch)
            .collect();
        if stored.is_empty() {
            records.prune(u64::MAX)?;
        }
        let index = current.index;
        if self.key.is_some() && index.is_none() {
            tracing::info!(
                chain = %name,
                "this key is not a validator of the current epoch: following until governance admits it"
            );
        }
        let (to_host, host_events) = mpsc::unbounded_channel();
        let (work, work_queue) = mpsc::unbounded_channel();
        let worker = Worker {
            app: app.clone(),
            network: self.network.clone(),
            runtime: tokio::runtime::Handle::current(),
            to_host: to_host.clone(),
        };
        let worker = std::thread::Builder::new()
            .name(format!("{name}-worker"))
            .spawn(move || worker.run(work_queue))
            .context("starting a chain worker")?;
        let status = Arc::new(ValidatorStatus::default());
        status
            .finalized_height
            .store(app.head().0, Ordering::Relaxed);
        let host = Host::new(HostSetup {
            app,
            current,
            key: self.key.clone(),
            suite: self.suite,
            timeouts: self.timeouts,
            records,
            network: self.network.clone(),
            work,
            to_host,
            idle: self.idle,
            status: status.clone(),
            metrics,
        });
        let task = tokio::spawn(host.run(stored, events, host_events));
        Ok((task, worker, status, index))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn direct(chain: Chain, byte: u8) -> NetworkEvent {
        NetworkEvent::Direct {
            from: kaimeng_genesis::dev_member_peer_id(0).parse().unwrap(),
            topic: Topic::Consensus(chain),
            data: vec![byte],
        }
    }

    #[tokio::test]
    async fn each_shard_gets_its_own_messages_and_an_unknown_shard_none() {
        let (to_route, events) = mpsc::channel(64);
        let (beacon, mut beacon_rx) = mpsc::channel(8);
        let (zero, mut zero_rx) = mpsc::channel(8);
        let (one, mut one_rx) = mpsc::channel(8);
        let router = tokio::spawn(route(
            events,
            Routes {
                beacon,
                shards: vec![zero, one],
                holds: Arc::new(|_| true),
            },
        ));
        to_route.send(direct(Chain::Shard(7), 7)).await.unwrap();
        to_route.send(direct(Chain::Shard(1), 1)).await.unwrap();
        to_route.send(direct(Chain::Shard(0), 0)).await.unwrap();
        to_route.send(direct(Chain::Beacon, 9)).await.unwrap();
        drop(to_route);
        router.await.unwrap();
        let data = |event: Option<NetworkEvent>| match event {
            Some(NetworkEvent::Direct { data, .. }) => data,
            other => panic!("expected a direct message, got {other:?}"),
        };
        assert_eq!(data(zero_rx.recv().await), vec![0]);
        assert_eq!(data(one_rx.recv().await), vec![1]);
        assert_eq!(data(beacon_rx.recv().await), vec![9]);
        // Shard 7's message went nowhere, and nothing else arrived.
        assert!(zero_rx.recv().await.is_none());
        assert!(one_rx.recv().await.is_none());
        assert!(beacon_rx.recv().await.is_none());
    }

    #[tokio::test]
    async fn a_chain_that_stops_reading_never_holds_up_another() {
        let (to_route, events) = mpsc::channel(64);
        let (beacon, mut beacon_rx) = mpsc::channel(1);
        let (shard, mut shard_rx) = mpsc::channel(64);
        let router = tokio::spawn(route(
            events,
            Routes {
                beacon,
                shards: vec![shard],
                holds: Arc::new(|_| true),
            },
        ));
        // The beacon host reads nothing: its queue fills after one message.
        for i in 0..10 {
            to_route.send(direct(Chain::Beacon, i)).await.unwrap();
        }
        for i in 0..10 {
            to_route.send(direct(Chain::Shard(0), i)).await.unwrap();
        }
        for i in 0..10 {
            match shard_rx.recv().await.unwrap() {
                NetworkEvent::Direct { data, topic, .. } => {
                    assert_eq!(topic, Topic::Consensus(Chain::Shard(0)));
                    assert_eq!(data, vec![i]);
                }
                _ => panic!("not a direct message"),
            }
        }
        // The beacon chain kept what fitted and lost the rest (consensus recovers them).
        assert!(matches!(
            beacon_rx.recv().await,
            Some(NetworkEvent::Direct { .. })
        ));
        assert!(beacon_rx.try_recv().is_err());
        drop(to_route);
        router.await.unwrap();
    }
}
