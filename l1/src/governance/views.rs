//! The JSON answers of the `kaimeng_members`, `kaimeng_proposals` and `kaimeng_epoch` RPC
//! methods, built from the state. Field names are snake_case and stable; amounts are decimal
//! strings, keys and addresses `0x` hex, as in genesis files.

use alloy_primitives::{Address, U256};
use kaimeng_genesis::HexBytes;
use kaimeng_genesis::hex_text::{address, lenient_u256};
use serde::{Deserialize, Serialize};

use super::proposal::{Proposal, Tally};
use super::state::ConsortiumState;
use crate::epoch::EpochInfo;
use crate::membership::{FeeDistribution, Parameters, Validator};

/// `kaimeng_members`: the current members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembersView {
    pub epoch: u64,
    pub members: Vec<MemberView>,
}

/// One member, with the nonce its next governance transaction needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    pub organisation: String,
    pub admin_key: HexBytes,
    pub consensus_key: HexBytes,
    pub vrf_key: HexBytes,
    pub peer_id: String,
    #[serde(with = "address")]
    pub fee_recipient: Address,
    pub weight: u64,
    pub next_nonce: u64,
}

/// `kaimeng_proposals`: proposals with their current tally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalsView {
    pub epoch: u64,
    pub proposals: Vec<ProposalView>,
}

/// A proposal (all its fields, status flattened) and `tally`, its votes counted against the
/// current members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalView {
    #[serde(flatten)]
    pub proposal: Proposal,
    pub tally: Tally,
}

/// `kaimeng_epoch`: the current epoch, its validators and parameters, what takes effect at its
/// end, and the last fee sharing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochView {
    #[serde(flatten)]
    pub epoch: EpochInfo,
    pub parameters: Parameters,
    pub validators: Vec<Validator>,
    /// Passed proposal ids taking effect at this epoch's end.
    pub scheduled: Vec<u64>,
    #[serde(with = "address")]
    pub treasury: Address,
    #[serde(with = "lenient_u256")]
    pub treasury_carry: U256,
    pub last_fee_distribution: Option<FeeDistribution>,
}

impl ConsortiumState {
    /// The `kaimeng_members` answer.
    pub fn members_view(&self) -> MembersView {
        MembersView {
            epoch: self.epoch.epoch,
            members: self
                .members
                .iter()
                .map(|member| MemberView {
                    organisation: member.organisation.clone(),
                    admin_key: member.admin_key.clone(),
                    consensus_key: member.consensus_key.clone(),
                    vrf_key: member.vrf_key.clone(),
                    peer_id: member.peer_id.clone(),
                    fee_recipient: member.fee_recipient,
                    weight: member.weight,
                    next_nonce: self.next_nonce(&member.organisation),
                })
                .collect(),
        }
    }

    /// The `kaimeng_proposals` answer: every proposal, or only those whose status name
    /// (`open`, `passed`, `enacted`, `failed`, `rejected`, `expired`) is `status`.
    pub fn proposals_view(&self, status: Option<&str>) -> ProposalsView {
        ProposalsView {
            epoch: self.epoch.epoch,
            proposals: self
                .proposals
                .iter()
                .filter(|proposal| status.is_none_or(|name| proposal.status.name() == name))
                .map(|proposal| ProposalView {
                    proposal: proposal.clone(),
                    tally: proposal.tally(&self.members),
                })
                .collect(),
        }
    }

    /// The `kaimeng_epoch` answer.
    pub fn epoch_view(&self) -> EpochView {
        EpochView {
            epoch: self.epoch,
            parameters: self.parameters.clone(),
            validators: self.validators(),
            scheduled: self.scheduled.clone(),
            treasury: self.treasury,
            treasury_carry: self.treasury_carry,
            last_fee_distribution: self.last_fee_distribution.clone(),
        }
    }
}
