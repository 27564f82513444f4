//! The beacon chain as a node runs it: its own store, its finalized state, the unfinalized
//! blocks it built or checked, the governance transaction pool, and the crosslinks it proposes
//! from the shards the node holds. The rules are pure code in `kaimeng_l1::beacon`; the
//! consensus host drives this chain through [`crate::validator::app::Application`] (`app`).
//!
//! - `store`: the on-disk layout and epoch records.
//! - `app`: building, checking, finalizing and syncing beacon blocks.
//! - `crosslinks`: the shard headers a proposer links.
//! - `rpc`: `kaimeng_*` methods over the consortium state and crosslinks.
//! - `committees`: an epoch's shard committees with their seed inputs, and their recomputation.

mod app;
pub mod committees;
mod crosslinks;
pub mod messages_rpc;
pub mod rpc;
pub mod store;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::B256;
use anyhow::Context;
use kaimeng_crypto::CryptoSuite;
use kaimeng_crypto::vrf::{PROOF_LEN, VrfProof, VrfSecretKey};
use kaimeng_genesis::GenesisSpec;
use kaimeng_l1::Store;
use kaimeng_l1::beacon::evidence::MAX_EVIDENCE;
use kaimeng_l1::beacon::{
    BeaconBlock, BeaconBody, BeaconError, BeaconHeader, BeaconRef, BeaconState, Evidence,
    EvidenceRecord, MAX_GOVERNANCE_TXS, encode_section,
};
use kaimeng_l1::governance::{EpochTransition, GovernanceError, SignedGovernanceTx};
use kaimeng_l1::storage::StoreOptions;
use kaimeng_shards::ShardChain;
use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;

pub use store::EpochRecord;

use crate::metrics::ChainMetrics;

/// Most unfinalized beacon blocks kept.
const MAX_KEPT: usize = 256;
/// What starts evidence on the beacon chain's transaction topic (governance transactions
/// never start with it).
pub const EVIDENCE_GOSSIP_TAG: &[u8] = b"kaimeng/evidence";
/// Epoch records kept in memory.
const CACHED_EPOCH_RECORDS: usize = 8;
/// Most pieces of evidence waiting to be recorded.
const MAX_POOLED_EVIDENCE: usize = 256;

/// An unfinalized block this node built or checked, with the state after it.
#[derive(Clone)]
struct Kept {
    block: BeaconBlock,
    state: BeaconState,
    /// The epoch the block belongs to.
    epoch: u64,
    transition: Option<EpochTransition>,
}

/// The finalized head and the state after it.
#[derive(Clone)]
struct Head {
    hash: B256,
    state: BeaconState,
}

pub struct BeaconChain {
    store: Store,
    suite: CryptoSuite,
    head: RwLock<Head>,
    kept: Mutex<HashMap<B256, Kept>>,
    pool: Mutex<Vec<SignedGovernanceTx>>,
    /// Conflicting votes waiting to be recorded (bounded).
    evidence: Mutex<Vec<Evidence>>,
    /// The newest epoch records read (at most `CACHED_EPOCH_RECORDS`).
    records: Mutex<HashMap<u64, EpochRecord>>,
    /// The node's network, once started: evidence submitted here is gossiped to the members.
    network: std::sync::OnceLock<(kaimeng_network::NetworkHandle, tokio::runtime::Handle)>,
    /// Every shard's chain, by shard number; the node executes those it holds
    /// ([`BeaconChain::holds`]), and crosslinks come from them.
    shards: Vec<Arc<ShardChain>>,
    /// Set on a validator that holds only the shards of its committees: its consensus key.
    /// Its public key in both encodings a seat may use (compressed, uncompressed), derived once:
    /// [`BeaconChain::holds`] runs for every shard message the node receives.
    hold_only: std::sync::OnceLock<[Vec<u8>; 2]>,
    finalized: watch::Sender<BeaconRef>,
    /// The finalized head before the newest finalization: what shard proposers reference, so
    /// that the other members have finalized it too and never wait for it.
    settled: RwLock<BeaconRef>,
    /// This member's VRF secret; `None` on a full node, which never proposes.
    vrf_key: Option<VrfSecretKey>,
    metrics: ChainMetrics,
}

