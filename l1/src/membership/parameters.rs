//! The chain parameters governance controls, their genesis values and their bounds.
//!
//! Bounds are genesis's where genesis has one (`kaimeng_genesis` validation): the block gas limit
//! within `MIN_BLOCK_GAS_LIMIT..=MAX_BLOCK_GAS_LIMIT`, an epoch of at least one block, a minimum
//! base fee of zero only if genesis allowed it, and a fixed fee split that lists exactly the
//! members and sums to 10,000 basis points. The two parameters genesis does not have get
//! documented bounds here.

use std::collections::BTreeSet;

use kaimeng_genesis::hex_text::lenient_u128;
use kaimeng_genesis::{
    BASIS_POINTS_TOTAL, FeeSplit, GenesisSpec, MAX_BLOCK_GAS_LIMIT, MIN_BLOCK_GAS_LIMIT, Member,
};
use serde::{Deserialize, Serialize};

use super::error::MembershipError;
use super::members::MAX_MEMBERS;

/// Largest shard committee: the consensus engine's largest validator set.
pub const MAX_COMMITTEE_SIZE: u32 = MAX_MEMBERS as u32;
/// How many epochs a proposal stays open unless genesis tooling says otherwise: the epoch it
/// was made in and the next one.
pub const DEFAULT_PROPOSAL_LIFETIME_EPOCHS: u64 = 2;
/// Longest a proposal may stay open, in epochs.
pub const MAX_PROPOSAL_LIFETIME_EPOCHS: u64 = 1024;

/// The governed parameters in force during an epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parameters {
    /// Floor of every shard's EIP-1559 base fee, in wei (a decimal string in JSON).
    #[serde(with = "lenient_u128")]
    pub min_base_fee: u128,
    /// Gas limit of every shard block.
    pub block_gas_limit: u64,
    /// Beacon blocks per epoch, from the next epoch on.
    pub epoch_length: u64,
    /// How the treasury's base fees are shared among members at each epoch boundary.
    pub fee_split: FeeSplit,
    /// Validators per shard committee (used when committees arrive; committees take
    /// `min(committee_size, members)`).
    pub committee_size: u32,
    /// Epochs a proposal stays open: made in epoch `e`, it can be voted on until epoch
    /// `e + proposal_lifetime_epochs - 1` ends.
    pub proposal_lifetime_epochs: u64,
}

impl Parameters {
    /// The parameters of epoch 0: genesis values, a committee of every founding member, and the
    /// default proposal lifetime.
    pub fn from_genesis(spec: &GenesisSpec) -> Self {
        Parameters {
            min_base_fee: spec.min_base_fee,
            block_gas_limit: spec.block_gas_limit,
            epoch_length: spec.epoch_length,
            fee_split: spec.fee_split.clone(),
            committee_size: spec
                .committee_size
                .unwrap_or(u32::try_from(spec.members.len()).unwrap_or(MAX_COMMITTEE_SIZE))
                .clamp(1, MAX_COMMITTEE_SIZE),
            proposal_lifetime_epochs: DEFAULT_PROPOSAL_LIFETIME_EPOCHS,
        }
    }

    /// Sets one parameter (already checked with [`Parameter::check`]).
    pub fn set(&mut self, parameter: &Parameter) {
        match parameter {
            Parameter::MinBaseFee(value) => self.min_base_fee = *value,
            Parameter::BlockGasLimit(value) => self.block_gas_limit = *value,
            Parameter::EpochLength(value) => self.epoch_length = *value,
            Parameter::FeeSplit(split) => self.fee_split = split.clone(),
            Parameter::CommitteeSize(value) => self.committee_size = *value,
            Parameter::ProposalLifetimeEpochs(value) => self.proposal_lifetime_epochs = *value,
        }
    }

    /// Keeps a fixed fee split keyed by the current members after `organisation` joined: it
    /// enters with 0 basis points until governance sets a new split.
    pub(crate) fn member_added(&mut self, organisation: &str) {
        if let FeeSplit::Fixed(points) = &mut self.fee_split {
            points.insert(organisation.to_owned(), 0);
        }
    }

    /// Keeps a fixed fee split keyed by the current members after `organisation` left: its entry
    /// is dropped and the others share in proportion to their basis points.
    pub(crate) fn member_removed(&mut self, organisation: &str) {
        if let FeeSplit::Fixed(points) = &mut self.fee_split {
            points.remove(organisation);
        }
    }
}

