//! [`BeaconState`]: the consortium state after a beacon height, with what the beacon chain
//! keeps about each shard (the last crosslinked header, the beacon epoch whose committee
//! validates the shard's current epoch, the base fees crosslinked this epoch), the fee shares
//! each shard pays for the last ended epoch, and the randomness beacon: each block's VRF output,
//! the epoch seeds and the shard committees drawn from them (ADR 0097, ADR 0098).

use alloy_primitives::{Address, B256, U256};
use kaimeng_consensus::{Digest, FinalityClaim, PublicKey, ValidatorSet, codec, verify_finality};
use kaimeng_crypto::CryptoSuite;
use kaimeng_genesis::GenesisSpec;

use super::block::{BeaconBlock, BeaconBody, BeaconHeader, Crosslink};
use super::bytes::{Reader, put_chunk};
use super::evidence::{BEACON_CHAIN, Evidence, EvidenceRecord, KEPT_EVIDENCE};
use super::reference::{BeaconRef, shard_epoch, shard_epoch_end};
use super::{BeaconError, decode_section, shard_namespace};
use crate::committees;
use crate::governance::{ConsortiumState, EpochTransition};
use crate::membership::share_fees;
use crate::signing::SuiteVerifier;
use kaimeng_crypto::vrf::{OUTPUT_LEN, VrfProof, VrfPublicKey};

/// What the beacon chain knows about one shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardLink {
    /// The last crosslinked header (the shard's genesis before any crosslink).
    pub height: u64,
    pub hash: B256,
    /// The beacon epoch whose members validate the shard's current epoch.
    pub validators_epoch: u64,
    /// Base fees (base fee × gas used) of the headers crosslinked in the current beacon epoch.
    pub fees: U256,
    /// What the shard's last fee sharing left in its treasury.
    pub carry: U256,
}

/// The consortium state after a beacon height, with the shards' crosslink and fee accounting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BeaconState {
    /// The height this state is after.
    pub height: u64,
    pub consortium: ConsortiumState,
    /// The length of every shard's epochs (the genesis epoch length).
    pub shard_epoch_length: u64,
    /// Indexed by shard number.
    pub shards: Vec<ShardLink>,
    /// The shard committees of each beacon epoch a shard may still need, oldest first, up to
    /// the epoch after the current one (drawn an epoch ahead).
    pub committees: Vec<EpochCommittees>,
    /// The current epoch's seed, `seed(e)`.
    pub seed: B256,
    /// The VRF outputs of the current epoch's blocks so far, in height order.
    pub vrf_outputs: Vec<[u8; OUTPUT_LEN]>,
    /// The newest faults recorded (at most `KEPT_EVIDENCE`), oldest first.
    pub evidence: Vec<EvidenceRecord>,
    /// Per shard: the fee shares it pays for the last ended epoch, in its first block that
    /// references the epoch after it.
    pub payouts: Vec<Vec<(Address, U256)>>,
}

/// The shard committees of one beacon epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochCommittees {
    pub epoch: u64,
    /// Per shard: the committee's consensus keys in seat order (the engine's validator order).
    pub shards: Vec<Vec<Vec<u8>>>,
}

fn keys_of(consortium: &ConsortiumState) -> Vec<Vec<u8>> {
    consortium
        .validators()
        .iter()
        .map(|v| v.consensus_key.to_vec())
        .collect()
}

/// What a beacon proposer's VRF proves over: `chain id (8) ‖ epoch (8) ‖ height (8)`, never a
/// parent hash, which the parent's proposer could grind.
pub fn vrf_input(chain_id: u64, epoch: u64, height: u64) -> [u8; 24] {
    let mut alpha = [0; 24];
    alpha[..8].copy_from_slice(&chain_id.to_be_bytes());
    alpha[8..16].copy_from_slice(&epoch.to_be_bytes());
    alpha[16..].copy_from_slice(&height.to_be_bytes());
    alpha
}