impl BeaconChain {
    /// Opens the beacon chain in `dir`, writing its genesis block on first start.
    pub fn open(
        dir: &Path,
        options: &StoreOptions,
        genesis: &GenesisSpec,
        shards: Vec<Arc<ShardChain>>,
        vrf_key: Option<VrfSecretKey>,
        metrics: ChainMetrics,
    ) -> anyhow::Result<Self> {
        let store = store::open(dir, options)
            .with_context(|| format!("opening the beacon chain store in {}", dir.display()))?;
        let suite = crate::consensus_suite(genesis.crypto_suite);
        let state = match store::load_state(&store).context("the stored beacon state")? {
            Some(state) => state,
            None => {
                let hashes = shards
                    .iter()
                    .map(|s| s.genesis_hash())
                    .collect::<Result<Vec<_>, _>>()?;
                let state = BeaconState::genesis(genesis, &hashes)?;
                let block = genesis_block(genesis, &state);
                let mut batch = store.batch();
                store::put_final(
                    &mut batch,
                    &store::FinalWrite {
                        block: &block,
                        hash: block.hash(suite),
                        epoch: 0,
                        state: &state,
                        transition: None,
                        certificate: None,
                    },
                )?;
                store.write(batch)?;
                state
            }
        };
        let block = store::block(&store, suite, state.height)?
            .with_context(|| format!("final beacon block {} is missing", state.height))?;
        let hash = block.hash(suite);
        let epoch = store::reference(&store, &hash)?
            .map(|r| r.epoch)
            .context("the beacon head is not indexed")?;
        let reference = BeaconRef {
            root: hash,
            height: state.height,
            epoch,
        };
        metrics.finalized(state.height, 0);
        Ok(Self {
            store,
            suite,
            head: RwLock::new(Head { hash, state }),
            kept: Mutex::new(HashMap::new()),
            pool: Mutex::new(Vec::new()),
            evidence: Mutex::new(Vec::new()),
            records: Mutex::new(HashMap::new()),
            network: std::sync::OnceLock::new(),
            shards,
            hold_only: std::sync::OnceLock::new(),
            finalized: watch::channel(reference).0,
            settled: RwLock::new(reference),
            vrf_key,
            metrics,
        })
    }

    pub fn suite(&self) -> CryptoSuite {
        self.suite
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The state after the finalized head.
    pub fn finalized_state(&self) -> BeaconState {
        self.head.read().state.clone()
    }

    /// Changes to the finalized head, as they happen.
    pub fn subscribe_finalized(&self) -> watch::Receiver<BeaconRef> {
        self.finalized.subscribe()
    }

    /// The finalized head as a shard block references it.
    pub fn finalized_ref(&self) -> BeaconRef {
        *self.finalized.borrow()
    }

    /// The finalized block before the newest finalization: final on this node for at least one
    /// beacon block's time, so in all likelihood on every member too. Shard proposers
    /// reference it, and followers need not wait for their beacon chain.
    pub fn settled_ref(&self) -> BeaconRef {
        *self.settled.read()
    }

    /// The finalized block `root` as a shard references it.
    pub fn reference(&self, root: &B256) -> anyhow::Result<Option<BeaconRef>> {
        Ok(store::reference(&self.store, root)?)
    }

    /// Like [`Self::reference`], waiting up to `timeout` for this node to finalize `root`
    /// (a peer's shard block may reference a beacon block this node finalizes a moment later).
    pub async fn wait_for_reference(
        &self,
        root: B256,
        timeout: Duration,
    ) -> anyhow::Result<Option<BeaconRef>> {
        let mut finalized = self.finalized.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(found) = self.reference(&root)? {
                return Ok(Some(found));
            }
            if tokio::time::timeout_at(deadline, finalized.changed())
                .await
                .is_err()
            {
                return Ok(None);
            }
        }
    }

