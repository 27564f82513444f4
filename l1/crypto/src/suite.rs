//! [`CryptoSuite`]: the genesis parameter that picks the consensus signature scheme
//! and hash, with the suite-level entry points (hash, parse, verify, key generation).

use crate::error::{EncodingError, VerifyError};
use crate::keys::{PublicKey, SecretKey};
use crate::signature::Signature;
use serde::{Deserialize, Serialize};
use sha3::Digest as _;
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// The consensus crypto suite of a chain, fixed at genesis.
///
/// It covers validator signatures, quorum certificates and consensus-level
/// hashes. The EVM's own KECCAK256 and Ethereum transaction signatures are not
/// affected by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CryptoSuite {
    /// ECDSA over secp256k1 (deterministic nonces, RFC 6979, low-s) signing the
    /// Keccak-256 digest of the message; hashes are Keccak-256.
    #[serde(rename = "secp256k1-keccak")]
    Secp256k1Keccak,
    /// SM2 signatures (GM/T 0003, with the Z_A user-identity hash and the default
    /// identity `1234567812345678`); hashes are SM3 (GM/T 0004).
    #[serde(rename = "sm2-sm3")]
    Sm2Sm3,
}

/// Length of every suite hash.
pub const HASH_LEN: usize = 32;

impl CryptoSuite {
    /// Both suites, for tests and tools that iterate over them.
    pub const ALL: [CryptoSuite; 2] = [CryptoSuite::Secp256k1Keccak, CryptoSuite::Sm2Sm3];

    /// The name used in genesis files and keystores.
    pub const fn name(self) -> &'static str {
        match self {
            CryptoSuite::Secp256k1Keccak => "secp256k1-keccak",
            CryptoSuite::Sm2Sm3 => "sm2-sm3",
        }
    }

    /// The consensus hash: Keccak-256 or SM3.
    pub fn hash(self, data: &[u8]) -> [u8; HASH_LEN] {
        match self {
            CryptoSuite::Secp256k1Keccak => sha3::Keccak256::digest(data).into(),
            CryptoSuite::Sm2Sm3 => sm3::Sm3::digest(data).into(),
        }
    }

    /// A fresh secret key from the thread-local CSPRNG (seeded by the OS).
    pub fn generate(self) -> SecretKey {
        SecretKey::generate(self, &mut rand::rng())
    }

    /// Parse a 32-byte big-endian secret scalar.
    pub fn secret_key_from_bytes(self, bytes: &[u8]) -> Result<SecretKey, EncodingError> {
        SecretKey::from_bytes(self, bytes)
    }

    /// Parse a SEC1 public key (33-byte compressed or 65-byte uncompressed).
    pub fn public_key_from_bytes(self, bytes: &[u8]) -> Result<PublicKey, EncodingError> {
        PublicKey::from_bytes(self, bytes)
    }

    /// Parse a 64-byte `r || s` signature.
    pub fn signature_from_bytes(self, bytes: &[u8]) -> Result<Signature, EncodingError> {
        Signature::from_bytes(self, bytes)
    }

    /// Check `signature` over `message` by `public_key`, all of this suite.
    pub fn verify(
        self,
        public_key: &PublicKey,
        message: &[u8],
        signature: &Signature,
    ) -> Result<(), VerifyError> {
        if public_key.suite() != self {
            return Err(VerifyError::SuiteMismatch {
                what: "public key",
                expected: self,
                got: public_key.suite(),
            });
        }
        public_key.verify(message, signature)
    }
}

impl fmt::Display for CryptoSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A suite name that is neither `secp256k1-keccak` nor `sm2-sm3`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown crypto suite {0:?}; expected \"secp256k1-keccak\" or \"sm2-sm3\"")]
pub struct UnknownSuite(pub String);

impl FromStr for CryptoSuite {
    type Err = UnknownSuite;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CryptoSuite::ALL
            .into_iter()
            .find(|suite| suite.name() == s)
            .ok_or_else(|| UnknownSuite(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_from_str() {
        for suite in CryptoSuite::ALL {
            let json = serde_json::to_string(&suite).unwrap();
            assert_eq!(json, format!("\"{}\"", suite.name()));
            assert_eq!(serde_json::from_str::<CryptoSuite>(&json).unwrap(), suite);
            assert_eq!(suite.name().parse::<CryptoSuite>().unwrap(), suite);
        }
        assert!("sm2".parse::<CryptoSuite>().is_err());
        assert!(serde_json::from_str::<CryptoSuite>("\"Sm2Sm3\"").is_err());
    }

    #[test]
    fn suites_hash_differently() {
        let a = CryptoSuite::Secp256k1Keccak.hash(b"abc");
        let b = CryptoSuite::Sm2Sm3.hash(b"abc");
        assert_ne!(a, b);
    }
}
