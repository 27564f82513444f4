//! A shard behind the consensus host. Its blocks name a beacon block the proposer finalized
//! (the one before its newest, so that followers have it too; `kaimeng_l1::beacon::reference`)
//! and follow that beacon epoch's rules: gas limit, base-fee floor, and the fee shares of every
//! beacon epoch that ended since the parent's reference. Its epochs are fixed spans of shard heights whose validators come from the beacon
//! epoch that the previous span's last block references (ADR 0096).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{Address, B256};
use anyhow::{Context, anyhow};
use futures::future::BoxFuture;
use kaimeng_consensus::{Digest, PublicKey, ValidatorIndex, ValidatorSet};
use kaimeng_l1::beacon::{BeaconRef, shard_epoch, shard_epoch_end, shard_namespace};
use kaimeng_network::{Chain, PeerId};
use kaimeng_shards::ShardTx;
use kaimeng_shards::wire::{self, WireBlock, WireError};
use kaimeng_shards::{BlockRules, ChainError, ChainEvent, ShardChain};
use tokio::sync::broadcast::error::RecvError;

use super::app::{Application, BodyError, EpochPlan, Finalized, digest, unix_now};
use super::beacon::{BeaconChain, EpochRecord};
use super::crypto::SuiteVerifier;
use super::gossip;
use super::relay;
use super::state_sync::{self, Next, SnapshotServer, StateSyncConfig};
use super::sync::{self, EpochValidators, SyncError};
use crate::metrics::ChainMetrics;
use kaimeng_shards::crossshard::relay::RemoteOutbox;

/// How long a follower waits for its beacon chain to finalize the block a proposal references.
const BEACON_WAIT: Duration = Duration::from_secs(2);

pub struct ShardApp {
    pub chain: Arc<ShardChain>,
    pub beacon: Arc<BeaconChain>,
    pub runtime: tokio::runtime::Handle,
    pub fee_recipient: Address,
    pub max_txs: usize,
    pub metrics: ChainMetrics,
    /// What this node serves of the shard's state, for nodes that sync it.
    pub snapshots: Arc<SnapshotServer>,
    pub state_sync: StateSyncConfig,
    /// Snapshot attempts that failed; after [`SNAPSHOT_ATTEMPTS`] the shard replays blocks.
    pub snapshot_failures: std::sync::atomic::AtomicU32,
    /// The messages of the shards this node does not hold, fetched from peers that do.
    pub remote: parking_lot::Mutex<Vec<RemoteOutbox>>,
}

/// Holders of a source that answered "nothing from that nonce" after which no more peers are
/// asked in that round (one may be behind; two agreeing is the common case of nothing sent).
const EMPTY_ANSWERS_ENOUGH: usize = 2;

/// Failed snapshot attempts after which a shard at genesis replays its blocks instead.
const SNAPSHOT_ATTEMPTS: u32 = 3;

impl ShardApp {
    /// Follows which shards this node holds (a chain it does not hold refuses transactions),
    /// and keeps the outboxes of the shards it does not hold fresh: at every beacon
    /// finalization, asks peers for the messages each such shard sent here from this shard's
    /// inbox nonce on, checks them against the crosslinks, and keeps them for proposals.
    pub async fn fetch_remote_messages(self: Arc<Self>, network: kaimeng_network::NetworkHandle) {
        let mut finalized = self.beacon.subscribe_finalized();
        while finalized.changed().await.is_ok() {
            let me = self.shard();
            let holds = self.beacon.holds(me);
            if holds != self.chain.not_held().is_none() {
                tracing::info!(
                    shard = me,
                    holds,
                    "this validator's committees changed: it {} shard {me}",
                    if holds {
                        "now holds"
                    } else {
                        "no longer holds"
                    }
                );
                self.chain.set_not_held((!holds).then(|| {
                    format!("this node does not execute shard {me} now (its committees do not include this validator); send the transaction to a member of shard {me}'s committee or to a full node (kaimeng_committees lists them)")
                }));
                // Leave (or rejoin) the shard's gossip meshes: a node that does not hold a
                // shard would neither check nor forward its messages.
                let chain = self.chain();
                for topic in [
                    kaimeng_network::Topic::Consensus(chain),
                    kaimeng_network::Topic::Transactions(chain),
                    kaimeng_network::Topic::Blocks(chain),
                ] {
                    let _ = if holds {
                        network.subscribe(topic).await
                    } else {
                        network.unsubscribe(topic).await
                    };
                }
            }
            if !holds {
                self.remote.lock().clear();
                continue;
            }
            let mut fetched = Vec::new();
            for source in (0..self.beacon.shard_count()).filter(|s| *s != me) {
                if self.beacon.holds(source) {
                    continue;
                }
                let head = self.chain.head().hash;
                let Ok(from) = self.chain.inbox_nonce(&head, source) else {
                    continue;
                };
                let mut peers = network.peers();
                if !peers.is_empty() {
                    let start = (from as usize + me as usize) % peers.len();
                    peers.rotate_left(start);
                }
                let mut empty = 0;
                for peer in peers {
                    let Ok(Some(bytes)) = network.request_messages(peer, source, me, from).await
                    else {
                        continue;
                    };
                    let checked = kaimeng_shards::crossshard::commitment::decode_deliveries(&bytes)
                        .map_err(|e| anyhow!(e))
                        .and_then(|d| {
                            relay::check_served(&self.beacon, &self.chain, source, from, &d)?;
                            Ok(d)
                        });
                    match checked {
                        // A peer that is behind (or synced past these messages) may have none
                        // yet: ask the next one.
                        Ok(deliveries) if deliveries.is_empty() => {
                            empty += 1;
                            if empty == EMPTY_ANSWERS_ENOUGH {
                                break;
                            }
                        }
                        Ok(deliveries) => {
                            fetched.push(RemoteOutbox {
                                shard: source,
                                deliveries,
                            });
                            break;
                        }
                        Err(error) => {
                            tracing::warn!(%peer, source, error = format!("{error:#}"), "refused cross-shard messages a peer served")
                        }
                    }
                }
            }
            *self.remote.lock() = fetched;
        }
    }

