//! Shard state sync over the network (ADR 0100).
//!
//! - Serving: a shard's snapshot at a shard-epoch end, read from the history columns (so it
//!   stays pinned at its height while the head moves on), built once on the first request on a
//!   thread of its own, and kept until a newer one is asked for.
//! - Syncing: a shard that holds nothing after genesis, while its beacon chain has crosslinked
//!   it far ahead, takes the snapshot at the newest crosslinked epoch end. Every part is
//!   checked on arrival against that crosslinked header, a peer that sends a wrong part is not
//!   asked again, and the operator sees progress. Block sync goes on from the snapshot.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::StreamExt;
use kaimeng_genesis::GenesisSpec;
use kaimeng_network::{Chain, NetworkHandle, PeerId};
use kaimeng_shards::ShardChain;
use kaimeng_shards::block::SealedHeader;
use kaimeng_shards::snapshot::parts::{self, Part, RECENT_HEADERS};
use kaimeng_shards::snapshot::{CHUNKS, Manifest, SnapshotAccount};
use kaimeng_shards::snapshot_store;
use parking_lot::Mutex;

use super::beacon::{BeaconChain, store};

/// A shard's snapshot as this node serves it.
pub struct SnapshotServer {
    chain: Arc<ShardChain>,
    served: Mutex<Served>,
}

#[derive(Default)]
struct Served {
    built: Option<Arc<Built>>,
    /// The height being read now, if any (one build at a time).
    building: Option<u64>,
    /// When the last read started: reads are spaced by [`MIN_BUILD_GAP`].
    last_build: Option<Instant>,
}

/// The least time between the starts of two snapshot reads. A read costs seconds of CPU on a
/// large state, so peers asking for one height after another cannot keep the node reading.
const MIN_BUILD_GAP: Duration = Duration::from_secs(10);

/// How many of the newest final shard-epoch ends a node serves: a syncing node asks for the
/// newest crosslinked one, which lags the head's by a little.
const SERVED_EPOCH_ENDS: u64 = 4;

/// Whether a request for the snapshot at `height` may start a read now: only one of the
/// [`SERVED_EPOCH_ENDS`] newest final shard-epoch ends, at or above the store's own snapshot
/// base, and not within [`MIN_BUILD_GAP`] of the last read.
fn may_build(
    height: u64,
    head: u64,
    base: u64,
    epoch_length: u64,
    last_build: Option<Instant>,
    now: Instant,
) -> bool {
    let length = epoch_length.max(1);
    let newest = head / length * length;
    height > 0
        && height % length == 0
        && height <= newest
        && height + (SERVED_EPOCH_ENDS - 1) * length >= newest
        && height >= base
        && last_build.is_none_or(|at| now.duration_since(at) >= MIN_BUILD_GAP)
}

/// Every part of one snapshot, encoded, by part number.
struct Built {
    height: u64,
    parts: Vec<Vec<u8>>,
}

impl SnapshotServer {
    pub fn new(chain: Arc<ShardChain>) -> Arc<Self> {
        Arc::new(Self {
            chain,
            served: Mutex::new(Served::default()),
        })
    }

    /// Part `part` of the snapshot at `height`, or `None` when it is not served: not a final
    /// shard-epoch end this node holds, or still being read (the first request starts that).
    pub fn part(self: &Arc<Self>, height: u64, part: u32, epoch_length: u64) -> Option<Vec<u8>> {
        let part = Part::from_number(part)?;
        {
            let mut served = self.served.lock();
            if let Some(built) = served.built.as_ref().filter(|b| b.height == height) {
                return built.parts.get(part.number() as usize).cloned();
            }
            let base = snapshot_store::snapshot_base(self.chain.store())
                .ok()
                .flatten()
                .unwrap_or(0);
            let now = Instant::now();
            let head = self.chain.head().number();
            if served.building.is_some()
                || !may_build(height, head, base, epoch_length, served.last_build, now)
            {
                return None;
            }
            served.building = Some(height);
            served.last_build = Some(now);
        }
        let server = self.clone();
        let spawned = std::thread::Builder::new()
            .name("snapshot-read".into())
            .spawn(move || {
                let built = server.build(height);
                let mut served = server.served.lock();
                served.building = None;
                match built {
                    Ok(built) => served.built = Some(Arc::new(built)),
                    Err(error) => tracing::warn!(%error, height, "state snapshot not served"),
                }
            });
        if spawned.is_err() {
            self.served.lock().building = None;
        }
        None
    }

