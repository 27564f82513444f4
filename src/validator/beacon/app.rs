//! The beacon chain behind the consensus host: a proposer selects governance transactions and
//! crosslinks and seals a block on its parent's state; a follower applies the block to the same
//! state and accepts it only if the header's state root matches; a final block is written with
//! its certificate; block sync applies only what a certificate of that epoch's members proves.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_primitives::B256;
use futures::future::BoxFuture;
use kaimeng_consensus::{Digest, ValidatorIndex, ValidatorSet};
use kaimeng_l1::beacon::block::check_timestamp;
use kaimeng_l1::beacon::{BEACON_NAMESPACE, BeaconBlock, BeaconBody, validator_set, vrf_input};
use kaimeng_network::{Chain, PeerId};

use super::{BeaconChain, Kept, crosslinks, store};
use crate::validator::app::{Application, BodyError, EpochPlan, Finalized, digest, unix_now};
use crate::validator::crypto::SuiteVerifier;
use crate::validator::sync::{self, EpochValidators, Served};

/// The shortest time between beacon blocks that only carry crosslinks (or the idle interval, if
/// shorter): crosslinks are not urgent, and every beacon block is a consensus round on the same
/// cores as the shards.
const CROSSLINK_INTERVAL: Duration = Duration::from_secs(1);

/// The shortest time between beacon blocks when a shard block waiting for its crosslink sent
/// cross-shard messages: their delivery waits for the link, so it should not wait long.
const MESSAGE_LINK_INTERVAL: Duration = Duration::from_millis(50);

fn hash(digest: Digest) -> B256 {
    B256::from(digest.0)
}

impl BeaconChain {
    fn current_validators(&self) -> anyhow::Result<(ValidatorSet, u64, u64)> {
        let state = self.finalized_state();
        let keys: Vec<Vec<u8>> = state
            .consortium
            .validators()
            .iter()
            .map(|v| v.consensus_key.to_vec())
            .collect();
        let epoch = state.consortium.epoch();
        Ok((validator_set(&keys)?, epoch.epoch, epoch.last_height))
    }

    /// Per shard, the height the finalized state has linked.
    fn linked_heights(&self) -> Vec<u64> {
        self.head
            .read()
            .state
            .shards
            .iter()
            .map(|l| l.height)
            .collect()
    }

    /// Whether a shard this node holds has final blocks the finalized state has not linked.
    fn has_unlinked(&self) -> bool {
        let linked = self.linked_heights();
        self.shards
            .iter()
            .zip(linked)
            .any(|(chain, linked)| chain.head().number() > linked)
    }

    /// Whether a final shard block the finalized state has not linked sent cross-shard
    /// messages: linking it at once lets them be delivered sooner (the newest few are read).
    fn has_unlinked_messages(&self) -> bool {
        const NEWEST: u64 = 16;
        let linked = self.linked_heights();
        self.shards.iter().zip(linked).any(|(chain, linked)| {
            let head = chain.head().number();
            (linked.max(head.saturating_sub(NEWEST)) + 1..=head).any(|number| {
                chain.header(number).ok().flatten().is_some_and(|h| {
                    h.header.requests_hash
                        != Some(kaimeng_shards::crossshard::commitment::EMPTY_REQUESTS_HASH)
                })
            })
        })
    }

    /// Applies `block` on the state after its parent and keeps it.
    fn check_and_keep(&self, block: BeaconBlock) -> Result<B256, String> {
        let parent = block.header.parent;
        let mut state = self
            .state_after(&parent)
            .ok_or_else(|| format!("unknown parent {parent}"))?;
        let parent_time = self
            .timestamp_of(&parent)
            .ok_or_else(|| format!("unknown parent {parent}"))?;
        check_timestamp(block.header.timestamp, parent_time, unix_now())
            .map_err(|e| e.to_string())?;
        let epoch = state.consortium.epoch().epoch;
        let transition = state.apply(&block).map_err(|e| e.to_string())?;
        let hash = block.hash(self.suite);
        self.keep(
            hash,
            Kept {
                block,
                state,
                epoch,
                transition,
            },
        );
        Ok(hash)
    }
}