    /// The record of beacon epoch `epoch`, once this node has finalized its start. Records
    /// never change once written, so the newest few are kept in memory: every shard block
    /// built or checked reads one.
    pub fn epoch_record(&self, epoch: u64) -> anyhow::Result<Option<EpochRecord>> {
        if let Some(record) = self.records.lock().get(&epoch) {
            return Ok(Some(record.clone()));
        }
        let record = store::epoch(&self.store, epoch)?;
        if let Some(record) = &record {
            let mut cached = self.records.lock();
            if cached.len() >= CACHED_EPOCH_RECORDS
                && let Some(oldest) = cached.keys().min().copied()
            {
                cached.remove(&oldest);
            }
            cached.insert(epoch, record.clone());
        }
        Ok(record)
    }

    /// From now on this node holds only the shards whose committees seat `key` (ADR 0101).
    pub fn hold_only_committees_of(&self, key: kaimeng_crypto::SecretKey) {
        let public = key.public_key();
        let _ = self.hold_only.set([
            public.to_bytes().to_vec(),
            public.to_uncompressed().to_vec(),
        ]);
    }

    /// Whether this node holds (executes and serves) shard `shard`: every shard on a full
    /// node or a node that holds all; otherwise while `key` sits on a committee of it that the
    /// finalized beacon state keeps for the current epoch or earlier (one a lagging shard still
    /// needs), or on the next epoch's (drawn an epoch ahead) once the current beacon epoch is
    /// half over: a member drawn into a shard starts holding it, and syncs it, half an epoch
    /// before it serves there (ADR 0101).
    pub fn holds(&self, shard: u32) -> bool {
        let Some(keys) = self.hold_only.get() else {
            return true;
        };
        let head = self.head.read();
        let state = &head.state;
        let current = state.consortium.epoch();
        let half_over = state.height >= current.start_height + current.length / 2;
        state.committees.iter().any(|epoch| {
            (epoch.epoch <= current.epoch || half_over)
                && epoch
                    .shards
                    .get(shard as usize)
                    .is_some_and(|seats| seats.iter().any(|seat| keys.contains(seat)))
        })
    }

    /// The shards this node holds.
    pub fn held_shards(&self) -> impl Iterator<Item = &Arc<ShardChain>> {
        self.shards.iter().filter(|s| self.holds(s.config().shard))
    }

    /// The shard this node holds with number `shard`.
    pub fn held_shard(&self, shard: u32) -> Option<&Arc<ShardChain>> {
        self.shards
            .iter()
            .find(|s| s.config().shard == shard)
            .filter(|_| self.holds(shard))
    }

    /// How many shards the network has.
    pub fn shard_count(&self) -> u32 {
        self.head.read().state.shards.len() as u32
    }

    /// A final block.
    pub fn block(&self, height: u64) -> anyhow::Result<Option<BeaconBlock>> {
        store::block(&self.store, self.suite, height)
    }

    /// The nonce after `organisation`'s pooled transactions, if it has any pooled.
    pub fn pooled_next_nonce(&self, organisation: &str) -> Option<u64> {
        self.pool
            .lock()
            .iter()
            .filter(|tx| tx.tx.signer() == organisation)
            .map(|tx| tx.tx.nonce() + 1)
            .max()
    }

    /// Pools `tx` if it applies after the finalized state and the pooled transactions.
    pub fn submit(&self, tx: SignedGovernanceTx) -> Result<B256, GovernanceError> {
        let state = self.finalized_state();
        let mut trial = state.consortium.clone();
        let height = state.height + 1;
        let mut pool = self.pool.lock();
        let id = tx.id(self.suite);
        if pool.iter().any(|p| p.id(self.suite) == id) {
            return Ok(id);
        }
        for pooled in pool.iter() {
            let _ = trial.apply_tx(height, pooled);
        }
        trial.check_tx(height, &tx)?;
        pool.push(tx);
        Ok(id)
    }

