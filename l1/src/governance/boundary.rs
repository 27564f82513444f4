//! The epoch boundary: share the ending epoch's base fees, enact the changes that passed during
//! it, close proposals whose time ran out, and start the next epoch.
//!
//! Called once per epoch, with the height of the epoch's last beacon block, after that block's
//! governance transactions were applied. In order:
//! 1. fees: `collected + carried` is shared among the **ending** epoch's members by the ending
//!    epoch's fee split (they served during it); the remainder stays in the treasury;
//! 2. scheduled changes, in the order they passed, each checked again against the state as
//!    changed by the ones before it (a change no longer valid is marked `failed` and skipped);
//! 3. the next epoch starts at `height + 1` with the (possibly new) epoch length;
//! 4. open proposals whose lifetime ended expire, and open ones that can no longer pass (their
//!    voters were removed) are marked rejected.

use alloy_primitives::U256;
use serde::{Deserialize, Serialize};

use super::error::GovernanceError;
use super::proposal::{ProposalStatus, clip_reason};
use super::state::ConsortiumState;
use super::transaction::Action;
use crate::epoch::EpochInfo;
use crate::membership::{FeeDistribution, Parameters, Validator, find_member, share_fees};

/// Everything the node needs after a boundary: the new epoch, validator set and parameters, the
/// fee payouts to make, and what happened to proposals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochTransition {
    /// The epoch that ended.
    pub ended: EpochInfo,
    /// The epoch that starts.
    pub epoch: EpochInfo,
    /// The new epoch's validators, in member order.
    pub validators: Vec<Validator>,
    /// Whether the member set differs from the ended epoch's.
    pub validators_changed: bool,
    /// The new epoch's parameters.
    pub parameters: Parameters,
    /// Whether any parameter differs from the ended epoch's.
    pub parameters_changed: bool,
    /// The ended epoch's fee sharing: pay each `payouts[i].amount` to its `fee_recipient`.
    pub fees: FeeDistribution,
    /// Proposals that took effect now, in the order applied.
    pub enacted: Vec<u64>,
    /// Passed proposals that were no longer valid and changed nothing.
    pub failed: Vec<u64>,
    /// Open proposals that expired.
    pub expired: Vec<u64>,
    /// Open proposals that can no longer pass.
    pub rejected: Vec<u64>,
}

impl ConsortiumState {
    /// Ends the current epoch at `height` (its last height) with `collected_base_fees` of
    /// treasury income in it. Refused, changing nothing, unless `height` is the epoch's last.
    pub fn on_epoch_boundary(
        &mut self,
        height: u64,
        collected_base_fees: U256,
    ) -> Result<EpochTransition, GovernanceError> {
        let ended = self.epoch;
        if height != ended.last_height {
            return Err(GovernanceError::NotEpochBoundary {
                height,
                epoch: ended.epoch,
                expected: ended.last_height,
            });
        }
        let next_number = ended
            .epoch
            .checked_add(1)
            .ok_or(GovernanceError::Overflow)?;
        let next_start = height.checked_add(1).ok_or(GovernanceError::Overflow)?;
        let fees = share_fees(
            ended.epoch,
            &self.parameters.fee_split,
            &self.members,
            collected_base_fees,
            self.treasury_carry,
        )
        .ok_or(GovernanceError::FeeOverflow)?;

        let members_before = self.members.clone();
        let parameters_before = self.parameters.clone();
        let (enacted, failed) = self.enact_scheduled(next_number);
        self.epoch = EpochInfo::new(next_number, next_start, self.parameters.epoch_length);
        let (expired, rejected) = self.close_stale_proposals();
        self.treasury_carry = fees.carried_out;
        self.last_fee_distribution = Some(fees.clone());

        Ok(EpochTransition {
            ended,
            epoch: self.epoch,
            validators: self.validators(),
            validators_changed: self.members != members_before,
            parameters: self.parameters.clone(),
            parameters_changed: self.parameters != parameters_before,
            fees,
            enacted,
            failed,
            expired,
            rejected,
        })
    }

    fn enact_scheduled(&mut self, effective_epoch: u64) -> (Vec<u64>, Vec<u64>) {
        let mut enacted = Vec::new();
        let mut failed = Vec::new();
        for id in std::mem::take(&mut self.scheduled) {
            let Some(index) = self.proposal_index(id) else {
                continue;
            };
            let action = self.proposals[index].action.clone();
            self.proposals[index].status = match self.check_action(&action) {
                Ok(()) => {
                    self.enact(&action);
                    enacted.push(id);
                    ProposalStatus::Enacted { effective_epoch }
                }
                Err(reason) => {
                    failed.push(id);
                    ProposalStatus::Failed {
                        epoch: effective_epoch,
                        reason: clip_reason(reason.to_string()),
                    }
                }
            };
        }
        (enacted, failed)
    }

    fn enact(&mut self, action: &Action) {
        match action {
            Action::AddMember(member) => {
                self.members.push(member.clone());
                self.parameters.member_added(&member.organisation);
            }
            Action::RemoveMember(organisation) => {
                if let Some((index, _)) = find_member(&self.members, organisation) {
                    self.members.remove(index);
                    self.parameters.member_removed(organisation);
                }
            }
            Action::SetParameter(parameter) => self.parameters.set(parameter),
        }
    }

    fn close_stale_proposals(&mut self) -> (Vec<u64>, Vec<u64>) {
        let epoch = self.epoch.epoch;
        let mut expired = Vec::new();
        let mut rejected = Vec::new();
        for proposal in self.proposals.iter_mut().filter(|p| p.is_open()) {
            if epoch >= proposal.expires_at_epoch {
                proposal.status = ProposalStatus::Expired { epoch };
                expired.push(proposal.id);
            } else if proposal.tally(&self.members).hopeless() {
                proposal.status = ProposalStatus::Rejected { epoch };
                rejected.push(proposal.id);
            }
        }
        (expired, rejected)
    }
}