impl Application for BeaconChain {
    type Body = BeaconBlock;

    fn chain(&self) -> Chain {
        Chain::Beacon
    }

    fn namespace(&self) -> Vec<u8> {
        BEACON_NAMESPACE.to_vec()
    }

    fn name(&self) -> String {
        "beacon".into()
    }

    fn head(&self) -> (u64, Digest) {
        let head = self.head.read();
        (head.state.height, digest(head.hash))
    }

    fn epoch_plan(&self) -> anyhow::Result<EpochPlan> {
        let state = self.finalized_state();
        let (validators, epoch, last_height) = self.current_validators()?;
        Ok(EpochPlan {
            epoch,
            validators,
            peers: state
                .consortium
                .validators()
                .iter()
                .map(|v| v.peer_id.parse::<PeerId>().ok())
                .collect(),
            last_height,
        })
    }

    fn decode_body(
        &self,
        bytes: &[u8],
        _fetched: &[Vec<u8>],
    ) -> Result<(Digest, BeaconBlock), BodyError> {
        let block = BeaconBlock::decode(bytes, self.suite)
            .map_err(|e| BodyError::Invalid(e.to_string()))?;
        Ok((digest(block.hash(self.suite)), block))
    }

    fn build(
        &self,
        parent: Digest,
        height: u64,
        proposer: ValidatorIndex,
    ) -> Result<(Digest, Vec<u8>), String> {
        let parent = hash(parent);
        let state = self
            .state_after(&parent)
            .ok_or_else(|| format!("unknown parent {parent}"))?;
        if state.height + 1 != height {
            return Err(format!(
                "asked for height {height} on a parent at {}",
                state.height
            ));
        }
        let vrf_key = self
            .vrf_key
            .as_ref()
            .ok_or("this node holds no VRF key, so it cannot propose")?;
        let alpha = vrf_input(
            state.consortium.domain().chain_id,
            state.consortium.epoch().epoch,
            height,
        );
        let body = BeaconBody {
            proposer,
            vrf_proof: vrf_key.prove(&alpha),
            governance: self.select(&state),
            crosslinks: crosslinks::collect(&state, &self.shards),
            evidence: self.select_evidence(&state),
        };
        let epoch = state.consortium.epoch().epoch;
        // Never before the parent, whatever this node's clock says.
        let time = unix_now().max(self.timestamp_of(&parent).unwrap_or_default());
        let (block, after, transition) = state
            .propose(parent, time, body)
            .map_err(|e| e.to_string())?;
        let bytes = block.encode();
        let hash = block.hash(self.suite);
        self.keep(
            hash,
            Kept {
                block,
                state: after,
                epoch,
                transition,
            },
        );
        Ok((digest(hash), bytes))
    }

    fn verify(
        &self,
        parent: Digest,
        height: u64,
        proposer: ValidatorIndex,
        block: &BeaconBlock,
    ) -> Result<(), String> {
        if block.header.parent != hash(parent) || block.header.height != height {
            return Err("proposal body does not match its parent or height".into());
        }
        if block.body.proposer != proposer {
            return Err(format!(
                "the block names proposer {}, but the view's leader is {proposer}",
                block.body.proposer
            ));
        }
        self.check_and_keep(block.clone()).map(|_| ())
    }

    fn verify_kept(
        &self,
        payload: Digest,
        parent: Digest,
        height: u64,
        proposer: ValidatorIndex,
    ) -> Option<bool> {
        let kept = self.kept.lock();
        let block = &kept.get(&hash(payload))?.block;
        Some(
            block.header.parent == hash(parent)
                && block.header.height == height
                && block.body.proposer == proposer,
        )
    }

    fn finalize(&self, payload: Digest, certificate: &[u8]) -> anyhow::Result<Finalized> {
        let head = self.head.read().hash;
        let mut chain = Vec::new();
        {
            let kept = self.kept.lock();
            let mut cursor = hash(payload);
            while cursor != head {
                let Some(block) = kept.get(&cursor) else {
                    return Ok(Finalized::Unknown);
                };
                chain.push((cursor, block.clone()));
                cursor = block.block.header.parent;
            }
        }
        chain.reverse();
        self.write_final(&chain, certificate)?;
        Ok(Finalized::Heights(
            chain.iter().map(|(_, k)| k.block.header.height).collect(),
        ))
    }