    fn has_pooled(&self) -> bool {
        !self.pool.lock().is_empty() || !self.evidence.lock().is_empty()
    }

    /// Pools `evidence` if the finalized state would record it; returns what it would record.
    pub fn submit_evidence(&self, evidence: Evidence) -> Result<EvidenceRecord, BeaconError> {
        let record = {
            let head = self.head.read();
            head.state
                .check_evidence(head.state.height + 1, &evidence)?
        };
        let mut pool = self.evidence.lock();
        if !pool.contains(&evidence) {
            if pool.len() >= MAX_POOLED_EVIDENCE {
                return Err(BeaconError::Evidence(
                    "the evidence pool is full; submit again shortly".into(),
                ));
            }
            pool.push(evidence);
        }
        Ok(record)
    }

    /// Gossips evidence (submitted over RPC) to the other nodes' pools, once the network runs.
    pub fn attach_network(&self, network: kaimeng_network::NetworkHandle) {
        let _ = self
            .network
            .set((network, tokio::runtime::Handle::current()));
    }

    /// Gossips `evidence` to the other nodes' pools (once the network runs).
    fn gossip_evidence(&self, evidence: &[Evidence]) {
        let Some((network, runtime)) = self.network.get() else {
            return;
        };
        for evidence in evidence {
            let bytes = [EVIDENCE_GOSSIP_TAG, &evidence.to_bytes()[..]].concat();
            let network = network.clone();
            runtime.spawn(async move {
                let topic = kaimeng_network::Topic::Transactions(kaimeng_network::Chain::Beacon);
                if let Err(error) = network.publish(topic, bytes).await {
                    tracing::debug!(%error, "evidence not gossiped");
                }
            });
        }
    }

    /// Pools `evidence` like [`Self::submit_evidence`] and gossips it to the members, so that
    /// whichever proposes next records it (a full node proposes nothing itself).
    pub fn submit_and_gossip_evidence(
        &self,
        evidence: Evidence,
    ) -> Result<EvidenceRecord, BeaconError> {
        let record = self.submit_evidence(evidence.clone())?;
        self.gossip_evidence(&[evidence]);
        Ok(record)
    }

    /// The evidence a block on `state` records: pooled evidence that checks, one per fault.
    fn select_evidence(&self, state: &BeaconState) -> Vec<Evidence> {
        let height = state.height + 1;
        let mut faults = Vec::new();
        let mut chosen = Vec::new();
        for evidence in self.evidence.lock().iter() {
            let Ok(record) = state.check_evidence(height, evidence) else {
                continue;
            };
            let fault = (record.organisation, record.chain, record.epoch, record.view);
            if !faults.contains(&fault) && chosen.len() < MAX_EVIDENCE {
                faults.push(fault);
                chosen.push(evidence.clone());
            }
        }
        chosen
    }

    /// The governance section of a block on `state`: pooled transactions that apply in order.
    fn select(&self, state: &BeaconState) -> Vec<u8> {
        let mut trial = state.consortium.clone();
        let height = state.height + 1;
        let chosen: Vec<SignedGovernanceTx> = self
            .pool
            .lock()
            .iter()
            .filter(|tx| trial.apply_tx(height, tx).is_ok())
            .take(MAX_GOVERNANCE_TXS)
            .cloned()
            .collect();
        encode_section(&chosen)
    }

    /// The state after block `hash`: the finalized head or a kept block.
    fn state_after(&self, hash: &B256) -> Option<BeaconState> {
        {
            let head = self.head.read();
            if head.hash == *hash {
                return Some(head.state.clone());
            }
        }
        self.kept.lock().get(hash).map(|k| k.state.clone())
    }

