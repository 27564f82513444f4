//! The application side of consensus, on its own thread: builds proposals, re-executes
//! peers' blocks, finalizes with the certificate, and fetches missed final blocks from peers
//! (block sync, every block checked against a certificate, `super::sync`). Work is done in the
//! order it is asked for, so finalization never races a build.

use std::sync::Arc;

use alloy_primitives::B256;
use kaimeng_consensus::{Digest, Input, Proposal, View};
use kaimeng_network::{Chain, NetworkHandle, Topic};
use kaimeng_shards::wire::{self, WireBlock};
use kaimeng_shards::{ChainError, ShardChain};
use tokio::sync::mpsc;

use super::HostEvent;
use super::beacon::{self, Beacon, BeaconState, StateError};
use super::crypto::SuiteVerifier;
use super::epoch;
use super::sync::{self, EpochValidators, SyncError, SyncedBlock};

/// Most blocks asked for in one round of block sync.
const SYNC_SPAN: u64 = 512;

pub enum Work {
    Build {
        view: View,
        parent: Digest,
        height: u64,
    },
    Verify {
        proposal: Proposal,
        block: Arc<WireBlock>,
    },
    /// A proposal whose body did not arrive: maybe this node kept it before a restart.
    VerifyKept { proposal: Proposal },
    /// Peers run a later epoch: fetch the final blocks this node missed.
    CatchUp,
    Finalize {
        height: u64,
        digest: Digest,
        /// The encoded finality certificate.
        certificate: Vec<u8>,
    },
}

pub struct Worker {
    pub chain: Arc<ShardChain>,
    pub network: NetworkHandle,
    pub runtime: tokio::runtime::Handle,
    pub to_host: mpsc::UnboundedSender<HostEvent>,
    pub fee_recipient: alloy_primitives::Address,
    pub max_txs: usize,
    pub shard: u32,
    pub metrics: crate::metrics::ChainMetrics,
    pub beacon: Arc<Beacon>,
}

pub fn digest(hash: B256) -> Digest {
    Digest(hash.0)
}

pub fn hash(digest: Digest) -> B256 {
    B256::from(digest.0)
}

impl Worker {
    pub fn run(self, mut work: mpsc::UnboundedReceiver<Work>) {
        while let Some(item) = work.blocking_recv() {
            let outcome = match item {
                Work::Build {
                    view,
                    parent,
                    height,
                } => self.build(view, parent, height),
                Work::Verify { proposal, block } => self.verify(proposal, &block),
                Work::VerifyKept { proposal } => {
                    self.verify_kept(proposal);
                    Ok(())
                }
                Work::Finalize {
                    height,
                    digest,
                    certificate,
                } => self.finalize(height, digest, &certificate),
                Work::CatchUp => {
                    self.sync(None);
                    Ok(())
                }
            };
            if let Err(error) = outcome {
                // Only a failed write of final data gets here: stop rather than diverge.
                tracing::error!(%error, "shard {} stopped: cannot write a final block", self.shard);
                return;
            }
        }
    }

    fn send(&self, input: Input) {
        let _ = self.to_host.send(HostEvent::Engine(input));
    }

    fn build(&self, view: View, parent: Digest, height: u64) -> Result<(), ChainError> {
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let state = match self.beacon.state_after(&hash(parent)) {
            Ok(state) => state,
            Err(error) => {
                tracing::warn!(view, %error, "cannot build a proposal: no beacon state");
                return Ok(());
            }
        };
        let rules = beacon::rules(&state, self.beacon.select(&state));
        match self.chain.propose_on(
            &hash(parent),
            timestamp,
            self.fee_recipient,
            self.max_txs,
            &rules,
        ) {
            Ok(block) if block.number() == height => {
                let bytes = wire::encode_block(&block);
                let topic = Topic::Blocks(Chain::Shard(self.shard));
                if let Err(error) = self.runtime.block_on(self.network.publish(topic, bytes)) {
                    tracing::debug!(%error, "proposal body not gossiped");
                }
                tracing::debug!(view, height, txs = block.txs.len(), "proposing");
                self.send(Input::PayloadReady {
                    view,
                    payload: digest(block.hash()),
                });
            }
            Ok(block) => tracing::warn!(
                view,
                height,
                built = block.number(),
                "engine asked for a height that does not follow its parent"
            ),
            // Without the parent we cannot lead this view; the view times out.
            Err(error) => tracing::warn!(view, %error, "cannot build a proposal"),
        }
        Ok(())
    }