/// `seed(e+1) = H(seed(e) ‖ the VRF outputs finalized in epoch e)`.
pub fn next_seed(suite: CryptoSuite, seed: &B256, outputs: &[[u8; OUTPUT_LEN]]) -> B256 {
    let mut input = Vec::with_capacity(32 + outputs.len() * OUTPUT_LEN);
    input.extend_from_slice(seed.as_slice());
    for output in outputs {
        input.extend_from_slice(output);
    }
    B256::from(suite.hash(&input))
}

/// The seed of epoch 0: the consensus hash of `"kaimeng/seed" ‖ genesis hash`.
pub fn genesis_seed(suite: CryptoSuite, genesis_hash: &B256) -> B256 {
    let mut input = b"kaimeng/seed".to_vec();
    input.extend_from_slice(genesis_hash.as_slice());
    B256::from(suite.hash(&input))
}

/// The committees of `shards` shards drawn from `seed` among `keys` (the members in order):
/// committee i holds `min(committee_size, members)` members (`crate::committees::assign`).
/// A committee size of at least the member count seats every member in member order.
pub fn draw_committees(
    suite: CryptoSuite,
    seed: &B256,
    keys: &[Vec<u8>],
    shards: u32,
    committee_size: u32,
) -> Vec<Vec<Vec<u8>>> {
    if committee_size as usize >= keys.len() {
        // Every member sits on every committee, in member order (no draw to make).
        return vec![keys.to_vec(); shards as usize];
    }
    let hash = move |data: &[u8]| suite.hash(data);
    committees::assign(&seed.0, keys.len() as u32, shards, committee_size, &hash)
        .into_iter()
        .map(|seats| {
            seats
                .into_iter()
                .filter_map(|i| keys.get(i as usize).cloned())
                .collect()
        })
        .collect()
}

impl BeaconState {
    /// The state at genesis, given the hash of each shard's genesis block.
    pub fn genesis(spec: &GenesisSpec, shard_genesis: &[B256]) -> Result<Self, BeaconError> {
        let consortium = ConsortiumState::from_genesis(spec).map_err(BeaconError::Genesis)?;
        let suite = consortium.crypto_suite();
        let seed = genesis_seed(suite, &spec.hash());
        // Epochs 0 and 1 have no earlier seed: both draw from the genesis seed.
        let first = draw_committees(
            suite,
            &seed,
            &keys_of(&consortium),
            shard_genesis.len() as u32,
            consortium.parameters().committee_size,
        );
        Ok(Self {
            height: 0,
            committees: vec![
                EpochCommittees {
                    epoch: 0,
                    shards: first.clone(),
                },
                EpochCommittees {
                    epoch: 1,
                    shards: first,
                },
            ],
            seed,
            vrf_outputs: Vec::new(),
            evidence: Vec::new(),
            consortium,
            shard_epoch_length: spec.epoch_length.max(1),
            shards: shard_genesis
                .iter()
                .map(|hash| ShardLink {
                    height: 0,
                    hash: *hash,
                    validators_epoch: 0,
                    fees: U256::ZERO,
                    carry: U256::ZERO,
                })
                .collect(),
            payouts: vec![Vec::new(); shard_genesis.len()],
        })
    }

    pub fn suite(&self) -> CryptoSuite {
        self.consortium.crypto_suite()
    }

    /// The consensus hash of the encoded state: what a beacon header's `state_root` holds.
    pub fn root(&self) -> B256 {
        B256::from(self.suite().hash(&self.encode()))
    }

    /// Shard `shard`'s committee in beacon epoch `epoch` (consensus keys in seat order), if
    /// still kept.
    pub fn committee(&self, epoch: u64, shard: u32) -> Option<&[Vec<u8>]> {
        self.committees
            .iter()
            .find(|c| c.epoch == epoch)
            .and_then(|c| c.shards.get(shard as usize))
            .map(Vec::as_slice)
    }