    /// The timestamp of block `hash`: a kept block or the finalized head.
    fn timestamp_of(&self, hash: &B256) -> Option<u64> {
        if let Some(kept) = self.kept.lock().get(hash) {
            return Some(kept.block.header.timestamp);
        }
        let head = self.head.read();
        if head.hash != *hash {
            return None;
        }
        store::block(&self.store, self.suite, head.state.height)
            .ok()
            .flatten()
            .map(|block| block.header.timestamp)
    }

    fn keep(&self, hash: B256, kept: Kept) {
        let head = self.head.read().state.height;
        let mut all = self.kept.lock();
        if all.len() >= MAX_KEPT {
            all.retain(|_, k| k.block.header.height > head);
        }
        all.insert(hash, kept);
    }

    /// Applies newly final blocks to the in-memory head and pool (after they are on disk).
    fn advance(&self, hash: B256, state: BeaconState, epoch: u64) {
        let height = state.height;
        {
            let mut head = self.head.write();
            *head = Head {
                hash,
                state: state.clone(),
            };
        }
        self.kept
            .lock()
            .retain(|_, k| k.block.header.height > height);
        self.pool
            .lock()
            .retain(|tx| state.consortium.check_tx(height + 1, tx).is_ok());
        let unrecorded = {
            let mut pool = self.evidence.lock();
            pool.retain(|e| state.check_evidence(height + 1, e).is_ok());
            pool.clone()
        };
        // Until a block records it, pooled evidence is offered again at every finalization: a
        // first gossip can find no peers (a node just started), and a full node never
        // proposes the block that would record it.
        self.gossip_evidence(&unrecorded);
        let before = self.finalized.send_replace(BeaconRef {
            root: hash,
            height,
            epoch,
        });
        *self.settled.write() = before;
    }

    /// Writes `blocks` (oldest first, each with the state after it) as final, the last one
    /// certified by `certificate`, in one atomic batch.
    fn write_final(&self, blocks: &[(B256, Kept)], certificate: &[u8]) -> anyhow::Result<()> {
        let Some((last_hash, last)) = blocks.last() else {
            return Ok(());
        };
        let certified = last.block.header.height;
        let mut batch = self.store.batch();
        for (hash, kept) in blocks {
            store::put_final(
                &mut batch,
                &store::FinalWrite {
                    block: &kept.block,
                    hash: *hash,
                    epoch: kept.epoch,
                    state: &kept.state,
                    transition: kept.transition.as_ref(),
                    certificate: Some((certified, certificate)),
                },
            )?;
        }
        self.store.write(batch)?;
        for (_, kept) in blocks {
            let txs = kaimeng_l1::beacon::decode_section(&kept.block.body.governance)
                .map(|t| t.len())
                .unwrap_or(0);
            self.metrics.finalized(kept.block.header.height, txs as u64);
            if let Some(transition) = &kept.transition {
                tracing::info!(
                    epoch = transition.epoch.epoch,
                    starts = transition.epoch.start_height,
                    validators = transition.validators.len(),
                    validators_changed = transition.validators_changed,
                    parameters_changed = transition.parameters_changed,
                    enacted = ?transition.enacted,
                    "beacon epoch boundary"
                );
            }
        }
        self.advance(*last_hash, last.state.clone(), last.epoch);
        Ok(())
    }
}

/// The beacon genesis block: no transactions, no crosslinks, committing to the genesis state.
fn genesis_block(genesis: &GenesisSpec, state: &BeaconState) -> BeaconBlock {
    // The genesis block is never applied: it proves no VRF output.
    let body = BeaconBody {
        proposer: 0,
        vrf_proof: VrfProof([0; PROOF_LEN]),
        governance: Vec::new(),
        crosslinks: Vec::new(),
        evidence: Vec::new(),
    };
    BeaconBlock {
        header: BeaconHeader {
            height: 0,
            parent: B256::ZERO,
            timestamp: genesis.timestamp,
            body_root: body.root(state.suite()),
            state_root: state.root(),
        },
        body,
    }
}
