//! The L2 account leaf: the owner's Pallas public key, balance, nonce and L1 address.
//!
//! In the tree an account is the leaf `H(key_commitment, l1_address, balance, nonce)`, where
//! `key_commitment = H(pk.x, pk.y)` (or zero for an unregistered slot). An untouched slot holds
//! the all-zero account, so the tree of empty accounts has a well-defined root.

use ff::Field;

use crate::Fp;
use crate::poseidon::{hash2, hash4};
use crate::schnorr::PublicKey;

/// Maximum balance bits: every balance is range-checked to `[0, 2^64)` in the circuit.
pub const BALANCE_BITS: usize = 64;

/// An Ethereum (L1) address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct L1Address(pub [u8; 20]);

impl L1Address {
    /// The address as a field element (its 160-bit big-endian integer value).
    pub fn to_field(&self) -> Fp {
        field_from_be_bytes(&self.0)
    }
}

/// The integer value of at most 31 big-endian bytes, as a field element (always canonical).
pub(crate) fn field_from_be_bytes(bytes: &[u8]) -> Fp {
    debug_assert!(bytes.len() <= 31);
    let base = Fp::from(256u64);
    bytes
        .iter()
        .fold(Fp::ZERO, |acc, b| acc * base + Fp::from(u64::from(*b)))
}

/// One L2 account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Account {
    /// The owner's key; `None` for a slot no one has registered.
    pub public_key: Option<PublicKey>,
    /// The L1 address that deposited into (and may force an exit from) this account.
    pub l1_address: L1Address,
    /// Balance in L2 units.
    pub balance: u64,
    /// Number of signed operations this account has made.
    pub nonce: u32,
}

/// The four field elements hashed into a leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeafFields {
    /// `H(pk.x, pk.y)`, or zero for an unregistered slot.
    pub key_commitment: Fp,
    /// The L1 address as a field element.
    pub l1_address: Fp,
    /// The balance.
    pub balance: Fp,
    /// The nonce.
    pub nonce: Fp,
}

impl LeafFields {
    /// The leaf value stored in the tree.
    pub fn hash(&self) -> Fp {
        hash4(
            self.key_commitment,
            self.l1_address,
            self.balance,
            self.nonce,
        )
    }
}

impl Account {
    /// The commitment to the owner's key (zero when unregistered).
    pub fn key_commitment(&self) -> Fp {
        self.public_key
            .map(|pk| key_commitment(&pk))
            .unwrap_or(Fp::ZERO)
    }

    /// Whether this slot has never been registered (the all-zero account).
    pub fn is_empty(&self) -> bool {
        self.public_key.is_none()
            && self.l1_address == L1Address::default()
            && self.balance == 0
            && self.nonce == 0
    }

    /// The field elements of the leaf.
    pub fn leaf_fields(&self) -> LeafFields {
        LeafFields {
            key_commitment: self.key_commitment(),
            l1_address: self.l1_address.to_field(),
            balance: Fp::from(self.balance),
            nonce: Fp::from(u64::from(self.nonce)),
        }
    }

    /// The leaf value stored in the tree.
    pub fn leaf_hash(&self) -> Fp {
        self.leaf_fields().hash()
    }
}

/// `H(pk.x, pk.y)`: how a public key enters the leaf and the priority queue.
pub fn key_commitment(pk: &PublicKey) -> Fp {
    let (x, y) = pk.coordinates();
    hash2(x, y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn l1_address_is_its_big_endian_integer() {
        let mut a = [0u8; 20];
        a[19] = 0x01;
        a[18] = 0x02;
        assert_eq!(L1Address(a).to_field(), Fp::from(0x0201));
        let ones = L1Address([0xff; 20]).to_field();
        // 2^160 - 1
        let two_160 = Fp::from(2).pow_vartime([160]);
        assert_eq!(ones, two_160 - Fp::ONE);
    }

    #[test]
    fn empty_account_has_zero_fields() {
        let a = Account::default();
        assert!(a.is_empty());
        let f = a.leaf_fields();
        assert_eq!(f.key_commitment, Fp::ZERO);
        assert_eq!(f.balance, Fp::ZERO);
        assert_eq!(a.leaf_hash(), hash4(Fp::ZERO, Fp::ZERO, Fp::ZERO, Fp::ZERO));
    }
}
