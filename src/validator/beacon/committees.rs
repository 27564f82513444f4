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
        // The beacon chain verified the proof when it applied the block; the output is its
        // hash (the verifier checks the proof itself).
        let output = block.body.vrf_proof.output()?;
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

#[cfg(test)]
mod tests {
    use alloy_primitives::{B256, Bytes};
    use kaimeng_crypto::vrf::VrfSecretKey;
    use kaimeng_genesis::{DevKeyRole, DevOptions, GenesisSpec, dev_member_secret};
    use kaimeng_l1::beacon::{BeaconBody, BeaconState, vrf_input};

    use super::*;

    fn vrf_key(member: u32) -> VrfSecretKey {
        let secret = dev_member_secret(
            member,
            DevKeyRole::Vrf,
            kaimeng_genesis::CryptoSuite::Secp256k1Keccak,
        );
        VrfSecretKey::from_bytes(&secret.0)
    }

    /// A genesis of 4 members and 2 shards with committees of 2, and epochs of 3 blocks.
    fn genesis() -> GenesisSpec {
        let mut spec = GenesisSpec::dev(&DevOptions {
            validators: 4,
            shards: 2,
            ..DevOptions::default()
        });
        spec.epoch_length = 3;
        spec.committee_size = Some(2);
        spec
    }

    /// The state after `height`, and the VRF blocks of every height.
    fn run(spec: &GenesisSpec, to: u64) -> (Vec<BeaconState>, Vec<VrfBlock>) {
        let mut states = vec![BeaconState::genesis(spec, &[B256::repeat_byte(1); 2]).unwrap()];
        let mut blocks = Vec::new();
        for height in 1..=to {
            let state = states.last().unwrap();
            let proposer = (height % 4) as u32;
            let epoch = state.consortium.epoch().epoch;
            let proof = vrf_key(proposer).prove(&vrf_input(31337, epoch, height));
            let body = BeaconBody {
                proposer,
                vrf_proof: proof,
                governance: Vec::new(),
                crosslinks: Vec::new(),
                evidence: Vec::new(),
            };
            let (_, after, _) = state.propose(B256::ZERO, height, body).unwrap();
            let output = vrf_key(proposer)
                .public_key()
                .verify(&vrf_input(31337, epoch, height), &proof)
                .unwrap();
            blocks.push(VrfBlock {
                height,
                proposer,
                organisation: format!("dev-member-{proposer}"),
                vrf_key: Bytes::copy_from_slice(&vrf_key(proposer).public_key().to_bytes()),
                proof: Bytes::copy_from_slice(&proof.0),
                output: Bytes::copy_from_slice(&output.0),
            });
            states.push(after);
        }
        (states, blocks)
    }

    /// Epoch 3's committees as `kaimeng_committees` would show them after height 6.
    fn view_of_epoch_3() -> CommitteesView {
        let spec = genesis();
        let (states, blocks) = run(&spec, 6);
        let now = &states[6];
        assert_eq!(now.consortium.epoch().epoch, 2);
        CommitteesView {
            epoch: 3,
            crypto_suite: "secp256k1-keccak".into(),
            chain_id: 31337,
            genesis_hash: spec.hash(),
            shard_count: 2,
            drawn_in: 2,
            seed: now.seed,
            seed_inputs: Some(SeedInputs {
                epoch: 1,
                previous_seed: states[3].seed,
                blocks: blocks[3..6].to_vec(),
            }),
            members: spec
                .members
                .iter()
                .map(|m| MemberView {
                    organisation: m.organisation.clone(),
                    consensus_key: Bytes::copy_from_slice(&m.consensus_key),
                })
                .collect(),
            committee_size: 2,
            epoch_members: None,
            committees: (0..2)
                .map(|shard| {
                    now.committee(3, shard)
                        .unwrap()
                        .iter()
                        .map(|k| Bytes::from(k.clone()))
                        .collect()
                })
                .collect(),
        }
    }

    fn inputs(view: &mut CommitteesView) -> &mut SeedInputs {
        view.seed_inputs.as_mut().unwrap()
    }

    #[test]
    fn the_assignment_recomputes_from_the_proofs_and_any_tampering_is_caught() {
        let view = view_of_epoch_3();
        assert_eq!(recompute(&view).unwrap(), view.committees);
        // Epoch 0 draws from the genesis seed alone.
        let spec = genesis();
        let genesis_state = &run(&spec, 0).0[0];
        let first = CommitteesView {
            epoch: 0,
            drawn_in: 0,
            seed: genesis_state.seed,
            seed_inputs: None,
            committees: (0..2)
                .map(|shard| {
                    genesis_state
                        .committee(0, shard)
                        .unwrap()
                        .iter()
                        .map(|k| Bytes::from(k.clone()))
                        .collect()
                })
                .collect(),
            ..view.clone()
        };
        assert_eq!(recompute(&first).unwrap(), first.committees);

        let refused = |edit: &dyn Fn(&mut CommitteesView)| {
            let mut tampered = view.clone();
            edit(&mut tampered);
            recompute(&tampered).map(|c| c == tampered.committees)
        };
        // A proof with one bit flipped does not verify.
        assert!(
            refused(&|v| {
                let mut proof = inputs(v).blocks[1].proof.to_vec();
                proof[40] ^= 1;
                inputs(v).blocks[1].proof = proof.into();
            })
            .is_err()
        );
        // A proof under another member's key does not verify.
        assert!(
            refused(&|v| {
                inputs(v).blocks[0].vrf_key =
                    Bytes::copy_from_slice(&vrf_key(3).public_key().to_bytes());
            })
            .is_err()
        );
        // An output that is not the proof's, a dropped block, another previous seed: the seed
        // does not come out.
        assert!(refused(&|v| inputs(v).blocks[2].output = Bytes::from(vec![7; 64])).is_err());
        assert!(
            refused(&|v| {
                inputs(v).blocks.pop();
            })
            .is_err()
        );
        assert!(refused(&|v| inputs(v).previous_seed = B256::repeat_byte(9)).is_err());
        assert!(refused(&|v| v.drawn_in = 1).is_err());
        assert!(refused(&|v| v.crypto_suite = "rot13".into()).is_err());
        // Committees the seed does not give are a mismatch.
        assert!(
            matches!(refused(&|v| v.committees.swap(0, 1)), Ok(false)),
            "swapped committees"
        );
        // A departed member is dropped from the committee it was drawn into.
        let mut departed = view.clone();
        let gone = departed.committees[0][0].clone();
        departed.epoch_members = Some(
            departed
                .members
                .iter()
                .map(|m| m.consensus_key.clone())
                .filter(|k| *k != gone)
                .collect(),
        );
        let recomputed = recompute(&departed).unwrap();
        assert!(!recomputed[0].contains(&gone));
        assert_eq!(recomputed[0].len(), 1);
    }
}
