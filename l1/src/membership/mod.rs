//! Consortium membership: the member set and the rules a new member must meet, the governed
//! chain parameters and their bounds, the validator set derived from the members, and how an
//! epoch's base fees are shared among them.
//!
//! Pure data and checks; the state that ties them together and changes them is
//! [`crate::governance::ConsortiumState`].

mod error;
mod fees;
mod members;
mod parameters;
mod validators;

pub use error::MembershipError;
pub use fees::{FeeDistribution, MemberPayout, share_fees};
pub use members::{MAX_MEMBERS, check_new_member, check_removal, find_member};
pub use parameters::{
    DEFAULT_PROPOSAL_LIFETIME_EPOCHS, MAX_COMMITTEE_SIZE, MAX_PROPOSAL_LIFETIME_EPOCHS, Parameter,
    Parameters,
};
pub use validators::Validator;

/// A consortium member, exactly as genesis defines it (organisation, admin / consensus / VRF
/// keys, peer id, fee recipient, weight); members added by governance have the same shape.
pub use kaimeng_genesis::Member;
