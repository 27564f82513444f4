//! The shard committees of a beacon epoch with everything needed to recompute them:
//! `kaimeng_committees(epoch)` serves [`CommitteesView`], and [`recompute`] (used by
//! `kaimeng committees verify`) checks every VRF proof, rebuilds the seed and redraws the
//! committees from that data alone (ADR 0098).
//!
//! Committees of epoch `E >= 2` were drawn at the end of epoch `E - 2` from `seed(E - 1)` among
//! the members of epoch `E - 1`, then lost the members who left at the start of `E`. Epochs 0
//! and 1 draw from the genesis seed among the genesis members.

use alloy_primitives::{B256, Bytes};
use anyhow::{Context, anyhow, bail};
use kaimeng_crypto::CryptoSuite;
use kaimeng_crypto::vrf::{VrfProof, VrfPublicKey};
use kaimeng_l1::beacon::{draw_committees, genesis_seed, next_seed, vrf_input};
use serde::{Deserialize, Serialize};

use super::{BeaconChain, EpochRecord};

/// A shard assignment and its seed inputs, as `kaimeng_committees` returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitteesView {
    pub epoch: u64,
    /// `secp256k1-keccak` or `sm2-sm3`: its hash makes the seeds and the shuffle.
    pub crypto_suite: String,
    pub chain_id: u64,
    pub genesis_hash: B256,
    pub shard_count: u32,
    /// The epoch whose seed and members drew these committees.
    pub drawn_in: u64,
    /// `seed(drawnIn)`.
    pub seed: B256,
    /// How `seed(drawnIn)` was made; `None` for the genesis seed.
    pub seed_inputs: Option<SeedInputs>,
    /// The members the draw shuffled (those of `drawnIn`), in member order.
    pub members: Vec<MemberView>,
    /// The committee size in force in `drawnIn`.
    pub committee_size: u32,
    /// The members of `epoch` once it has begun (committees keep only them); `None` before.
    pub epoch_members: Option<Vec<Bytes>>,
    /// Per shard: the committee's consensus keys in seat order.
    pub committees: Vec<Vec<Bytes>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    pub organisation: String,
    pub consensus_key: Bytes,
}

/// `seed(drawnIn) = H(previousSeed ‖ the outputs of epoch drawnIn - 1's blocks)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeedInputs {
    pub epoch: u64,
    pub previous_seed: B256,
    pub blocks: Vec<VrfBlock>,
}

/// One beacon block's VRF proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VrfBlock {
    pub height: u64,
    pub proposer: u32,
    pub organisation: String,
    pub vrf_key: Bytes,
    pub proof: Bytes,
    pub output: Bytes,
}

fn record(beacon: &BeaconChain, epoch: u64) -> anyhow::Result<EpochRecord> {
    beacon
        .epoch_record(epoch)?
        .with_context(|| format!("the record of beacon epoch {epoch} is missing"))
}

/// The view of epoch `epoch`'s committees; `None` if they are not drawn yet (more than one
/// epoch ahead of the finalized state).
pub fn view(beacon: &BeaconChain, epoch: u64) -> anyhow::Result<Option<CommitteesView>> {
    let state = beacon.finalized_state();
    let current = state.consortium.epoch().epoch;
    if epoch > current + 1 {
        return Ok(None);
    }
    let drawn_in = epoch.saturating_sub(1);
    let drawn = record(beacon, drawn_in)?;
    let seed_inputs = match drawn_in {
        0 => None,
        _ => Some(seed_inputs(beacon, drawn_in - 1, drawn.start_height)?),
    };
    let own = beacon.epoch_record(epoch)?;
    let committees = match &own {
        Some(own) => (0..state.shards.len() as u32)
            .map(|shard| {
                own.committee(shard)
                    .iter()
                    .map(|v| v.consensus_key.clone())
                    .collect()
            })
            .collect(),
        None => (0..state.shards.len() as u32)
            .map(|shard| {
                state
                    .committee(epoch, shard)
                    .unwrap_or_default()
                    .iter()
                    .map(|k| Bytes::from(k.clone()))
                    .collect()
            })
            .collect(),
    };
    let domain = state.consortium.domain();
    Ok(Some(CommitteesView {
        epoch,
        crypto_suite: beacon.suite().name().to_owned(),
        chain_id: domain.chain_id,
        genesis_hash: domain.genesis_hash,
        shard_count: state.shards.len() as u32,
        drawn_in,
        seed: drawn.seed,
        seed_inputs,
        members: drawn
            .validators
            .iter()
            .map(|v| MemberView {
                organisation: v.organisation.clone(),
                consensus_key: v.consensus_key.clone(),
            })
            .collect(),
        committee_size: drawn.committee_size,
        epoch_members: own.map(|own| {
            own.validators
                .iter()
                .map(|v| v.consensus_key.clone())
                .collect()
        }),
        committees,
    }))
}