    fn shard(&self) -> u32 {
        self.chain.config().shard
    }

    fn epoch_length(&self) -> u64 {
        self.beacon.finalized_state().shard_epoch_length
    }

    fn record(&self, epoch: u64) -> anyhow::Result<EpochRecord> {
        self.beacon
            .epoch_record(epoch)?
            .ok_or_else(|| anyhow!("beacon epoch {epoch} is not finalized on this node yet"))
    }

    /// The rules of a block whose parent references `parent` and which references
    /// `reference`: that beacon epoch's limits, and the fee shares of every epoch since.
    fn rules(&self, parent: &BeaconRef, reference: &BeaconRef) -> anyhow::Result<BlockRules> {
        let record = self.record(reference.epoch)?;
        let mut payouts = Vec::new();
        for epoch in parent.epoch + 1..=reference.epoch {
            let record = self.record(epoch)?;
            payouts.extend(
                record
                    .payouts
                    .get(self.shard() as usize)
                    .cloned()
                    .unwrap_or_default(),
            );
        }
        Ok(BlockRules {
            gas_limit: record.gas_limit,
            min_base_fee: record.min_base_fee,
            payouts,
            beacon: *reference,
        })
    }

    /// The header of `hash`: the finalized head or a kept block.
    fn header(&self, hash: &B256) -> Result<alloy_consensus::Header, ChainError> {
        let head = self.chain.head();
        if head.hash == *hash {
            return Ok(head.header);
        }
        Ok(self.chain.kept_block(hash)?.header.header.clone())
    }

    /// The validators of the shard epoch of height `height` (whose anchor is final here).
    fn validators_for(&self, height: u64) -> anyhow::Result<(u64, EpochRecord)> {
        let length = self.epoch_length();
        let epoch = shard_epoch(height, length);
        let beacon_epoch = if epoch == 0 {
            0
        } else {
            let anchor = shard_epoch_end(epoch - 1, length);
            let header = self
                .chain
                .header(anchor)?
                .with_context(|| format!("epoch anchor {anchor} is not final here"))?;
            BeaconRef::of_header(&header.header)?.epoch
        };
        Ok((epoch, self.record(beacon_epoch)?))
    }

    /// A reference checked against this node's beacon chain (waiting briefly for it).
    fn checked_reference(&self, header: &alloy_consensus::Header) -> anyhow::Result<BeaconRef> {
        let claimed = BeaconRef::of_header(header)?;
        let known = self
            .runtime
            .block_on(self.beacon.wait_for_reference(claimed.root, BEACON_WAIT))?
            .ok_or_else(|| {
                anyhow!(
                    "references beacon block {} this node has not finalized",
                    claimed.root
                )
            })?;
        if known != claimed {
            return Err(anyhow!(
                "references beacon block {} as height {} epoch {}, but it is height {} epoch {}",
                claimed.root,
                claimed.height,
                claimed.epoch,
                known.height,
                known.epoch
            ));
        }
        Ok(known)
    }
}