    /// The validator set that finalizes shard `shard`'s current epoch: its committee in the
    /// beacon epoch the shard's last epoch end referenced.
    pub fn shard_validators(&self, shard: u32) -> Result<ValidatorSet, BeaconError> {
        let link = self
            .shards
            .get(shard as usize)
            .ok_or(BeaconError::UnknownShard(shard))?;
        validator_set(
            self.committee(link.validators_epoch, shard)
                .unwrap_or_default(),
        )
    }

    /// What `evidence` would record at `height`: the votes conflict, both are signed with the
    /// consensus key of a current member, and that fault is not recorded yet.
    pub fn check_evidence(
        &self,
        height: u64,
        evidence: &Evidence,
    ) -> Result<EvidenceRecord, BeaconError> {
        evidence.check(self.suite())?;
        if evidence.chain != BEACON_CHAIN && evidence.chain as usize >= self.shards.len() {
            return Err(BeaconError::Evidence(format!(
                "there is no shard {}",
                evidence.chain
            )));
        }
        let suite = self.suite();
        let same_key = |member_key: &[u8]| {
            member_key == evidence.key.as_slice()
                || suite
                    .public_key_from_bytes(member_key)
                    .ok()
                    .zip(suite.public_key_from_bytes(&evidence.key).ok())
                    .is_some_and(|(a, b)| a == b)
        };
        let member = self
            .consortium
            .members()
            .iter()
            .find(|m| same_key(&m.consensus_key))
            .ok_or_else(|| {
                BeaconError::Evidence("the key is not a current member's consensus key".into())
            })?;
        let record = EvidenceRecord {
            height,
            organisation: member.organisation.clone(),
            chain: evidence.chain,
            epoch: evidence.first.vote.epoch(),
            view: evidence.first.vote.view(),
        };
        if self.evidence.iter().any(|r| {
            (&r.organisation, r.chain, r.epoch, r.view)
                == (
                    &record.organisation,
                    record.chain,
                    record.epoch,
                    record.view,
                )
        }) {
            return Err(BeaconError::Evidence(format!(
                "the fault of {} in view {} of epoch {} is already recorded",
                record.organisation, record.view, record.epoch
            )));
        }
        Ok(record)
    }

    /// Checks the block's VRF proof: made by `proposer` (a member of the current epoch) with its
    /// registered key over `(chain id, epoch, height)`. Returns the output.
    pub fn check_vrf(
        &self,
        height: u64,
        proposer: u32,
        proof: &VrfProof,
    ) -> Result<[u8; OUTPUT_LEN], BeaconError> {
        let validators = self.consortium.validators();
        let member = validators
            .get(proposer as usize)
            .ok_or(BeaconError::UnknownProposer {
                proposer,
                members: validators.len(),
            })?;
        let key = VrfPublicKey::from_bytes(&member.vrf_key)
            .map_err(|e| BeaconError::Vrf { proposer, error: e })?;
        let alpha = vrf_input(
            self.consortium.domain().chain_id,
            self.consortium.epoch().epoch,
            height,
        );
        key.verify(&alpha, proof)
            .map(|output| output.0)
            .map_err(|e| BeaconError::Vrf { proposer, error: e })
    }

    /// Proposes the block after this state on `parent`: applies the body and seals a header
    /// that commits to it and to the state after it. Returns the block and that state.
    pub fn propose(
        &self,
        parent: B256,
        timestamp: u64,
        body: BeaconBody,
    ) -> Result<(BeaconBlock, Self, Option<EpochTransition>), BeaconError> {
        let mut next = self.clone();
        let height = self.height + 1;
        let transition = next.apply_body(height, &body)?;
        let suite = self.suite();
        let block = BeaconBlock {
            header: BeaconHeader {
                height,
                parent,
                timestamp,
                body_root: body.root(suite),
                state_root: next.root(),
            },
            body,
        };
        Ok((block, next, transition))
    }