    fn serve(&self, height: u64) -> Option<Vec<u8>> {
        let bytes = self.store.get(store::BLOCKS, height.to_be_bytes()).ok()??;
        let certificate = store::certificate(&self.store, height).ok().flatten();
        Some(sync::encode(height, &bytes, certificate))
    }

    fn apply_synced(&self, answer: Vec<Vec<u8>>) -> Result<usize, String> {
        let mut blocks = Vec::with_capacity(answer.len());
        for raw in &answer {
            let (certified, certificate, bytes) = sync::split(raw).map_err(|e| e.to_string())?;
            let block = BeaconBlock::decode(bytes, self.suite).map_err(|e| e.to_string())?;
            blocks.push(Served {
                number: block.header.height,
                parent: block.header.parent,
                hash: block.hash(self.suite),
                block,
                certified,
                certificate,
            });
        }
        let mut applied = 0;
        while !blocks.is_empty() {
            let (validators, epoch, last_height) =
                self.current_validators().map_err(|e| e.to_string())?;
            let verifier = SuiteVerifier::new(self.suite, &validators);
            let check = EpochValidators {
                namespace: BEACON_NAMESPACE,
                epoch,
                last_height,
                validators: &validators,
                verifier: &verifier,
            };
            let count = match sync::certified_prefix(&blocks, self.head.read().hash, &check) {
                Ok(count) => count,
                Err(sync::SyncError::Incomplete { .. }) if applied > 0 => return Ok(applied),
                Err(error) => return Err(error.to_string()),
            };
            let rest = blocks.split_off(count);
            let certificate = std::mem::take(&mut blocks[count - 1].certificate);
            let mut chain = Vec::with_capacity(count);
            let mut state = self.finalized_state();
            for served in blocks {
                let epoch = state.consortium.epoch().epoch;
                let transition = state.apply(&served.block).map_err(|e| {
                    format!(
                        "certified beacon block {} does not apply: {e}",
                        served.number
                    )
                })?;
                chain.push((
                    served.hash,
                    Kept {
                        block: served.block,
                        state: state.clone(),
                        epoch,
                        transition,
                    },
                ));
            }
            self.write_final(&chain, &certificate)
                .map_err(|e| e.to_string())?;
            applied += chain.len();
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
            chain: kaimeng_l1::beacon::evidence::BEACON_CHAIN,
            key,
            first,
            second,
        };
        if let Err(error) = self.submit_evidence(evidence) {
            tracing::warn!(%error, "evidence not pooled");
        }
    }

    fn on_transactions(&self, data: Vec<u8>) {
        if let Some(bytes) = data.strip_prefix(super::EVIDENCE_GOSSIP_TAG) {
            match kaimeng_l1::beacon::Evidence::from_bytes(bytes) {
                Ok(evidence) => {
                    if let Err(error) = self.submit_evidence(evidence) {
                        tracing::debug!(%error, "gossiped evidence not pooled");
                    }
                }
                Err(error) => tracing::debug!(%error, "undecodable gossiped evidence"),
            }
            return;
        }
        match kaimeng_l1::governance::SignedGovernanceTx::decode(&data) {
            Ok(tx) => {
                if let Err(error) = self.submit(tx) {
                    tracing::debug!(%error, "governance transaction not pooled");
                }
            }
            Err(error) => tracing::debug!(%error, "undecodable governance transaction"),
        }
    }

    fn wait_for_work(self: Arc<Self>, idle: Duration) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let start = Instant::now();
            loop {
                let waited = start.elapsed();
                if self.has_pooled()
                    || waited >= idle
                    || (waited >= CROSSLINK_INTERVAL.min(idle) && self.has_unlinked())
                    || (waited >= MESSAGE_LINK_INTERVAL.min(idle) && self.has_unlinked_messages())
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        })
    }
}
