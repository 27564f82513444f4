//! Proposals, their votes, and the passing rule.
//!
//! A proposal's **electorate** is the member list when it was made. It passes when strictly more
//! than two thirds of the electorate approve: `3 * approvals > 2 * electorate`, i.e. at least
//! `floor(2n / 3) + 1` approvals (4 members need 3, 3 need 3, 7 need 5, 1 needs 1). Making a
//! proposal counts as the proposer's approval. Only votes of electorate members who are still
//! members count, so a removed member's votes stop counting; members who joined later cannot
//! vote on it. The denominator stays the electorate's size.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::transaction::Action;
use crate::membership::Member;

/// Approvals an electorate of `electorate` members needs: the least `a` with `3a > 2n`.
pub fn approvals_needed(electorate: usize) -> usize {
    electorate * 2 / 3 + 1
}

/// Whether `approvals` out of an electorate of `electorate` pass (`3a > 2n`).
pub fn passes(approvals: usize, electorate: usize) -> bool {
    3 * approvals as u128 > 2 * electorate as u128
}

/// `reason` cut to at most `MAX_REASON_BYTES` bytes on a character boundary, so every failure
/// reason fits the state encoding.
pub(crate) fn clip_reason(mut reason: String) -> String {
    let max = super::codec::MAX_REASON_BYTES;
    if reason.len() > max {
        let mut end = max;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    reason
}

/// One member's vote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CastVote {
    pub voter: String,
    pub approve: bool,
}

/// Where a proposal is in its life.
///
/// JSON: flattened into the proposal as `"status": "open" | "passed" | "enacted" | "failed" |
/// "rejected" | "expired"` with the variant's fields beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum ProposalStatus {
    /// Taking votes.
    Open,
    /// Reached the threshold in `passed_in_epoch`; takes effect at the end of that epoch.
    Passed { passed_in_epoch: u64 },
    /// Took effect at the start of `effective_epoch`.
    Enacted { effective_epoch: u64 },
    /// Passed, but was no longer valid when its epoch ended (for example the member it would
    /// add had joined through another proposal); nothing changed.
    Failed { epoch: u64, reason: String },
    /// Enough members rejected it (or left) that it could no longer pass; noticed in `epoch`.
    Rejected { epoch: u64 },
    /// Did not pass in time; closed at the start of `epoch`.
    Expired { epoch: u64 },
}

impl ProposalStatus {
    /// The status name as in JSON.
    pub fn name(&self) -> &'static str {
        match self {
            ProposalStatus::Open => "open",
            ProposalStatus::Passed { .. } => "passed",
            ProposalStatus::Enacted { .. } => "enacted",
            ProposalStatus::Failed { .. } => "failed",
            ProposalStatus::Rejected { .. } => "rejected",
            ProposalStatus::Expired { .. } => "expired",
        }
    }
}

/// The count of a proposal's votes against the current members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Members at proposal time.
    pub electorate: u64,
    /// Approvals that count (voters still members).
    pub approvals: u64,
    /// Rejections that count (voters still members).
    pub rejections: u64,
    /// Electorate members still members who have not voted.
    pub outstanding: u64,
    /// Approvals needed to pass.
    pub needed: u64,
}

impl Tally {
    pub fn passed(&self) -> bool {
        passes(self.approvals as usize, self.electorate as usize)
    }

    /// Whether the proposal can no longer pass even if every outstanding member approves.
    pub fn hopeless(&self) -> bool {
        !passes(
            (self.approvals + self.outstanding) as usize,
            self.electorate as usize,
        )
    }
}

/// A proposal and every vote on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// Sequential from 1, in the order proposals were made.
    pub id: u64,
    pub proposer: String,
    pub action: Action,
    /// Epoch and beacon height of the transaction that made it.
    pub created_epoch: u64,
    pub created_height: u64,
    /// First epoch in which it is no longer open (`created_epoch + proposal_lifetime_epochs`).
    pub expires_at_epoch: u64,
    /// Organisations of the members when it was made, in member order.
    pub electorate: Vec<String>,
    /// Votes in the order cast; the proposer's approval comes first.
    pub votes: Vec<CastVote>,
    #[serde(flatten)]
    pub status: ProposalStatus,
}

impl Proposal {
    pub fn is_open(&self) -> bool {
        self.status == ProposalStatus::Open
    }

    /// Whether `organisation` was a member when the proposal was made.
    pub fn in_electorate(&self, organisation: &str) -> bool {
        self.electorate.iter().any(|name| name == organisation)
    }

    /// The vote `organisation` cast, if any.
    pub fn vote_of(&self, organisation: &str) -> Option<&CastVote> {
        self.votes.iter().find(|vote| vote.voter == organisation)
    }

    /// Counts the votes of electorate members that are still in `members`.
    pub fn tally(&self, members: &[Member]) -> Tally {
        let current: BTreeSet<&str> = members.iter().map(|m| m.organisation.as_str()).collect();
        let is_member = |name: &str| current.contains(name);
        let counted = |approve: bool| {
            self.votes
                .iter()
                .filter(|vote| vote.approve == approve && is_member(&vote.voter))
                .count() as u64
        };
        let voted: BTreeSet<&str> = self.votes.iter().map(|v| v.voter.as_str()).collect();
        let outstanding = self
            .electorate
            .iter()
            .filter(|name| is_member(name) && !voted.contains(name.as_str()))
            .count() as u64;
        Tally {
            electorate: self.electorate.len() as u64,
            approvals: counted(true),
            rejections: counted(false),
            outstanding,
            needed: approvals_needed(self.electorate.len()) as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needed_is_the_least_count_strictly_above_two_thirds() {
        for n in 1..=200usize {
            let needed = approvals_needed(n);
            assert!(passes(needed, n), "n = {n}");
            assert!(!passes(needed - 1, n), "n = {n}");
            assert!(3 * needed > 2 * n && 3 * (needed - 1) <= 2 * n);
        }
        assert_eq!(
            [1, 2, 3, 4, 5, 6, 7, 10, 100].map(approvals_needed),
            [1, 2, 3, 3, 4, 5, 5, 7, 67]
        );
    }
}