/// Shard `shard`'s committee in `record`'s beacon epoch as the engine's validator set.
fn validator_set(record: &EpochRecord, shard: u32) -> anyhow::Result<ValidatorSet> {
    ValidatorSet::new(
        record
            .committee(shard)
            .iter()
            .map(|v| PublicKey(v.consensus_key.to_vec()))
            .collect(),
    )
    .map_err(|e| {
        anyhow!(
            "shard {shard}'s committee in beacon epoch {}: {e}",
            record.epoch
        )
    })
}

impl Application for ShardApp {
    type Body = WireBlock;

    fn chain(&self) -> Chain {
        Chain::Shard(self.shard())
    }

    fn namespace(&self) -> Vec<u8> {
        shard_namespace(self.shard())
    }

    fn name(&self) -> String {
        format!("shard-{}", self.shard())
    }

    fn head(&self) -> (u64, Digest) {
        let head = self.chain.head();
        (head.number(), digest(head.hash))
    }

    fn epoch_plan(&self) -> anyhow::Result<EpochPlan> {
        let next = self.chain.head().number() + 1;
        let (epoch, record) = self.validators_for(next)?;
        let shard = self.shard();
        Ok(EpochPlan {
            epoch,
            validators: validator_set(&record, shard)?,
            peers: record
                .committee(shard)
                .iter()
                .map(|v| v.peer_id.parse::<PeerId>().ok())
                .collect(),
            last_height: shard_epoch_end(epoch, self.epoch_length()),
        })
    }

    fn decode_body(
        &self,
        bytes: &[u8],
        fetched: &[Vec<u8>],
    ) -> Result<(Digest, WireBlock), BodyError> {
        let chain = &self.chain;
        let chain_id = chain.config().chain_id;
        // Fetched transactions are checked like any peer's; the hash they are found under is
        // their own.
        let fetched: HashMap<B256, Arc<ShardTx>> = fetched
            .iter()
            .filter_map(|raw| ShardTx::decode(raw, chain_id).ok())
            .map(|tx| (tx.hash, Arc::new(tx)))
            .collect();
        // Pooled transactions were checked when they arrived: skip recovering them.
        let block = wire::decode_proposal_with(bytes, chain_id, |hashes| {
            let pool = chain.pool();
            hashes
                .iter()
                .map(|hash| pool.get(hash).or_else(|| fetched.get(hash).cloned()))
                .collect()
        })
        .map_err(|e| match e {
            WireError::Missing(hashes) => BodyError::Missing(hashes.iter().map(|h| h.0).collect()),
            e => BodyError::Invalid(e.to_string()),
        })?;
        Ok((digest(block.header.hash_slow()), block))
    }

    fn build(
        &self,
        parent: Digest,
        height: u64,
        _proposer: ValidatorIndex,
    ) -> Result<(Digest, Vec<u8>), String> {
        let parent = B256::from(parent.0);
        let parent_header = self.header(&parent).map_err(|e| e.to_string())?;
        let parent_ref = BeaconRef::of_header(&parent_header).map_err(|e| e.to_string())?;
        let mut reference = self.beacon.settled_ref();
        if reference.height < parent_ref.height {
            // The parent references a newer beacon block: follow the parent.
            reference = parent_ref;
        }
        let collect = |reference: &BeaconRef| {
            relay::deliveries_for(
                &self.beacon,
                &self.chain,
                &self.remote.lock(),
                &parent,
                reference.height,
            )
            .map_err(|e| format!("collecting cross-shard messages: {e:#}"))
        };
        let mut deliveries = collect(&reference)?;
        let newest = self.beacon.finalized_ref();
        if deliveries.is_empty() && newest.height > reference.height {
            // Messages crosslinked in the newest final beacon block are delivered now rather
            // than a beacon block later; followers wait briefly for that block if need be.
            let sooner = collect(&newest)?;
            if !sooner.is_empty() {
                reference = newest;
                deliveries = sooner;
            }
        }
        let rules = self
            .rules(&parent_ref, &reference)
            .map_err(|e| e.to_string())?;
        let block = self
            .chain
            .propose_on(
                &parent,
                unix_now(),
                self.fee_recipient,
                self.max_txs,
                &rules,
                deliveries,
            )
            .map_err(|e| e.to_string())?;
        if block.number() != height {
            return Err(format!(
                "asked for height {height}, but the parent is at {}",
                block.number() - 1
            ));
        }
        Ok((
            digest(block.hash()),
            wire::encode_proposal(&block, wire::NAMED_TX_BYTES),
        ))
    }

