//! Applying one signed governance transaction to the state: who may send it, signature and
//! nonce, and the rules of proposing and voting.
//!
//! Every check runs before anything changes ([`ConsortiumState::check_tx`] runs only the
//! checks), so a refused transaction leaves the state exactly as it was and consumes no nonce.
//! The order of checks: the height is in the current epoch, the signer is a current member, the
//! signature verifies against its admin key, the nonce is its next one, then the rules.

use kaimeng_crypto::{PublicKey, Signature};
use serde::{Deserialize, Serialize};

use super::error::GovernanceError;
use super::proposal::{CastVote, Proposal, ProposalStatus};
use super::state::ConsortiumState;
use super::transaction::{Action, GovernanceTx, SignedGovernanceTx};
use crate::membership::{Member, MembershipError, check_new_member, check_removal};

/// Most open proposals one member may have at a time, so no member can grow the state without
/// bound.
pub const MAX_OPEN_PROPOSALS_PER_MEMBER: usize = 8;

/// What an accepted transaction did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TxOutcome {
    /// A proposal was made; `status` is `passed` at once when the proposer alone is more than
    /// two thirds (a one-member consortium).
    Proposed {
        proposal_id: u64,
        status: ProposalStatus,
    },
    /// A vote was recorded; `status` is the proposal's status after it.
    Voted {
        proposal_id: u64,
        status: ProposalStatus,
    },
}

/// The changes an accepted transaction makes, computed before any is made.
enum Change {
    NewProposal(Box<Proposal>),
    Vote {
        index: usize,
        vote: CastVote,
        status: ProposalStatus,
    },
}

impl ConsortiumState {
    /// Applies `tx`, included in the beacon block at `height`.
    pub fn apply_tx(
        &mut self,
        height: u64,
        tx: &SignedGovernanceTx,
    ) -> Result<TxOutcome, GovernanceError> {
        let change = self.plan(height, tx)?;
        let signer = tx.tx.signer().to_owned();
        self.nonces.insert(signer, tx.tx.nonce() + 1);
        let outcome = match change {
            Change::NewProposal(proposal) => {
                let proposal_id = proposal.id;
                let status = proposal.status.clone();
                if matches!(status, ProposalStatus::Passed { .. }) {
                    self.scheduled.push(proposal_id);
                }
                self.next_proposal_id = proposal_id + 1;
                self.proposals.push(*proposal);
                TxOutcome::Proposed {
                    proposal_id,
                    status,
                }
            }
            Change::Vote {
                index,
                vote,
                status,
            } => {
                let proposal = &mut self.proposals[index];
                proposal.votes.push(vote);
                proposal.status = status.clone();
                if matches!(status, ProposalStatus::Passed { .. }) {
                    self.scheduled.push(proposal.id);
                }
                TxOutcome::Voted {
                    proposal_id: proposal.id,
                    status,
                }
            }
        };
        Ok(outcome)
    }

    /// Decodes the wire encoding and applies it.
    pub fn apply_encoded_tx(
        &mut self,
        height: u64,
        bytes: &[u8],
    ) -> Result<TxOutcome, GovernanceError> {
        let tx = SignedGovernanceTx::decode(bytes)?;
        self.apply_tx(height, &tx)
    }

    /// Whether `tx` would be accepted at `height`, without changing anything (for mempools and
    /// block validation).
    pub fn check_tx(&self, height: u64, tx: &SignedGovernanceTx) -> Result<(), GovernanceError> {
        self.plan(height, tx).map(|_| ())
    }

    /// Whether `action` is acceptable against the current members and bounds. Checked when
    /// proposed and again when the epoch ends, before it takes effect.
    pub fn check_action(&self, action: &Action) -> Result<(), MembershipError> {
        match action {
            Action::AddMember(member) => check_new_member(self.crypto_suite, &self.members, member),
            Action::RemoveMember(organisation) => check_removal(&self.members, organisation),
            Action::SetParameter(parameter) => {
                parameter.check(self.allow_zero_base_fee, &self.members)
            }
        }
    }