/// The VRF proofs of epoch `epoch`'s blocks, which end before `next_start`.
fn seed_inputs(beacon: &BeaconChain, epoch: u64, next_start: u64) -> anyhow::Result<SeedInputs> {
    let members = record(beacon, epoch)?;
    let previous_seed = members.seed;
    let mut blocks = Vec::new();
    for height in members.start_height.max(1)..next_start {
        let block = beacon
            .block(height)?
            .with_context(|| format!("final beacon block {height} is missing"))?;
        let proposer = block.body.proposer;
        let member = members
            .validators
            .get(proposer as usize)
            .with_context(|| format!("beacon block {height} names unknown proposer {proposer}"))?;
        let key = VrfPublicKey::from_bytes(&member.vrf_key)?;
        let output = key.verify(
            &vrf_input(beacon.chain_id(), epoch, height),
            &block.body.vrf_proof,
        )?;
        blocks.push(VrfBlock {
            height,
            proposer,
            organisation: member.organisation.clone(),
            vrf_key: member.vrf_key.clone(),
            proof: Bytes::copy_from_slice(&block.body.vrf_proof.0),
            output: Bytes::copy_from_slice(&output.0),
        });
    }
    Ok(SeedInputs {
        epoch,
        previous_seed,
        blocks,
    })
}

/// Recomputes the assignment from `view`'s data alone: every VRF proof against its key and
/// input, the seed from the outputs, the shuffle, and the removal of departed members. Returns
/// the recomputed committees; an error says which input does not hold.
pub fn recompute(view: &CommitteesView) -> anyhow::Result<Vec<Vec<Bytes>>> {
    let suite: CryptoSuite = view
        .crypto_suite
        .parse()
        .map_err(|e| anyhow!("cryptoSuite: {e}"))?;
    if view.drawn_in != view.epoch.saturating_sub(1) {
        bail!(
            "epoch {}'s committees are drawn in epoch {}, not {}",
            view.epoch,
            view.epoch.saturating_sub(1),
            view.drawn_in
        );
    }
    let seed = match &view.seed_inputs {
        None if view.drawn_in == 0 => genesis_seed(suite, &view.genesis_hash),
        None => bail!(
            "seedInputs are missing for a draw in epoch {}",
            view.drawn_in
        ),
        Some(inputs) => {
            if inputs.epoch + 1 != view.drawn_in {
                bail!(
                    "seedInputs are of epoch {}, not {}",
                    inputs.epoch,
                    view.drawn_in - 1
                );
            }
            let mut outputs = Vec::with_capacity(inputs.blocks.len());
            for block in &inputs.blocks {
                let key = VrfPublicKey::from_bytes(&block.vrf_key)
                    .with_context(|| format!("block {}'s VRF key", block.height))?;
                let proof = VrfProof::from_bytes(&block.proof)
                    .with_context(|| format!("block {}'s VRF proof", block.height))?;
                let output = key
                    .verify(
                        &vrf_input(view.chain_id, inputs.epoch, block.height),
                        &proof,
                    )
                    .with_context(|| {
                        format!(
                            "block {}'s VRF proof by {}",
                            block.height, block.organisation
                        )
                    })?;
                if output.0.as_slice() != block.output.as_ref() {
                    bail!("block {}'s VRF output is not its proof's", block.height);
                }
                outputs.push(output.0);
            }
            next_seed(suite, &inputs.previous_seed, &outputs)
        }
    };
    if seed != view.seed {
        bail!(
            "the seed of epoch {} is {}, but the inputs give {}",
            view.drawn_in,
            view.seed,
            seed
        );
    }
    let members: Vec<Vec<u8>> = view
        .members
        .iter()
        .map(|m| m.consensus_key.to_vec())
        .collect();
    let mut committees = draw_committees(
        suite,
        &seed,
        &members,
        view.shard_count,
        view.committee_size,
    );
    if let Some(remaining) = &view.epoch_members
        && view.epoch > 0
    {
        let remaining: Vec<Vec<u8>> = remaining.iter().map(|k| k.to_vec()).collect();
        for committee in &mut committees {
            committee.retain(|key| remaining.contains(key));
            if committee.is_empty() {
                committee.clone_from(&remaining);
            }
        }
    }
    Ok(committees
        .into_iter()
        .map(|keys| keys.into_iter().map(Bytes::from).collect())
        .collect())
}