/// One parameter with its new value, as a governance action carries it.
///
/// JSON: `{"min-base-fee": "1000000000"}`, `{"block-gas-limit": 60000000}`,
/// `{"epoch-length": 64}`, `{"fee-split": "by-weight"}`, `{"committee-size": 4}`,
/// `{"proposal-lifetime-epochs": 3}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Parameter {
    MinBaseFee(#[serde(with = "lenient_u128")] u128),
    BlockGasLimit(u64),
    EpochLength(u64),
    FeeSplit(FeeSplit),
    CommitteeSize(u32),
    ProposalLifetimeEpochs(u64),
}

impl Parameter {
    /// The parameter's name as in [`Parameters`] and error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Parameter::MinBaseFee(_) => "min_base_fee",
            Parameter::BlockGasLimit(_) => "block_gas_limit",
            Parameter::EpochLength(_) => "epoch_length",
            Parameter::FeeSplit(_) => "fee_split",
            Parameter::CommitteeSize(_) => "committee_size",
            Parameter::ProposalLifetimeEpochs(_) => "proposal_lifetime_epochs",
        }
    }

    /// Checks the value against its bounds; `allow_zero_base_fee` comes from genesis and
    /// `members` are the members the value would apply to.
    pub fn check(
        &self,
        allow_zero_base_fee: bool,
        members: &[Member],
    ) -> Result<(), MembershipError> {
        let out_of_bounds = |problem: String| MembershipError::ParameterOutOfBounds {
            parameter: self.name(),
            problem,
        };
        match self {
            Parameter::MinBaseFee(0) if !allow_zero_base_fee => Err(out_of_bounds(
                "0 is allowed only on a chain whose genesis sets allow_zero_base_fee".to_owned(),
            )),
            Parameter::MinBaseFee(_) => Ok(()),
            Parameter::BlockGasLimit(limit)
                if !(MIN_BLOCK_GAS_LIMIT..=MAX_BLOCK_GAS_LIMIT).contains(limit) =>
            {
                Err(out_of_bounds(format!(
                    "{limit} is not within {MIN_BLOCK_GAS_LIMIT} to {MAX_BLOCK_GAS_LIMIT}"
                )))
            }
            Parameter::BlockGasLimit(_) => Ok(()),
            Parameter::EpochLength(0) => {
                Err(out_of_bounds("must be at least 1 beacon block".to_owned()))
            }
            Parameter::EpochLength(_) => Ok(()),
            Parameter::CommitteeSize(size) if !(1..=MAX_COMMITTEE_SIZE).contains(size) => Err(
                out_of_bounds(format!("{size} is not within 1 to {MAX_COMMITTEE_SIZE}")),
            ),
            Parameter::CommitteeSize(_) => Ok(()),
            Parameter::ProposalLifetimeEpochs(epochs)
                if !(1..=MAX_PROPOSAL_LIFETIME_EPOCHS).contains(epochs) =>
            {
                Err(out_of_bounds(format!(
                    "{epochs} is not within 1 to {MAX_PROPOSAL_LIFETIME_EPOCHS} epochs"
                )))
            }
            Parameter::ProposalLifetimeEpochs(_) => Ok(()),
            Parameter::FeeSplit(split) => check_fee_split(split, members).map_err(out_of_bounds),
        }
    }
}

/// A fixed split must name exactly the members and sum to 10,000 basis points.
fn check_fee_split(split: &FeeSplit, members: &[Member]) -> Result<(), String> {
    let FeeSplit::Fixed(points) = split else {
        return Ok(());
    };
    let names: BTreeSet<&str> = members.iter().map(|m| m.organisation.as_str()).collect();
    if let Some(stranger) = points.keys().find(|name| !names.contains(name.as_str())) {
        return Err(format!("\"{stranger}\" is not a member"));
    }
    if let Some(missing) = names.iter().find(|name| !points.contains_key(**name)) {
        return Err(format!(
            "member \"{missing}\" has no entry; list every member (0 basis points is allowed)"
        ));
    }
    let sum: u64 = points.values().map(|p| u64::from(*p)).sum();
    if sum != u64::from(BASIS_POINTS_TOTAL) {
        return Err(format!(
            "basis points sum to {sum}; they must sum to {BASIS_POINTS_TOTAL}"
        ));
    }
    Ok(())
}