    fn plan(&self, height: u64, signed: &SignedGovernanceTx) -> Result<Change, GovernanceError> {
        if !self.epoch.contains(height) {
            return Err(GovernanceError::HeightOutsideEpoch {
                height,
                epoch: self.epoch.epoch,
                start: self.epoch.start_height,
                last: self.epoch.last_height,
            });
        }
        let tx = &signed.tx;
        let signer = tx.signer();
        let member = self
            .member(signer)
            .ok_or_else(|| GovernanceError::NotAMember {
                organisation: signer.to_owned(),
            })?;
        self.verify_signature(member, signed)?;
        let expected = self.next_nonce(signer);
        if tx.nonce() != expected {
            return Err(GovernanceError::BadNonce {
                organisation: signer.to_owned(),
                expected,
                got: tx.nonce(),
            });
        }
        if expected == u64::MAX {
            return Err(GovernanceError::Overflow);
        }
        match tx {
            GovernanceTx::Propose {
                proposer, action, ..
            } => self.plan_proposal(height, proposer, action),
            GovernanceTx::Vote {
                voter,
                proposal_id,
                approve,
                ..
            } => self.plan_vote(voter, *proposal_id, *approve),
        }
    }

    fn verify_signature(
        &self,
        member: &Member,
        signed: &SignedGovernanceTx,
    ) -> Result<(), GovernanceError> {
        let suite = self.crypto_suite();
        let bad = |reason: String| GovernanceError::BadSignature {
            organisation: member.organisation.clone(),
            reason,
        };
        let admin_key = PublicKey::from_bytes(suite, &member.admin_key)
            .map_err(|error| bad(format!("admin key unusable: {error}")))?;
        let signature = Signature::from_bytes(suite, &signed.signature)
            .map_err(|error| bad(error.to_string()))?;
        admin_key
            .verify(&signed.tx.signing_message(&self.domain), &signature)
            .map_err(|error| bad(error.to_string()))
    }

    fn plan_proposal(
        &self,
        height: u64,
        proposer: &str,
        action: &Action,
    ) -> Result<Change, GovernanceError> {
        let open = self
            .proposals
            .iter()
            .filter(|proposal| proposal.is_open() && proposal.proposer == proposer)
            .count();
        if open >= MAX_OPEN_PROPOSALS_PER_MEMBER {
            return Err(GovernanceError::TooManyOpenProposals {
                organisation: proposer.to_owned(),
                max: MAX_OPEN_PROPOSALS_PER_MEMBER,
            });
        }
        self.check_action(action)?;
        if self.next_proposal_id == u64::MAX {
            return Err(GovernanceError::Overflow);
        }
        let mut proposal = Proposal {
            id: self.next_proposal_id,
            proposer: proposer.to_owned(),
            action: action.clone(),
            created_epoch: self.epoch.epoch,
            created_height: height,
            expires_at_epoch: self
                .epoch
                .epoch
                .saturating_add(self.parameters.proposal_lifetime_epochs),
            electorate: self
                .members
                .iter()
                .map(|member| member.organisation.clone())
                .collect(),
            votes: vec![CastVote {
                voter: proposer.to_owned(),
                approve: true,
            }],
            status: ProposalStatus::Open,
        };
        proposal.status = self.status_after_vote(&proposal);
        Ok(Change::NewProposal(Box::new(proposal)))
    }

    fn plan_vote(&self, voter: &str, id: u64, approve: bool) -> Result<Change, GovernanceError> {
        let index = self
            .proposal_index(id)
            .ok_or(GovernanceError::UnknownProposal { id })?;
        let proposal = &self.proposals[index];
        if !proposal.is_open() {
            return Err(GovernanceError::ProposalClosed {
                id,
                status: proposal.status.name(),
            });
        }
        if !proposal.in_electorate(voter) {
            return Err(GovernanceError::NotEligible {
                id,
                organisation: voter.to_owned(),
            });
        }
        if proposal.vote_of(voter).is_some() {
            return Err(GovernanceError::AlreadyVoted {
                id,
                organisation: voter.to_owned(),
            });
        }
        let vote = CastVote {
            voter: voter.to_owned(),
            approve,
        };
        let mut after = proposal.clone();
        after.votes.push(vote.clone());
        let status = self.status_after_vote(&after);
        Ok(Change::Vote {
            index,
            vote,
            status,
        })
    }

    /// `Passed` once the counted approvals pass, `Rejected` once they never can, else `Open`.
    pub(crate) fn status_after_vote(&self, proposal: &Proposal) -> ProposalStatus {
        let tally = proposal.tally(&self.members);
        if tally.passed() {
            ProposalStatus::Passed {
                passed_in_epoch: self.epoch.epoch,
            }
        } else if tally.hopeless() {
            ProposalStatus::Rejected {
                epoch: self.epoch.epoch,
            }
        } else {
            ProposalStatus::Open
        }
    }
}