    fn verify(&self, proposal: Proposal, block: &WireBlock) -> Result<(), ChainError> {
        let header = &block.header;
        let valid = if header.parent_hash != hash(proposal.parent.digest)
            || header.number != proposal.height
        {
            tracing::warn!(
                view = proposal.view,
                "proposal body does not match its parent or height"
            );
            false
        } else {
            let checked = self
                .beacon
                .state_after(&header.parent_hash)
                .and_then(|state| check_section(&state, block).map(|()| state))
                .map_err(|error| error.to_string())
                .and_then(|state| {
                    self.chain
                        .verify_on(
                            header,
                            block.txs.clone(),
                            &beacon::rules(&state, block.beacon.clone()),
                        )
                        .map_err(|e| e.to_string())
                });
            match checked {
                Ok(_) => true,
                Err(error) => {
                    tracing::warn!(view = proposal.view, %error, "rejecting proposal");
                    false
                }
            }
        };
        self.send(Input::PayloadVerified {
            view: proposal.view,
            payload: proposal.payload,
            valid,
        });
        Ok(())
    }

    fn verify_kept(&self, proposal: Proposal) {
        if let Ok(block) = self.chain.kept_block(&hash(proposal.payload)) {
            let header = &block.header.header;
            self.send(Input::PayloadVerified {
                view: proposal.view,
                payload: proposal.payload,
                valid: header.parent_hash == hash(proposal.parent.digest)
                    && header.number == proposal.height,
            });
        }
    }

    /// Moves the beacon state over newly final blocks; reports epoch transitions.
    fn after_final(&self, blocks: &[Arc<kaimeng_shards::StoredBlock>]) -> Result<(), ChainError> {
        let transitions = self
            .beacon
            .on_finalized(blocks)
            .map_err(|e| ChainError::InvalidProposal(format!("beacon state: {e:#}")))?;
        for transition in transitions {
            tracing::info!(
                epoch = transition.epoch.epoch,
                starts = transition.epoch.start_height,
                validators = transition.validators.len(),
                validators_changed = transition.validators_changed,
                parameters_changed = transition.parameters_changed,
                enacted = ?transition.enacted,
                "epoch boundary"
            );
            let _ = self.to_host.send(HostEvent::Epoch(Box::new(transition)));
        }
        Ok(())
    }

    fn finalize(&self, height: u64, digest: Digest, certificate: &[u8]) -> Result<(), ChainError> {
        let head = self.chain.head();
        if height <= head.number() {
            return Ok(()); // reported again after a restart
        }
        match self
            .chain
            .finalize_pending_certified(&hash(digest), certificate)
        {
            Ok(blocks) => {
                self.after_final(&blocks)?;
                for block in blocks {
                    self.metrics
                        .finalized(block.number(), block.txs.len() as u64);
                    tracing::info!(number = block.number(), txs = block.txs.len(), hash = %block.hash(), "finalized");
                }
                Ok(())
            }
            Err(ChainError::UnknownBlock(_)) => {
                self.sync(Some(height));
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    /// Fetches the final blocks after the head from peers (up to `target`, or as far as they
    /// have) and executes and finalizes those a certificate proves final. A peer whose answer
    /// does not check out is skipped for the next one.
    fn sync(&self, target: Option<u64>) {
        let reached = |chain: &ShardChain| target.is_some_and(|t| chain.head().number() >= t);
        for peer in self.network.peers() {
            loop {
                if reached(&self.chain) {
                    tracing::info!(head = self.chain.head().number(), "caught up by block sync");
                    return;
                }
                let from = self.chain.head().number() + 1;
                let blocks = self.fetch(peer, from, from + SYNC_SPAN - 1);
                if blocks.is_empty() {
                    break;
                }
                match self.apply_certified(blocks) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%peer, %error, from, "block sync answer refused");
                        break;
                    }
                }
            }
        }
        if let Some(target) = target.filter(|_| !reached(&self.chain)) {
            tracing::warn!(
                target,
                head = self.chain.head().number(),
                "block sync incomplete; will retry on the next finalization"
            );
        }
    }

