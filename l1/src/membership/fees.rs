//! Sharing one epoch's base fees among the members by the governed rule.
//!
//! The treasury's income of the epoch plus what the last distribution left over is shared with
//! `FeeSplit::payouts` (each member gets `floor(amount * w_i / sum(w))`); what integer division
//! leaves over stays in the treasury and is shared at the next boundary. So over any run of
//! epochs `sum(collected) == sum(paid) + carried_out of the last epoch`: nothing is created or
//! lost.

use alloy_primitives::{Address, U256};
use kaimeng_genesis::hex_text::{address, lenient_u256};
use kaimeng_genesis::{FeeSplit, Member};
use serde::{Deserialize, Serialize};

/// What one member receives at an epoch boundary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberPayout {
    pub organisation: String,
    /// The member's fee recipient at the time of payment.
    #[serde(with = "address")]
    pub fee_recipient: Address,
    /// In wei (a decimal string in JSON).
    #[serde(with = "lenient_u256")]
    pub amount: U256,
}

/// The fee sharing of one epoch. Amounts are wei, decimal strings in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeDistribution {
    /// The epoch whose fees were shared.
    pub epoch: u64,
    /// Base fees the treasury collected during the epoch.
    #[serde(with = "lenient_u256")]
    pub collected: U256,
    /// Left over from the previous distribution.
    #[serde(with = "lenient_u256")]
    pub carried_in: U256,
    /// One entry per member of the epoch, in member order.
    pub payouts: Vec<MemberPayout>,
    /// Left over now; stays in the treasury for the next distribution.
    #[serde(with = "lenient_u256")]
    pub carried_out: U256,
}

impl FeeDistribution {
    /// Sum of the payouts.
    pub fn total_paid(&self) -> U256 {
        self.payouts
            .iter()
            .fold(U256::ZERO, |sum, payout| sum.saturating_add(payout.amount))
    }
}

/// Shares `collected + carried_in` among `members` by `split`; `None` if the sum overflows 256
/// bits (which no real treasury reaches).
pub fn share_fees(
    epoch: u64,
    split: &FeeSplit,
    members: &[Member],
    collected: U256,
    carried_in: U256,
) -> Option<FeeDistribution> {
    let amount = collected.checked_add(carried_in)?;
    let payout = split.payouts(members, amount);
    let payouts = members
        .iter()
        .zip(payout.per_member)
        .map(|(member, amount)| MemberPayout {
            organisation: member.organisation.clone(),
            fee_recipient: member.fee_recipient,
            amount,
        })
        .collect();
    Some(FeeDistribution {
        epoch,
        collected,
        carried_in,
        payouts,
        carried_out: payout.remainder,
    })
}
