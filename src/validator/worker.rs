//! The application side of consensus, on its own thread: builds proposals, re-executes
//! peers' blocks, finalizes, and fetches missed final blocks from peers (block sync). Work
//! is done in the order it is asked for, so finalization never races a build.

use std::sync::Arc;

use alloy_primitives::B256;
use kaimeng_consensus::{Digest, Input, Proposal, View};
use kaimeng_network::{Chain, NetworkHandle, Topic};
use kaimeng_shards::wire::{self, WireBlock};
use kaimeng_shards::{ChainError, ShardChain};
use tokio::sync::mpsc;

use super::HostEvent;
use super::beacon::{Beacon, BeaconState};

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
    VerifyKept {
        proposal: Proposal,
    },
    /// Peers run a later epoch: fetch the final blocks this node missed.
    CatchUp {
        members: Vec<kaimeng_network::PeerId>,
        agree: usize,
    },
    Finalize {
        height: u64,
        digest: Digest,
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
                Work::Finalize { height, digest } => self.finalize(height, digest),
                Work::CatchUp { members, agree } => {
                    self.catch_up(&members, agree);
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
        let rules = state.rules(self.beacon.select(&state));
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
                .and_then(|state| {
                    self.chain
                        .verify_on(
                            header,
                            block.txs.clone(),
                            &state.rules(block.beacon.clone()),
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

    fn finalize(&self, height: u64, digest: Digest) -> Result<(), ChainError> {
        let head = self.chain.head();
        if height <= head.number() {
            return Ok(()); // reported again after a restart
        }
        match self.chain.finalize_pending(&hash(digest)) {
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
                self.sync_to(height, hash(digest));
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    /// Fetches final blocks `head+1..=height` from peers, checks they link up to the
    /// certified `target`, then executes and finalizes them in order.
    fn sync_to(&self, height: u64, target: B256) {
        let from = self.chain.head().number() + 1;
        for peer in self.network.peers() {
            let blocks = self.fetch(peer, from, height);
            if blocks.len() as u64 != height + 1 - from {
                continue;
            }
            if !links_to(&blocks, self.chain.head().hash, target) {
                tracing::warn!(%peer, "synced blocks do not lead to the finalized block");
                continue;
            }
            self.apply_synced(peer, blocks);
            if self.chain.head().hash == target {
                tracing::info!(height, "caught up by block sync");
                return;
            }
        }
        tracing::warn!(
            height,
            "block sync failed; will retry on the next finalization"
        );
    }

    /// Catches up without a certificate to aim at (the node missed a whole epoch's end, so
    /// its engine cannot follow the network's): asks `agree` member peers for the blocks after
    /// the head and applies the prefix on which all of them agree. `agree` is f + 1, so at
    /// least one of them is honest, and honest members serve final blocks only.
    fn catch_up(&self, members: &[kaimeng_network::PeerId], agree: usize) {
        const SPAN: u64 = 512;
        let connected = self.network.peers();
        let peers: Vec<_> = members
            .iter()
            .filter(|p| connected.contains(p))
            .take(agree)
            .copied()
            .collect();
        if peers.len() < agree {
            return;
        }
        loop {
            let head = self.chain.head();
            let from = head.number() + 1;
            let answers: Vec<Vec<WireBlock>> = peers
                .iter()
                .map(|peer| self.fetch(*peer, from, from + SPAN - 1))
                .collect();
            let hashes = |blocks: &Vec<WireBlock>| {
                blocks
                    .iter()
                    .map(|b| b.header.hash_slow())
                    .collect::<Vec<_>>()
            };
            let first = hashes(&answers[0]);
            let common = answers.iter().skip(1).fold(first.len(), |len, other| {
                let other = hashes(other);
                len.min(first.iter().zip(&other).take_while(|(a, b)| a == b).count())
            });
            if common == 0 {
                return;
            }
            let mut blocks = answers.into_iter().next().unwrap_or_default();
            blocks.truncate(common);
            if !links_to(&blocks, head.hash, first[common - 1]) {
                return;
            }
            tracing::info!(
                from,
                to = from + common as u64 - 1,
                "catching up from member peers"
            );
            self.apply_synced(peers[0], blocks);
            if self.chain.head().number() < from + common as u64 - 1 || (common as u64) < SPAN {
                return;
            }
        }
    }

    /// Up to `to - from + 1` final blocks from `peer`, in order (fewer if it has fewer).
    fn fetch(&self, peer: kaimeng_network::PeerId, from: u64, to: u64) -> Vec<WireBlock> {
        let mut blocks: Vec<WireBlock> = Vec::new();
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
                match wire::decode_block(&raw, self.chain.config().chain_id) {
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

    /// Executes and finalizes synced blocks in order, with their beacon sections.
    fn apply_synced(&self, peer: kaimeng_network::PeerId, blocks: Vec<WireBlock>) {
        for block in blocks {
            let state = self.beacon.finalized();
            if let Err(error) = check_section(&state, &block) {
                tracing::warn!(%peer, %error, "synced block has an invalid beacon section");
                return;
            }
            let finalized = self
                .chain
                .verify(&block.header, block.txs, &state.rules(block.beacon.clone()))
                .and_then(|proposed| self.chain.finalize(proposed));
            match finalized {
                Ok(block) => {
                    self.metrics
                        .finalized(block.number(), block.txs.len() as u64);
                    if let Err(error) = self.after_final(&[block]) {
                        tracing::error!(%error, "beacon state not updated");
                        return;
                    }
                }
                Err(error) => {
                    tracing::warn!(%peer, %error, "synced block does not execute");
                    return;
                }
            }
        }
    }
}

/// The block's governance transactions apply on top of `state` (its parent's).
fn check_section(state: &BeaconState, block: &WireBlock) -> Result<(), String> {
    let header = &block.header;
    let base_fees = alloy_primitives::U256::from(header.base_fee_per_gas.unwrap_or_default())
        * alloy_primitives::U256::from(header.gas_used);
    state
        .clone()
        .apply(header.number, &block.beacon, base_fees)
        .map(|_| ())
}

fn links_to(blocks: &[WireBlock], head: B256, target: B256) -> bool {
    let mut parent = head;
    for block in blocks {
        if block.header.parent_hash != parent {
            return false;
        }
        parent = block.header.hash_slow();
    }
    parent == target
}