    /// Applies `block` (the next height): governance transactions, crosslinks, and at the
    /// epoch's last height the epoch boundary; the header's state root must match the result.
    /// A refused block leaves the state as it was.
    pub fn apply(&mut self, block: &BeaconBlock) -> Result<Option<EpochTransition>, BeaconError> {
        let mut next = self.clone();
        let transition = next.apply_body(block.header.height, &block.body)?;
        if block.body.root(self.suite()) != block.header.body_root {
            return Err(BeaconError::BodyRoot);
        }
        if next.root() != block.header.state_root {
            return Err(BeaconError::StateRoot {
                height: block.header.height,
            });
        }
        *self = next;
        Ok(transition)
    }

    fn apply_body(
        &mut self,
        height: u64,
        body: &BeaconBody,
    ) -> Result<Option<EpochTransition>, BeaconError> {
        if Some(height) != self.height.checked_add(1) {
            return Err(BeaconError::OutOfOrder {
                at: self.height,
                height,
            });
        }
        let output = self.check_vrf(height, body.proposer, &body.vrf_proof)?;
        self.vrf_outputs.push(output);
        for tx in decode_section(&body.governance)? {
            self.consortium
                .apply_tx(height, &tx)
                .map_err(BeaconError::Refused)?;
        }
        for crosslink in &body.crosslinks {
            self.link(crosslink)?;
        }
        for evidence in &body.evidence {
            let record = self.check_evidence(height, evidence)?;
            if self.evidence.len() == KEPT_EVIDENCE {
                self.evidence.remove(0);
            }
            self.evidence.push(record);
        }
        self.height = height;
        if height != self.consortium.epoch().last_height {
            return Ok(None);
        }
        self.end_epoch(height).map(Some)
    }

    /// Checks a crosslink against the shard's last link and its validators, then records it.
    fn link(&mut self, crosslink: &Crosslink) -> Result<(), BeaconError> {
        let shard = crosslink.shard;
        let length = self.shard_epoch_length;
        let beacon_epoch = self.consortium.epoch().epoch;
        let validators = self.shard_validators(shard)?;
        let link = &self.shards[shard as usize];
        let (mut height, mut hash) = (link.height, link.hash);
        let mut fees = U256::ZERO;
        for header in &crosslink.headers {
            if header.number != height + 1 || header.parent_hash != hash {
                return Err(BeaconError::CrosslinkGap {
                    shard,
                    linked: height,
                    found: header.number,
                });
            }
            height = header.number;
            hash = header.hash_slow();
            fees = fees.saturating_add(
                U256::from(header.base_fee_per_gas.unwrap_or_default())
                    * U256::from(header.gas_used),
            );
        }
        let first = crosslink.headers.first().map_or(height, |h| h.number);
        let epoch = shard_epoch(height, length);
        if crosslink.headers.is_empty() || shard_epoch(first, length) != epoch {
            return Err(BeaconError::CrosslinkSpansEpochs { shard });
        }
        let certificate = codec::decode_certificate(&crosslink.certificate)
            .map_err(|e| BeaconError::Certificate(shard, e.to_string()))?;
        let claim = FinalityClaim {
            epoch,
            height,
            payload: Digest(hash.0),
        };
        let verifier = SuiteVerifier::new(self.suite(), &validators);
        verify_finality(
            &certificate,
            claim,
            &shard_namespace(shard),
            &validators,
            &verifier,
        )
        .map_err(|e| BeaconError::Certificate(shard, e.to_string()))?;
        let mut validators_epoch = link.validators_epoch;
        if height == shard_epoch_end(epoch, length) {
            // The epoch's last block names the beacon epoch whose members run the next one.
            let last = crosslink.headers.last().expect("not empty");
            let reference = BeaconRef::of_header(last)?;
            if reference.epoch < validators_epoch || reference.epoch > beacon_epoch {
                return Err(BeaconError::BadReference {
                    shard,
                    epoch: reference.epoch,
                });
            }
            validators_epoch = reference.epoch;
        }
        let link = &mut self.shards[shard as usize];
        link.height = height;
        link.hash = hash;
        link.validators_epoch = validators_epoch;
        link.fees = link.fees.saturating_add(fees);
        self.prune_committees();
        Ok(())
    }

