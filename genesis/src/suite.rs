//! `CryptoSuite`: the chain's consensus-level signature and hash suite, and the public-key
//! encodings each suite accepts in a genesis file.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The consensus crypto suite, fixed at genesis. It covers validator signatures, quorum
/// certificates and consensus-level hashes; the EVM and Ethereum transactions keep keccak256 and
/// secp256k1 whatever the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum CryptoSuite {
    /// ECDSA over secp256k1 with keccak256.
    #[default]
    #[serde(rename = "secp256k1-keccak")]
    Secp256k1Keccak,
    /// SM2 signatures (GM/T 0003) with the SM3 hash (GM/T 0004).
    #[serde(rename = "sm2-sm3")]
    Sm2Sm3,
}

impl CryptoSuite {
    /// Every suite, in a stable order.
    pub const ALL: [CryptoSuite; 2] = [CryptoSuite::Secp256k1Keccak, CryptoSuite::Sm2Sm3];

    /// The name used in genesis files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            CryptoSuite::Secp256k1Keccak => "secp256k1-keccak",
            CryptoSuite::Sm2Sm3 => "sm2-sm3",
        }
    }

    /// Checks that `key` is a SEC1-encoded public key of this suite's curve: 33 bytes
    /// (compressed, prefix 0x02/0x03) or 65 bytes (uncompressed, prefix 0x04), and a point on the
    /// curve. The error says what is wrong, in words fit for a field error.
    pub fn check_public_key(self, key: &[u8]) -> Result<(), String> {
        let curve = match self {
            CryptoSuite::Secp256k1Keccak => "secp256k1",
            CryptoSuite::Sm2Sm3 => "SM2",
        };
        let shape_ok = matches!(
            (key.len(), key.first()),
            (33, Some(0x02 | 0x03)) | (65, Some(0x04))
        );
        if !shape_ok {
            return Err(format!(
                "expected a {curve} public key of 33 bytes (compressed, 0x02/0x03 prefix) or \
                 65 bytes (uncompressed, 0x04 prefix), got {} bytes{}",
                key.len(),
                key.first()
                    .map(|b| format!(" starting with 0x{b:02x}"))
                    .unwrap_or_default()
            ));
        }
        let on_curve = match self {
            CryptoSuite::Secp256k1Keccak => k256::PublicKey::from_sec1_bytes(key).is_ok(),
            CryptoSuite::Sm2Sm3 => sm2::PublicKey::from_sec1_bytes(key).is_ok(),
        };
        if on_curve {
            Ok(())
        } else {
            Err(format!("is not a point on the {curve} curve"))
        }
    }

    /// The 33-byte compressed encoding of a valid public key of this suite, so that the
    /// compressed and uncompressed forms of one key compare equal; `None` if `key` is invalid.
    pub fn compressed_public_key(self, key: &[u8]) -> Option<Vec<u8>> {
        match self {
            CryptoSuite::Secp256k1Keccak => {
                use k256::elliptic_curve::sec1::ToEncodedPoint;
                let point = k256::PublicKey::from_sec1_bytes(key).ok()?;
                Some(point.to_encoded_point(true).as_bytes().to_vec())
            }
            CryptoSuite::Sm2Sm3 => {
                use sm2::elliptic_curve::sec1::ToEncodedPoint;
                let point = sm2::PublicKey::from_sec1_bytes(key).ok()?;
                Some(point.to_encoded_point(true).as_bytes().to_vec())
            }
        }
    }
}

impl fmt::Display for CryptoSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing a suite name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown crypto suite \"{0}\", expected \"secp256k1-keccak\" or \"sm2-sm3\"")]
pub struct UnknownCryptoSuite(pub String);

impl FromStr for CryptoSuite {
    type Err = UnknownCryptoSuite;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CryptoSuite::ALL
            .into_iter()
            .find(|suite| suite.as_str() == s)
            .ok_or_else(|| UnknownCryptoSuite(s.to_owned()))
    }
}