    fn build(&self, height: u64) -> anyhow::Result<Built> {
        let started = Instant::now();
        let shard = self.chain.config().shard;
        let header = self
            .chain
            .header(height)?
            .with_context(|| format!("no header {height}"))?;
        let mut headers = vec![header];
        while headers.len() < RECENT_HEADERS as usize {
            let Some(number) = headers.last().and_then(|h| h.number().checked_sub(1)) else {
                break;
            };
            match self.chain.header(number)? {
                Some(header) => headers.push(header),
                None => break,
            }
        }
        headers.reverse();
        let (parts, accounts) = encode_snapshot(self.chain.store(), &headers)?;
        tracing::info!(
            shard,
            height,
            accounts,
            bytes = parts.iter().map(Vec::len).sum::<usize>(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "state snapshot ready to serve"
        );
        Ok(Built { height, parts })
    }
}

/// Every part of the snapshot of `store`'s state after the newest of `headers` (oldest
/// first), by part number, and how many accounts it holds. What was read is checked against
/// that header's state root first: a node never serves a snapshot it would refuse.
pub fn encode_snapshot(
    store: &kaimeng_l1::Store,
    headers: &[SealedHeader],
) -> anyhow::Result<(Vec<Vec<u8>>, usize)> {
    let header = headers.last().context("no header to serve a snapshot at")?;
    let chunks = snapshot_store::read_chunks_at(store, header.number())?;
    let manifest = Manifest::of(chunks.iter().flatten().map(|a| (a.address, a.record)));
    manifest.check(header.header.state_root)?;
    let accounts = chunks.iter().map(Vec::len).sum();
    let mut parts: Vec<Vec<u8>> = chunks.iter().map(|c| parts::encode_chunk(c)).collect();
    parts.push(parts::encode_manifest(&manifest));
    parts.push(parts::encode_headers(headers));
    Ok((parts, accounts))
}

/// How a node decides to sync a shard by snapshot.
#[derive(Clone)]
pub struct StateSyncConfig {
    pub genesis: Arc<GenesisSpec>,
    /// A shard at genesis takes a snapshot only when the crosslinked epoch end is at least
    /// this many blocks ahead; `None` always replays blocks.
    pub min_gap: Option<u64>,
}

/// The beacon chain is taken as caught up when no peer is this many blocks ahead of it.
const BEACON_SLACK: u64 = 8;
/// How long a snapshot may take to arrive before the attempt is given up.
const SYNC_DEADLINE: Duration = Duration::from_secs(600);
/// Chunks asked for at once.
const PARALLEL_CHUNKS: usize = 4;

/// What block sync should do after [`catch_up`].
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Replay blocks from the head (nothing to take, or a snapshot was installed).
    BlockSync,
    /// Not yet: the beacon chain is still catching up, so the target is not known.
    Wait,
}

/// Takes a snapshot of `chain` if it holds nothing after genesis and its crosslinked head is
/// far ahead (see [`StateSyncConfig::min_gap`]).
pub fn catch_up(
    chain: &ShardChain,
    beacon: &BeaconChain,
    network: &NetworkHandle,
    runtime: &tokio::runtime::Handle,
    config: &StateSyncConfig,
) -> anyhow::Result<Next> {
    let Some(min_gap) = config.min_gap else {
        return Ok(Next::BlockSync);
    };
    if chain.head().number() != 0 {
        return Ok(Next::BlockSync);
    }
    if !beacon_is_current(beacon, network, runtime) {
        return Ok(Next::Wait);
    }
    let shard = chain.config().shard;
    let Some(target) = target(beacon, shard, min_gap)? else {
        return Ok(Next::BlockSync);
    };
    tracing::info!(
        shard,
        height = target.number(),
        state_root = %target.header.state_root,
        "state sync: taking the snapshot of the newest crosslinked epoch end instead of replaying from genesis"
    );
    let source = network_source(network, Chain::Shard(shard), target.number());
    let snapshot = runtime.block_on(fetch(&source, &target, shard, SYNC_DEADLINE))?;
    let head = chain.install_snapshot(
        &config.genesis,
        &snapshot.manifest,
        &snapshot.chunks,
        &snapshot.headers,
    )?;
    tracing::info!(
        shard,
        height = head.number(),
        hash = %head.hash,
        "state sync: snapshot installed; block sync continues from the next block"
    );
    Ok(Next::BlockSync)
}