    /// Up to `to - from + 1` final blocks from `peer`, in order (fewer if it has fewer, or
    /// sent something undecodable).
    fn fetch(&self, peer: kaimeng_network::PeerId, from: u64, to: u64) -> Vec<SyncedBlock> {
        let mut blocks = Vec::new();
        let mut next = from;
        while next <= to {
            // Peers answer at most 128 blocks per request (`Limits::max_blocks_per_request`).
            let last = to.min(next + 127);
            let answer = self.runtime.block_on(self.network.request_blocks(
                peer,
                Chain::Shard(self.shard),
                next,
                last,
            ));
            let Ok(raws) = answer else { break };
            if raws.is_empty() {
                break;
            }
            for raw in raws {
                match sync::decode(&raw, self.chain.config().chain_id) {
                    Ok(block) => blocks.push(block),
                    Err(error) => {
                        tracing::warn!(%peer, %error, "peer sent an invalid block");
                        return blocks;
                    }
                }
            }
            next = from + blocks.len() as u64;
        }
        blocks
    }

    /// Checks and applies the certified prefixes of `blocks`, one epoch's validator set at a
    /// time (an epoch's last block always has its own certificate, so a prefix never spans two
    /// epochs). Returns how many blocks were applied.
    fn apply_certified(&self, mut blocks: Vec<SyncedBlock>) -> Result<usize, SyncError> {
        let mut applied = 0;
        while !blocks.is_empty() {
            let state = self.beacon.finalized();
            let epoch = state.consortium.epoch();
            let Ok(validators) = epoch::validator_set(&state) else {
                return Ok(applied);
            };
            let verifier = SuiteVerifier::new(state.consortium.crypto_suite(), &validators);
            let namespace = epoch::namespace(self.shard);
            let check = EpochValidators {
                namespace: &namespace,
                epoch: epoch.epoch,
                last_height: epoch.last_height,
                validators: &validators,
                verifier: &verifier,
            };
            let count = match sync::certified_prefix(&blocks, self.chain.head().hash, &check) {
                Ok(count) => count,
                // The rest of a prefix is in the next answer.
                Err(SyncError::Incomplete { .. }) if applied > 0 => return Ok(applied),
                Err(error) => return Err(error),
            };
            let rest = blocks.split_off(count);
            let certified = blocks[count - 1].block.header.number;
            let certificate = std::mem::take(&mut blocks[count - 1].certificate);
            for synced in blocks {
                if !self.apply_synced(synced.block, certified, &certificate) {
                    return Ok(applied);
                }
                applied += 1;
            }
            blocks = rest;
        }
        Ok(applied)
    }

    /// Executes and finalizes one proven-final block with its beacon section; false if it
    /// does not execute (which a certificate of honest validators rules out).
    fn apply_synced(&self, block: WireBlock, certified: u64, certificate: &[u8]) -> bool {
        let state = self.beacon.finalized();
        if let Err(error) = check_section(&state, &block) {
            tracing::error!(%error, number = block.header.number, "certified block has an invalid beacon section");
            return false;
        }
        let finalized = self
            .chain
            .verify(
                &block.header,
                block.txs,
                &beacon::rules(&state, block.beacon.clone()),
            )
            .and_then(|proposed| {
                self.chain
                    .finalize_certified(proposed, certified, certificate)
            });
        match finalized {
            Ok(block) => {
                self.metrics
                    .finalized(block.number(), block.txs.len() as u64);
                if let Err(error) = self.after_final(&[block]) {
                    tracing::error!(%error, "beacon state not updated");
                    return false;
                }
                true
            }
            Err(error) => {
                tracing::error!(%error, "certified block does not execute");
                false
            }
        }
    }
}

/// The block's governance transactions apply on top of `state` (its parent's).
fn check_section(state: &BeaconState, block: &WireBlock) -> Result<(), StateError> {
    let header = &block.header;
    state
        .clone()
        .apply(header.number, &block.beacon, beacon::base_fees(header))
        .map(|_| ())
        .map_err(|error| StateError::Apply {
            height: header.number,
            error,
        })
}
