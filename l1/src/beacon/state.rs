//! [`BeaconState`]: the consortium state after a beacon height, with what the beacon chain
//! keeps about each shard (the last crosslinked header, the validators of the shard's current
//! epoch, the base fees crosslinked this epoch) and the fee shares each shard pays for the last
//! ended epoch.

use alloy_primitives::{Address, B256, U256};
use kaimeng_consensus::{Digest, FinalityClaim, PublicKey, ValidatorSet, codec, verify_finality};
use kaimeng_crypto::CryptoSuite;
use kaimeng_genesis::GenesisSpec;

use super::block::{BeaconBlock, BeaconBody, BeaconHeader, Crosslink};
use super::bytes::{Reader, put_chunk};
use super::reference::{BeaconRef, shard_epoch, shard_epoch_end};
use super::{BeaconError, decode_section, shard_namespace};
use crate::governance::{ConsortiumState, EpochTransition};
use crate::membership::share_fees;
use crate::signing::SuiteVerifier;

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
    /// `(first epoch, consensus keys)` of each validator set a shard may still need, oldest
    /// first; one entry per change of the member set.
    pub validator_history: Vec<(u64, Vec<Vec<u8>>)>,
    /// Per shard: the fee shares it pays for the last ended epoch, in its first block that
    /// references the epoch after it.
    pub payouts: Vec<Vec<(Address, U256)>>,
}

fn keys_of(consortium: &ConsortiumState) -> Vec<Vec<u8>> {
    consortium
        .validators()
        .iter()
        .map(|v| v.consensus_key.to_vec())
        .collect()
}

impl BeaconState {
    /// The state at genesis, given the hash of each shard's genesis block.
    pub fn genesis(spec: &GenesisSpec, shard_genesis: &[B256]) -> Result<Self, BeaconError> {
        let consortium = ConsortiumState::from_genesis(spec).map_err(BeaconError::Genesis)?;
        Ok(Self {
            height: 0,
            validator_history: vec![(0, keys_of(&consortium))],
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

    /// The consensus keys of beacon epoch `epoch`'s members, if still kept.
    pub fn validators_of(&self, epoch: u64) -> Option<&[Vec<u8>]> {
        self.validator_history
            .iter()
            .rev()
            .find(|(first, _)| *first <= epoch)
            .map(|(_, keys)| keys.as_slice())
    }

    /// The validator set that finalizes shard `shard`'s current epoch.
    pub fn shard_validators(&self, shard: u32) -> Result<ValidatorSet, BeaconError> {
        let link = self
            .shards
            .get(shard as usize)
            .ok_or(BeaconError::UnknownShard(shard))?;
        validator_set(
            self.validators_of(link.validators_epoch)
                .unwrap_or_default(),
        )
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
        for tx in decode_section(&body.governance)? {
            self.consortium
                .apply_tx(height, &tx)
                .map_err(BeaconError::Refused)?;
        }
        for crosslink in &body.crosslinks {
            self.link(crosslink)?;
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
        self.prune_history();
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
        if transition.validators_changed {
            self.validator_history
                .push((transition.epoch.epoch, keys_of(&self.consortium)));
        }
        Ok(transition)
    }

    /// Drops validator sets no shard can need again (older than every shard's current one).
    fn prune_history(&mut self) {
        let oldest = self
            .shards
            .iter()
            .map(|s| s.validators_epoch)
            .min()
            .unwrap_or(0);
        while self.validator_history.len() > 1 && self.validator_history[1].0 <= oldest {
            self.validator_history.remove(0);
        }
    }

    /// `height (8) ‖ shard epoch length (8) ‖ shards ‖ validator history ‖ payouts ‖
    /// consortium state`, each list prefixed with its count (4).
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
        out.extend_from_slice(&(self.validator_history.len() as u32).to_be_bytes());
        for (epoch, keys) in &self.validator_history {
            out.extend_from_slice(&epoch.to_be_bytes());
            out.extend_from_slice(&(keys.len() as u32).to_be_bytes());
            for key in keys {
                put_chunk(&mut out, key);
            }
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
        let mut validator_history = Vec::new();
        for _ in 0..r.count("the validator history", 12)? {
            let epoch = r.u64("a validator set")?;
            let mut keys = Vec::new();
            for _ in 0..r.count("a validator set", 4)? {
                keys.push(r.chunk("a validator key", 1024)?.to_vec());
            }
            validator_history.push((epoch, keys));
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
        if payouts.len() != shards.len() || validator_history.is_empty() {
            return Err(BeaconError::Corrupt("shard lists of different lengths"));
        }
        Ok(Self {
            height,
            consortium,
            shard_epoch_length,
            shards,
            validator_history,
            payouts,
        })
    }
}

/// A validator set from consensus keys.
pub fn validator_set(keys: &[Vec<u8>]) -> Result<ValidatorSet, BeaconError> {
    ValidatorSet::new(keys.iter().map(|k| PublicKey(k.clone())).collect())
        .map_err(|e| BeaconError::ValidatorSet(e.to_string()))
}