/// Whether this node's beacon chain has caught up: no peer (of the first few asked) has a
/// final beacon block [`BEACON_SLACK`] above its head. Until then the crosslinks it knows are
/// old, and a shard would pick an old snapshot, or none and replay from genesis.
fn beacon_is_current(
    beacon: &BeaconChain,
    network: &NetworkHandle,
    runtime: &tokio::runtime::Handle,
) -> bool {
    let ahead = beacon.finalized_ref().height + BEACON_SLACK;
    let peers = network.peers();
    if peers.is_empty() {
        return false;
    }
    !peers.into_iter().take(3).any(|peer| {
        runtime
            .block_on(network.request_blocks(peer, Chain::Beacon, ahead, ahead))
            .is_ok_and(|blocks| !blocks.is_empty())
    })
}

/// The newest shard-epoch end of `shard` that a final beacon block crosslinked, as that block
/// carries its header, when it is at least `min_gap` blocks above genesis.
pub fn target(
    beacon: &BeaconChain,
    shard: u32,
    min_gap: u64,
) -> anyhow::Result<Option<SealedHeader>> {
    let state = beacon.finalized_state();
    let Some(link) = state.shards.get(shard as usize) else {
        return Ok(None);
    };
    let length = state.shard_epoch_length.max(1);
    let height = link.height / length * length;
    if height == 0 || height < min_gap {
        return Ok(None);
    }
    let linked = store::crosslinked(beacon.store(), shard, height)?
        .with_context(|| format!("shard {shard} block {height} is not in the crosslink index"))?;
    let block = beacon
        .block(linked.beacon_height)?
        .with_context(|| format!("beacon block {} is not stored", linked.beacon_height))?;
    let header = block
        .body
        .crosslinks
        .iter()
        .filter(|c| c.shard == shard)
        .flat_map(|c| &c.headers)
        .find(|h| h.number == height)
        .cloned()
        .with_context(|| {
            format!(
                "beacon block {} does not carry shard {shard} block {height}",
                linked.beacon_height
            )
        })?;
    Ok(Some(SealedHeader::seal(header)))
}

/// A checked snapshot, ready to install.
pub struct Snapshot {
    pub manifest: Manifest,
    pub headers: Vec<SealedHeader>,
    pub chunks: Vec<Vec<SnapshotAccount>>,
}

/// Where snapshot parts come from (peers on the network; a test's own source).
pub trait PartSource: Sync {
    /// The peers to ask, in order.
    fn peers(&self) -> Vec<PeerId>;
    /// Part `part` from `peer`: `None` when it does not serve it (or not yet).
    fn ask(
        &self,
        peer: PeerId,
        part: Part,
    ) -> futures::future::BoxFuture<'_, anyhow::Result<Option<Vec<u8>>>>;
    /// `peer` sent a part that failed its check: it is not asked again.
    fn refuse(&self, peer: PeerId);
}

/// The connected peers of `network` as the source of `chain`'s snapshot at `height`.
pub fn network_source(network: &NetworkHandle, chain: Chain, height: u64) -> impl PartSource + '_ {
    Peers {
        network,
        chain,
        height,
        refused: Mutex::new(HashSet::new()),
        next_ask: Mutex::new(Default::default()),
    }
}

struct Peers<'a> {
    network: &'a NetworkHandle,
    chain: Chain,
    height: u64,
    refused: Mutex<HashSet<PeerId>>,
    /// Each peer's request schedule (a cell-rate rule): after a burst of [`PER_PEER_BURST`]
    /// requests, one per [`PER_PEER_GAP`]: under what peers serve before they refuse (and
    /// ban) a syncing node (`Limits::snapshot_requests`: 100 a second, bursts of 300).
    next_ask: Mutex<std::collections::HashMap<PeerId, Instant>>,
}

const PER_PEER_GAP: Duration = Duration::from_millis(20);
const PER_PEER_BURST: u32 = 250;

impl PartSource for Peers<'_> {
    fn peers(&self) -> Vec<PeerId> {
        let refused = self.refused.lock();
        self.network
            .peers()
            .into_iter()
            .filter(|p| !refused.contains(p))
            .collect()
    }

    fn ask(
        &self,
        peer: PeerId,
        part: Part,
    ) -> futures::future::BoxFuture<'_, anyhow::Result<Option<Vec<u8>>>> {
        Box::pin(async move {
            let wait = {
                let now = Instant::now();
                let earliest = now
                    .checked_sub(PER_PEER_GAP * PER_PEER_BURST)
                    .unwrap_or(now);
                let mut next = self.next_ask.lock();
                let at = next.get(&peer).copied().unwrap_or(earliest).max(earliest);
                next.insert(peer, at + PER_PEER_GAP);
                at.saturating_duration_since(now)
            };
            tokio::time::sleep(wait).await;
            Ok(self
                .network
                .request_snapshot_part(peer, self.chain, self.height, part.number())
                .await?)
        })
    }

    fn refuse(&self, peer: PeerId) {
        self.refused.lock().insert(peer);
    }
}

