//! `ConsortiumState`: the beacon chain's membership and governance state — members, governed
//! parameters, the current epoch, proposals with their votes, changes scheduled for the next
//! boundary, per-member nonces and the treasury's undistributed remainder.
//!
//! Built from genesis; changed only by [`ConsortiumState::apply_tx`] and
//! [`ConsortiumState::on_epoch_boundary`]; persisted with [`ConsortiumState::encode`] /
//! [`ConsortiumState::decode`]; committed to by [`ConsortiumState::hash`].

use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, U256};
use kaimeng_genesis::GenesisSpec;
use kaimeng_genesis::hex_text::{address, lenient_u256};
use serde::Serialize;

use super::codec::{self, DecodeError};
use super::error::GovernanceError;
use super::proposal::Proposal;
use super::transaction::GovernanceDomain;
use crate::epoch::EpochInfo;
use crate::membership::{FeeDistribution, Member, Parameters, Validator, find_member};

/// The genesis crypto suite (named as in genesis files).
pub use kaimeng_genesis::CryptoSuite as GenesisSuite;

/// Membership and governance state of the beacon chain. Serialises to JSON with stable snake_case
/// field names (amounts as decimal strings); deterministic binary encoding via `encode`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsortiumState {
    pub(crate) domain: GovernanceDomain,
    pub(crate) crypto_suite: GenesisSuite,
    #[serde(with = "address")]
    pub(crate) treasury: Address,
    pub(crate) allow_zero_base_fee: bool,
    pub(crate) epoch: EpochInfo,
    pub(crate) parameters: Parameters,
    pub(crate) members: Vec<Member>,
    /// Next nonce of every organisation that ever sent a transaction (kept after removal, so a
    /// re-admitted member's old transactions cannot be replayed).
    pub(crate) nonces: BTreeMap<String, u64>,
    pub(crate) next_proposal_id: u64,
    /// Every proposal ever made, by ascending id.
    pub(crate) proposals: Vec<Proposal>,
    /// Ids of passed proposals awaiting the boundary, in the order they passed.
    pub(crate) scheduled: Vec<u64>,
    #[serde(with = "lenient_u256")]
    pub(crate) treasury_carry: U256,
    pub(crate) last_fee_distribution: Option<FeeDistribution>,
}

impl ConsortiumState {
    /// The state at genesis: founding members, genesis parameters, epoch 0, no proposals.
    pub fn from_genesis(spec: &GenesisSpec) -> Result<Self, GovernanceError> {
        spec.validate()
            .map_err(|error| GovernanceError::InvalidGenesis(error.to_string()))?;
        Ok(ConsortiumState {
            domain: GovernanceDomain::of(spec),
            crypto_suite: spec.crypto_suite,
            treasury: spec.treasury,
            allow_zero_base_fee: spec.allow_zero_base_fee,
            epoch: EpochInfo::first(spec.epoch_length),
            parameters: Parameters::from_genesis(spec),
            members: spec.members.clone(),
            nonces: BTreeMap::new(),
            next_proposal_id: 1,
            proposals: Vec::new(),
            scheduled: Vec::new(),
            treasury_carry: U256::ZERO,
            last_fee_distribution: None,
        })
    }

    /// The chain every governance signature is bound to.
    pub fn domain(&self) -> &GovernanceDomain {
        &self.domain
    }

    /// The consensus suite, as genesis names it.
    pub fn genesis_suite(&self) -> GenesisSuite {
        self.crypto_suite
    }

    /// The consensus suite, for signing, verifying and hashing.
    pub fn crypto_suite(&self) -> kaimeng_crypto::CryptoSuite {
        match self.crypto_suite {
            GenesisSuite::Secp256k1Keccak => kaimeng_crypto::CryptoSuite::Secp256k1Keccak,
            GenesisSuite::Sm2Sm3 => kaimeng_crypto::CryptoSuite::Sm2Sm3,
        }
    }

    /// The address that collects base fees.
    pub fn treasury(&self) -> Address {
        self.treasury
    }

    /// The current epoch.
    pub fn epoch(&self) -> EpochInfo {
        self.epoch
    }

    /// The parameters in force this epoch.
    pub fn parameters(&self) -> &Parameters {
        &self.parameters
    }

    /// The current members, in member order (genesis order, then order of admission).
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The current member named exactly `organisation`.
    pub fn member(&self, organisation: &str) -> Option<&Member> {
        find_member(&self.members, organisation).map(|(_, member)| member)
    }

    /// This epoch's validators, in member order.
    pub fn validators(&self) -> Vec<Validator> {
        self.members.iter().map(Validator::of).collect()
    }

    /// The nonce `organisation`'s next transaction must carry.
    pub fn next_nonce(&self, organisation: &str) -> u64 {
        self.nonces.get(organisation).copied().unwrap_or(0)
    }

    /// Every proposal, by ascending id.
    pub fn proposals(&self) -> &[Proposal] {
        &self.proposals
    }

    /// The proposal with `id`.
    pub fn proposal(&self, id: u64) -> Option<&Proposal> {
        self.proposal_index(id).map(|index| &self.proposals[index])
    }

    pub(crate) fn proposal_index(&self, id: u64) -> Option<usize> {
        self.proposals
            .binary_search_by_key(&id, |proposal| proposal.id)
            .ok()
    }

    /// The id the next proposal will get.
    pub fn next_proposal_id(&self) -> u64 {
        self.next_proposal_id
    }

    /// Passed proposals that take effect at the end of this epoch, in the order they passed.
    pub fn scheduled(&self) -> &[u64] {
        &self.scheduled
    }

    /// Base fees left undistributed by the last boundary, shared at the next one.
    pub fn treasury_carry(&self) -> U256 {
        self.treasury_carry
    }

    /// The fee sharing done at the last boundary, if any.
    pub fn last_fee_distribution(&self) -> Option<&FeeDistribution> {
        self.last_fee_distribution.as_ref()
    }

    /// The deterministic binary encoding (layout in `docs/governance.md`).
    pub fn encode(&self) -> Vec<u8> {
        codec::encode_state(self)
    }

    /// Reads an encoding made by [`ConsortiumState::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        codec::decode_state(bytes)
    }

    /// The chain suite's hash (keccak256 or SM3) of the encoding; what a beacon block commits to.
    pub fn hash(&self) -> B256 {
        B256::from(self.crypto_suite().hash(&self.encode()))
    }
}
