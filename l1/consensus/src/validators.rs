//! The validator set of one epoch: who may vote, how many votes make a quorum, and who leads
//! each view.
//!
//! Membership changes (governance) take effect at epoch boundaries: the host builds a new
//! [`ValidatorSet`] from the beacon chain's state and starts a new engine for the next epoch.

use crate::types::{Epoch, ValidatorIndex, View};
use thiserror::Error;

/// The largest validator set the codec and engine accept.
pub const MAX_VALIDATORS: usize = 1024;

/// An opaque public key; its meaning belongs to the signature scheme (secp256k1, SM2, mock).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicKey(pub Vec<u8>);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ValidatorSetError {
    #[error("a validator set needs at least one member")]
    Empty,
    #[error("{0} validators exceed the maximum of {MAX_VALIDATORS}")]
    TooMany(usize),
    #[error("validators {first} and {second} share a public key")]
    DuplicateKey {
        first: ValidatorIndex,
        second: ValidatorIndex,
    },
}

/// Equal-weight members, indexed by position. Tolerates `f = (n - 1) / 3` faulty members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    members: Vec<PublicKey>,
}

impl ValidatorSet {
    pub fn new(members: Vec<PublicKey>) -> Result<Self, ValidatorSetError> {
        if members.is_empty() {
            return Err(ValidatorSetError::Empty);
        }
        if members.len() > MAX_VALIDATORS {
            return Err(ValidatorSetError::TooMany(members.len()));
        }
        let mut sorted: Vec<(&PublicKey, usize)> = members.iter().zip(0..).collect();
        sorted.sort();
        for pair in sorted.windows(2) {
            if pair[0].0 == pair[1].0 {
                return Err(ValidatorSetError::DuplicateKey {
                    first: pair[0].1 as ValidatorIndex,
                    second: pair[1].1 as ValidatorIndex,
                });
            }
        }
        Ok(Self { members })
    }

    /// Number of validators, `n`.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The number of faulty validators tolerated, `f = (n - 1) / 3`.
    pub fn max_faulty(&self) -> usize {
        (self.len() - 1) / 3
    }

    /// Votes needed for a certificate: `n - f` (which is `2f + 1` when `n = 3f + 1`). Any two
    /// quorums share at least `f + 1` validators, so at least one honest one.
    pub fn quorum(&self) -> usize {
        self.len() - self.max_faulty()
    }

    pub fn contains(&self, index: ValidatorIndex) -> bool {
        (index as usize) < self.len()
    }

    pub fn public_key(&self, index: ValidatorIndex) -> Option<&PublicKey> {
        self.members.get(index as usize)
    }

    pub fn members(&self) -> &[PublicKey] {
        &self.members
    }

    /// Round-robin leader rotation, offset by the epoch so that epochs do not always start with
    /// the same leader.
    pub fn leader(&self, epoch: Epoch, view: View) -> ValidatorIndex {
        let n = self.len() as u64;
        ((view.wrapping_add(epoch)) % n) as ValidatorIndex
    }
}