    fn verify(
        &self,
        parent: Digest,
        height: u64,
        _proposer: ValidatorIndex,
        block: &WireBlock,
    ) -> Result<(), String> {
        let header = &block.header;
        if header.parent_hash != B256::from(parent.0) || header.number != height {
            return Err("proposal body does not match its parent or height".into());
        }
        let checked = (|| -> anyhow::Result<()> {
            let parent_ref = BeaconRef::of_header(&self.header(&header.parent_hash)?)?;
            let reference = self.checked_reference(header)?;
            if reference.height < parent_ref.height {
                return Err(anyhow!(
                    "references beacon height {} below its parent's {}",
                    reference.height,
                    parent_ref.height
                ));
            }
            let rules = self.rules(&parent_ref, &reference)?;
            relay::check_deliveries(
                &self.beacon,
                &self.chain,
                &block.deliveries,
                reference.height,
            )?;
            self.chain
                .verify_on(header, block.txs.clone(), block.deliveries.clone(), &rules)?;
            Ok(())
        })();
        checked.map_err(|e| format!("{e:#}"))
    }

    fn verify_kept(
        &self,
        payload: Digest,
        parent: Digest,
        height: u64,
        _proposer: ValidatorIndex,
    ) -> Option<bool> {
        let block = self.chain.kept_block(&B256::from(payload.0)).ok()?;
        let header = &block.header.header;
        Some(header.parent_hash == B256::from(parent.0) && header.number == height)
    }

    fn finalize(&self, payload: Digest, certificate: &[u8]) -> anyhow::Result<Finalized> {
        match self
            .chain
            .finalize_pending_certified(&B256::from(payload.0), certificate)
        {
            Ok(blocks) => {
                for block in &blocks {
                    self.metrics
                        .finalized(block.number(), block.txs.len() as u64);
                    tracing::info!(shard = self.shard(), number = block.number(), txs = block.txs.len(), hash = %block.hash(), "finalized");
                }
                Ok(Finalized::Heights(
                    blocks.iter().map(|b| b.number()).collect(),
                ))
            }
            Err(ChainError::UnknownBlock(_)) => Ok(Finalized::Unknown),
            Err(error) => Err(error.into()),
        }
    }

    fn before_block_sync(&self, network: &kaimeng_network::NetworkHandle) -> bool {
        let shard = self.shard();
        if !self.beacon.holds(shard) {
            return false;
        }
        if self
            .snapshot_failures
            .load(std::sync::atomic::Ordering::Relaxed)
            >= SNAPSHOT_ATTEMPTS
        {
            return true;
        }
        match state_sync::catch_up(
            &self.chain,
            &self.beacon,
            network,
            &self.runtime,
            &self.state_sync,
        ) {
            Ok(Next::BlockSync) => true,
            Ok(Next::Wait) => {
                tracing::info!(
                    shard,
                    "shard sync waits for the beacon chain to catch up, to choose between a state snapshot and block replay"
                );
                false
            }
            Err(error) => {
                use std::sync::atomic::Ordering;
                let failures = self.snapshot_failures.fetch_add(1, Ordering::Relaxed) + 1;
                let replay = failures >= SNAPSHOT_ATTEMPTS;
                tracing::warn!(
                    shard,
                    failures,
                    replay,
                    error = format!("{error:#}"),
                    "state sync failed; trying again on the next catch-up, or replaying blocks after {SNAPSHOT_ATTEMPTS} failures"
                );
                replay
            }
        }
    }

    fn serve(&self, height: u64) -> Option<Vec<u8>> {
        let block = self.chain.block(height).ok().flatten()?;
        let certificate = self.chain.certificate(height).ok().flatten();
        Some(sync::encode_shard(&block, certificate))
    }