    /// Shares each shard's crosslinked base fees among the ending epoch's members, then ends the
    /// epoch (the consortium records the fees of all shards together).
    fn end_epoch(&mut self, height: u64) -> Result<EpochTransition, BeaconError> {
        let ended = self.consortium.epoch().epoch;
        let split = self.consortium.parameters().fee_split.clone();
        let members = self.consortium.members().to_vec();
        let mut collected = U256::ZERO;
        for (shard, link) in self.shards.iter_mut().enumerate() {
            let shared = share_fees(ended, &split, &members, link.fees, link.carry)
                .ok_or(BeaconError::FeeOverflow)?;
            collected = collected.saturating_add(link.fees);
            link.fees = U256::ZERO;
            link.carry = shared.carried_out;
            self.payouts[shard] = shared
                .payouts
                .iter()
                .filter(|p| !p.amount.is_zero())
                .map(|p| (p.fee_recipient, p.amount))
                .collect();
        }
        let transition = self
            .consortium
            .on_epoch_boundary(height, collected)
            .map_err(|error| BeaconError::Boundary { height, error })?;
        self.next_committees(ended);
        Ok(transition)
    }

    /// At the end of epoch `ended` (the consortium already in `ended + 1`): `seed(ended + 1)`
    /// from the epoch's VRF outputs, the committees of `ended + 2` drawn from it among the
    /// members of `ended + 1`, and the committees of `ended + 1` (drawn an epoch ago) without
    /// the members who have just left. A committee left empty by removals is every member.
    fn next_committees(&mut self, ended: u64) {
        let suite = self.suite();
        self.seed = next_seed(suite, &self.seed, &self.vrf_outputs);
        self.vrf_outputs.clear();
        let members = keys_of(&self.consortium);
        if let Some(current) = self.committees.iter_mut().find(|c| c.epoch == ended + 1) {
            for committee in &mut current.shards {
                committee.retain(|key| members.contains(key));
                if committee.is_empty() {
                    committee.clone_from(&members);
                }
            }
        }
        let drawn = draw_committees(
            suite,
            &self.seed,
            &members,
            self.shards.len() as u32,
            self.consortium.parameters().committee_size,
        );
        self.committees.push(EpochCommittees {
            epoch: ended + 2,
            shards: drawn,
        });
        self.prune_committees();
    }

    /// Drops committees no shard can need again (older than every shard's current one).
    fn prune_committees(&mut self) {
        let oldest = self
            .shards
            .iter()
            .map(|s| s.validators_epoch)
            .min()
            .unwrap_or(0);
        self.committees.retain(|c| c.epoch >= oldest);
    }