/// Fetches and checks every part of the snapshot whose newest header is `target`, giving up
/// on a part that no peer serves within `deadline` of the start.
pub async fn fetch(
    source: &impl PartSource,
    target: &SealedHeader,
    shard: u32,
    deadline: Duration,
) -> anyhow::Result<Snapshot> {
    let started = Instant::now();
    let manifest = take(
        source,
        Part::Manifest,
        started,
        deadline,
        &|bytes: &[u8]| {
            let manifest = parts::decode_manifest(bytes)?;
            manifest.check(target.header.state_root)?;
            Ok(manifest)
        },
    )
    .await?;
    let headers = take(
        source,
        Part::Headers,
        started,
        deadline,
        &|bytes: &[u8]| {
            let headers = parts::decode_headers(bytes)?;
            parts::check_headers(&headers, target.number(), target.hash)?;
            Ok(headers)
        },
    )
    .await?;
    let manifest_ref = &manifest;
    let mut chunks: Vec<Vec<SnapshotAccount>> = vec![Vec::new(); CHUNKS];
    let mut arriving = futures::stream::iter(0..CHUNKS)
        .map(|index| async move {
            let chunk = take(
                source,
                Part::Chunk(index),
                started,
                deadline,
                &|bytes: &[u8]| {
                    let chunk = parts::decode_chunk(bytes)?;
                    manifest_ref.check_chunk(index, &chunk)?;
                    Ok(chunk)
                },
            )
            .await?;
            anyhow::Ok((index, chunk))
        })
        .buffer_unordered(PARALLEL_CHUNKS);
    let mut progress = Progress::new(shard, target.number());
    while let Some(arrived) = arriving.next().await {
        let (index, chunk) = arrived?;
        progress.chunk_done(chunk.len());
        chunks[index] = chunk;
    }
    progress.finish();
    drop(arriving);
    Ok(Snapshot {
        manifest,
        headers,
        chunks,
    })
}

/// One part, from the first peer whose answer passes `check`; peers that do not have it yet
/// are asked again after a pause, until [`SYNC_DEADLINE`].
async fn take<T>(
    source: &impl PartSource,
    part: Part,
    started: Instant,
    deadline: Duration,
    check: &dyn Fn(&[u8]) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let mut pause = Duration::from_millis(100);
    loop {
        // Each part starts at another peer, so parallel requests spread over them.
        let mut peers = source.peers();
        if !peers.is_empty() {
            let start = part.number() as usize % peers.len();
            peers.rotate_left(start);
        }
        for peer in peers {
            match source.ask(peer, part).await {
                Ok(Some(bytes)) => match check(&bytes) {
                    Ok(value) => return Ok(value),
                    Err(error) => {
                        tracing::warn!(%peer, ?part, %error, "state sync: refused a snapshot part; that peer is not asked again");
                        source.refuse(peer);
                    }
                },
                Ok(None) => {}
                Err(error) => tracing::debug!(%peer, ?part, %error, "state sync: request failed"),
            }
        }
        if started.elapsed() > deadline {
            bail!("state sync: no peer served snapshot part {part:?} within {deadline:?}");
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// The operator's view of a snapshot download: a log line every two seconds and at the end.
struct Progress {
    shard: u32,
    height: u64,
    started: Instant,
    last: Instant,
    chunks: usize,
    accounts: usize,
}

impl Progress {
    fn new(shard: u32, height: u64) -> Self {
        let now = Instant::now();
        Self {
            shard,
            height,
            started: now,
            last: now,
            chunks: 0,
            accounts: 0,
        }
    }

    fn chunk_done(&mut self, accounts: usize) {
        self.chunks += 1;
        self.accounts += accounts;
        if self.last.elapsed() >= Duration::from_secs(2) {
            self.last = Instant::now();
            self.log("state sync: downloading");
        }
    }

    fn finish(&self) {
        self.log("state sync: every chunk checked");
    }

    fn log(&self, what: &'static str) {
        let seconds = self.started.elapsed().as_secs_f64().max(1e-3);
        tracing::info!(
            shard = self.shard,
            height = self.height,
            chunks = format!("{}/{CHUNKS}", self.chunks),
            percent = self.chunks * 100 / CHUNKS,
            accounts = self.accounts,
            accounts_per_second = (self.accounts as f64 / seconds) as u64,
            "{what}"
        );
    }
}

#[cfg(test)]
#[path = "state_sync_tests.rs"]
mod tests;