    fn apply_synced(&self, answer: Vec<Vec<u8>>) -> Result<usize, String> {
        let chain_id = self.chain.config().chain_id;
        let mut blocks = Vec::with_capacity(answer.len());
        for raw in &answer {
            match sync::decode(raw, chain_id) {
                Ok(block) => blocks.push(block),
                Err(error) if blocks.is_empty() => return Err(error.to_string()),
                Err(_) => break,
            }
        }
        let mut applied = 0;
        while !blocks.is_empty() {
            let head = self.chain.head();
            let plan = match self.epoch_plan() {
                Ok(plan) => plan,
                // The beacon chain must catch up first; the next round goes on.
                Err(error) => {
                    tracing::info!(%error, "shard sync waits for the beacon chain");
                    return Ok(applied);
                }
            };
            let verifier = SuiteVerifier::new(self.beacon.suite(), &plan.validators);
            let namespace = self.namespace();
            let check = EpochValidators {
                namespace: &namespace,
                epoch: plan.epoch,
                last_height: plan.last_height,
                validators: &plan.validators,
                verifier: &verifier,
            };
            let count = match sync::certified_prefix(&blocks, head.hash, &check) {
                Ok(count) => count,
                Err(SyncError::Incomplete { .. }) if applied > 0 => return Ok(applied),
                Err(error) => return Err(error.to_string()),
            };
            let rest = blocks.split_off(count);
            let certified = blocks[count - 1].number;
            let certificate = std::mem::take(&mut blocks[count - 1].certificate);
            for served in blocks {
                match self.apply_one(served.block, certified, &certificate) {
                    Ok(()) => applied += 1,
                    Err(error) => {
                        tracing::info!(%error, "certified shard block not applied yet");
                        return Ok(applied);
                    }
                }
            }
            blocks = rest;
        }
        Ok(applied)
    }

    fn report_fault(
        &self,
        key: Vec<u8>,
        first: kaimeng_consensus::SignedVote,
        second: kaimeng_consensus::SignedVote,
    ) {
        let evidence = kaimeng_l1::beacon::Evidence {
            chain: self.shard(),
            key,
            first,
            second,
        };
        if let Err(error) = self.beacon.submit_evidence(evidence) {
            tracing::warn!(shard = self.shard(), %error, "evidence not pooled");
        }
    }

    fn on_transactions(&self, data: Vec<u8>) {
        if let Err(error) = gossip::pool_remote(&self.chain, &data) {
            tracing::debug!(%error, "invalid transaction batch");
        }
    }

    /// Waits for an executable transaction when the pool has none. Transactions queued behind
    /// a nonce gap do not end the wait: they cannot go into the block, and proposing early for
    /// them would seal empty blocks as fast as consensus allows.
    fn wait_for_work(self: Arc<Self>, idle: Duration) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let chain = &self.chain;
            let mut events = chain.subscribe();
            if chain.has_executable() || self.has_deliverable() {
                return;
            }
            let mut beacon = self.beacon.subscribe_finalized();
            let _ = tokio::time::timeout(idle, async {
                loop {
                    tokio::select! {
                        event = events.recv() => match event {
                            Ok(ChainEvent::PendingTx(hash)) if chain.is_executable(&hash) => return,
                            Err(RecvError::Lagged(_)) if chain.has_executable() => return,
                            Err(RecvError::Closed) => return,
                            Ok(_) | Err(RecvError::Lagged(_)) => {}
                        },
                        // A beacon block that crosslinks messages for this shard ends the wait.
                        changed = beacon.changed() => {
                            if changed.is_err() || self.has_deliverable() {
                                return;
                            }
                        }
                    }
                }
            })
            .await;
        })
    }
}

impl ShardApp {
    /// Whether a cross-shard message for this shard is crosslinked in a final beacon block
    /// and not yet taken by the head.
    fn has_deliverable(&self) -> bool {
        let head = self.chain.head();
        let newest = self.beacon.finalized_ref().height;
        relay::deliveries_for(
            &self.beacon,
            &self.chain,
            &self.remote.lock(),
            &head.hash,
            newest,
        )
        .is_ok_and(|d| !d.is_empty())
    }

    /// Executes and finalizes one proven-final block (its beacon reference must be final
    /// here; otherwise it waits for the next sync round).
    fn apply_one(
        &self,
        block: WireBlock,
        certified: u64,
        certificate: &[u8],
    ) -> anyhow::Result<()> {
        let head = self.chain.head();
        let parent_ref = BeaconRef::of_header(&head.header)?;
        let claimed = BeaconRef::of_header(&block.header)?;
        let reference = self
            .beacon
            .reference(&claimed.root)?
            .filter(|known| *known == claimed)
            .ok_or_else(|| anyhow!("beacon block {} is not final here yet", claimed.root))?;
        let rules = self.rules(&parent_ref, &reference)?;
        relay::check_deliveries(
            &self.beacon,
            &self.chain,
            &block.deliveries,
            reference.height,
        )?;
        let proposed = self
            .chain
            .verify(&block.header, block.txs, block.deliveries, &rules)?;
        let block = self
            .chain
            .finalize_certified(proposed, certified, certificate)?;
        self.metrics
            .finalized(block.number(), block.txs.len() as u64);
        Ok(())
    }
}

#[cfg(test)]
#[path = "shard_tests.rs"]
mod tests;
