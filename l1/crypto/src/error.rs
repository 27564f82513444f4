//! Typed errors for parsing keys and signatures and for failed verification.

use crate::suite::CryptoSuite;
use thiserror::Error;

/// A key or signature given as bytes was malformed for its suite.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodingError {
    #[error("{suite} secret key must be 32 bytes, got {got}")]
    SecretKeyLength { suite: CryptoSuite, got: usize },

    #[error("{suite} secret key is zero or not below the curve order")]
    SecretKeyOutOfRange { suite: CryptoSuite },

    #[error(
        "{suite} public key must be 33 bytes (compressed SEC1) or 65 bytes (uncompressed SEC1), got {got}"
    )]
    PublicKeyLength { suite: CryptoSuite, got: usize },

    #[error(
        "{suite} public key has SEC1 prefix 0x{prefix:02x}; expected 0x02/0x03 (33 bytes) or 0x04 (65 bytes)"
    )]
    PublicKeyPrefix { suite: CryptoSuite, prefix: u8 },

    #[error("{suite} public key is not a point on the curve")]
    PublicKeyNotOnCurve { suite: CryptoSuite },

    #[error("{suite} signature must be 64 bytes (r || s), got {got}")]
    SignatureLength { suite: CryptoSuite, got: usize },

    #[error("{suite} signature component {component} is zero or not below the curve order")]
    SignatureScalarOutOfRange {
        suite: CryptoSuite,
        component: &'static str,
    },

    #[error("secp256k1 signature has a high s; only low-s (normalised) signatures are accepted")]
    SignatureHighS,
}

/// A signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyError {
    #[error("{what} belongs to suite {got}, but the check is for suite {expected}")]
    SuiteMismatch {
        what: &'static str,
        expected: CryptoSuite,
        got: CryptoSuite,
    },

    #[error("{suite} signature does not verify against this public key and message")]
    BadSignature { suite: CryptoSuite },
}
