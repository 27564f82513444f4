//! `FeeSplit`: the rule by which base fees collected in the treasury are shared among members at
//! each epoch boundary, and the integer arithmetic that applies it.

use std::collections::BTreeMap;

use alloy_primitives::U256;
use serde::{Deserialize, Serialize};

use crate::spec::Member;

/// Basis points in a whole (100%).
pub const BASIS_POINTS_TOTAL: u32 = 10_000;

/// How the treasury's base fees are shared among members each epoch.
///
/// JSON: `"equal"`, `"by-weight"`, or `{"fixed": {"<organisation>": <basis points>, ...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeeSplit {
    /// Every member gets the same share.
    #[default]
    Equal,
    /// Shares are proportional to each member's `weight`.
    ByWeight,
    /// Each member, named by organisation, gets a fixed number of basis points; they sum to
    /// 10,000 and every member is listed (0 is allowed).
    Fixed(BTreeMap<String, u32>),
}

/// The result of sharing one epoch's fees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeePayout {
    /// Payout of each member, in the order of the member list given.
    pub per_member: Vec<U256>,
    /// What integer division leaves over; it stays in the treasury for the next epoch.
    pub remainder: U256,
}

impl FeeSplit {
    /// Each member's share weight under this rule, in member order.
    pub fn weights(&self, members: &[Member]) -> Vec<u64> {
        members
            .iter()
            .map(|member| match self {
                FeeSplit::Equal => 1,
                FeeSplit::ByWeight => member.weight,
                FeeSplit::Fixed(points) => points
                    .get(&member.organisation)
                    .copied()
                    .map(u64::from)
                    .unwrap_or(0),
            })
            .collect()
    }

    /// Shares `amount` among `members`: member i gets `floor(amount * w_i / sum(w))`; the
    /// remainder (less than the number of members' total weight) stays in the treasury. If the
    /// total weight is zero, nothing is paid.
    pub fn payouts(&self, members: &[Member], amount: U256) -> FeePayout {
        let weights = self.weights(members);
        let total = weights
            .iter()
            .fold(U256::ZERO, |sum, w| sum + U256::from(*w));
        if total.is_zero() {
            return FeePayout {
                per_member: vec![U256::ZERO; members.len()],
                remainder: amount,
            };
        }
        let (quotient, rest) = amount.div_rem(total);
        let per_member: Vec<U256> = weights
            .iter()
            .map(|w| {
                let w = U256::from(*w);
                // amount * w / total without overflow: (q * total + r) * w / total = q * w + r * w / total.
                quotient * w + rest * w / total
            })
            .collect();
        let paid = per_member.iter().fold(U256::ZERO, |sum, p| sum + *p);
        FeePayout {
            per_member,
            remainder: amount - paid,
        }
    }
}