    /// `height (8) ‖ shard epoch length (8) ‖ shards ‖ committees ‖ seed (32) ‖ VRF outputs ‖
    /// evidence records ‖ payouts ‖ consortium state`, each list prefixed with its count (4).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.height.to_be_bytes());
        out.extend_from_slice(&self.shard_epoch_length.to_be_bytes());
        out.extend_from_slice(&(self.shards.len() as u32).to_be_bytes());
        for link in &self.shards {
            out.extend_from_slice(&link.height.to_be_bytes());
            out.extend_from_slice(link.hash.as_slice());
            out.extend_from_slice(&link.validators_epoch.to_be_bytes());
            out.extend_from_slice(&link.fees.to_be_bytes::<32>());
            out.extend_from_slice(&link.carry.to_be_bytes::<32>());
        }
        out.extend_from_slice(&(self.committees.len() as u32).to_be_bytes());
        for committees in &self.committees {
            out.extend_from_slice(&committees.epoch.to_be_bytes());
            out.extend_from_slice(&(committees.shards.len() as u32).to_be_bytes());
            for keys in &committees.shards {
                out.extend_from_slice(&(keys.len() as u32).to_be_bytes());
                for key in keys {
                    put_chunk(&mut out, key);
                }
            }
        }
        out.extend_from_slice(self.seed.as_slice());
        out.extend_from_slice(&(self.vrf_outputs.len() as u32).to_be_bytes());
        for output in &self.vrf_outputs {
            out.extend_from_slice(output);
        }
        out.extend_from_slice(&(self.evidence.len() as u32).to_be_bytes());
        for record in &self.evidence {
            out.extend_from_slice(&record.height.to_be_bytes());
            put_chunk(&mut out, record.organisation.as_bytes());
            out.extend_from_slice(&record.chain.to_be_bytes());
            out.extend_from_slice(&record.epoch.to_be_bytes());
            out.extend_from_slice(&record.view.to_be_bytes());
        }
        out.extend_from_slice(&(self.payouts.len() as u32).to_be_bytes());
        for payouts in &self.payouts {
            out.extend_from_slice(&(payouts.len() as u32).to_be_bytes());
            for (address, amount) in payouts {
                out.extend_from_slice(address.as_slice());
                out.extend_from_slice(&amount.to_be_bytes::<32>());
            }
        }
        out.extend_from_slice(&self.consortium.encode());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, BeaconError> {
        Self::read(&mut Reader(bytes)).map_err(|error| match error {
            BeaconError::Truncated(what) => BeaconError::Corrupt(what),
            other => other,
        })
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, BeaconError> {
        let height = r.u64("the height")?;
        let shard_epoch_length = r.u64("the shard epoch length")?;
        let mut shards = Vec::new();
        for _ in 0..r.count("the shards", 112)? {
            shards.push(ShardLink {
                height: r.u64("a shard link")?,
                hash: r.b256("a shard link")?,
                validators_epoch: r.u64("a shard link")?,
                fees: r.u256("a shard link")?,
                carry: r.u256("a shard link")?,
            });
        }
        let mut committees = Vec::new();
        for _ in 0..r.count("the committees", 12)? {
            let epoch = r.u64("an epoch's committees")?;
            let mut shards = Vec::new();
            for _ in 0..r.count("an epoch's committees", 4)? {
                let mut keys = Vec::new();
                for _ in 0..r.count("a committee", 4)? {
                    keys.push(r.chunk("a validator key", 1024)?.to_vec());
                }
                shards.push(keys);
            }
            committees.push(EpochCommittees { epoch, shards });
        }
        let seed = r.b256("the seed")?;
        let mut vrf_outputs = Vec::new();
        for _ in 0..r.count("the VRF outputs", OUTPUT_LEN)? {
            let output = r.take(OUTPUT_LEN, "a VRF output")?;
            vrf_outputs.push(output.try_into().expect("64 bytes"));
        }
        let mut evidence = Vec::new();
        for _ in 0..r.count("the evidence records", 32)? {
            evidence.push(EvidenceRecord {
                height: r.u64("an evidence record")?,
                organisation: String::from_utf8(r.chunk("an evidence record", 256)?.to_vec())
                    .map_err(|_| BeaconError::Corrupt("an evidence record's organisation"))?,
                chain: r.u32("an evidence record")?,
                epoch: r.u64("an evidence record")?,
                view: r.u64("an evidence record")?,
            });
        }
        let mut payouts = Vec::new();
        for _ in 0..r.count("the payouts", 4)? {
            let mut shard = Vec::new();
            for _ in 0..r.count("a shard's payouts", 52)? {
                shard.push((r.address("a payout")?, r.u256("a payout")?));
            }
            payouts.push(shard);
        }
        let consortium = ConsortiumState::decode(r.0)
            .map_err(|_| BeaconError::Corrupt("undecodable consortium state"))?;
        if payouts.len() != shards.len() || committees.is_empty() {
            return Err(BeaconError::Corrupt("shard lists of different lengths"));
        }
        Ok(Self {
            height,
            consortium,
            shard_epoch_length,
            shards,
            committees,
            seed,
            vrf_outputs,
            evidence,
            payouts,
        })
    }
}

/// A validator set from consensus keys.
pub fn validator_set(keys: &[Vec<u8>]) -> Result<ValidatorSet, BeaconError> {
    ValidatorSet::new(keys.iter().map(|k| PublicKey(k.clone())).collect())
        .map_err(|e| BeaconError::ValidatorSet(e.to_string()))
}
