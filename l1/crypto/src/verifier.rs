//! [`SuiteVerifier`]: checks signatures given as raw bytes (public key, message,
//! signature), the shape in which a consensus engine holds them, and keeps
//! parsed public keys so that point decompression and the SM2 `Z_A` hash are
//! paid once per validator key rather than once per vote.

use crate::error::{EncodingError, VerifyError};
use crate::keys::PublicKey;
use crate::signature::Signature;
use crate::suite::CryptoSuite;
use std::collections::HashMap;
use std::sync::RwLock;
use thiserror::Error;

/// Parsed keys kept at most; beyond this the cache starts over (validator
/// sets are far smaller, so this only bounds memory under misuse).
pub const MAX_CACHED_KEYS: usize = 4096;

/// Why [`SuiteVerifier::verify_bytes`] rejected its input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BytesVerifyError {
    #[error(transparent)]
    Encoding(#[from] EncodingError),
    #[error(transparent)]
    Verify(#[from] VerifyError),
}

/// Verifies raw-byte signatures of one suite; cheap to share (`Sync`).
#[derive(Debug)]
pub struct SuiteVerifier {
    suite: CryptoSuite,
    keys: RwLock<HashMap<Vec<u8>, PublicKey>>,
}

impl SuiteVerifier {
    pub fn new(suite: CryptoSuite) -> Self {
        Self {
            suite,
            keys: RwLock::new(HashMap::new()),
        }
    }

    pub fn suite(&self) -> CryptoSuite {
        self.suite
    }

    /// Parses (or finds) `public_key`, parses `signature` and verifies it over
    /// `message`. Never panics on malformed input.
    pub fn verify_bytes(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), BytesVerifyError> {
        let signature = Signature::from_bytes(self.suite, signature)?;
        let key = self.public_key(public_key)?;
        Ok(key.verify(message, &signature)?)
    }

    /// The parsed form of `bytes`, from the cache when possible.
    pub fn public_key(&self, bytes: &[u8]) -> Result<PublicKey, EncodingError> {
        let cached = self
            .keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(bytes)
            .cloned();
        if let Some(key) = cached {
            return Ok(key);
        }
        let key = PublicKey::from_bytes(self.suite, bytes)?;
        let mut keys = self
            .keys
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if keys.len() >= MAX_CACHED_KEYS {
            keys.clear();
        }
        keys.insert(bytes.to_vec(), key.clone());
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SecretKey;

    #[test]
    fn verifies_bytes_and_types_every_rejection() {
        for suite in CryptoSuite::ALL {
            let verifier = SuiteVerifier::new(suite);
            let key = SecretKey::from_seed(suite, &[1; 32]);
            let public = key.public_key().to_bytes();
            let signature = key.sign(b"vote").to_bytes();
            for _ in 0..2 {
                assert_eq!(verifier.verify_bytes(&public, b"vote", &signature), Ok(()));
            }
            assert_eq!(
                verifier.verify_bytes(&public, b"other", &signature),
                Err(BytesVerifyError::Verify(VerifyError::BadSignature {
                    suite
                }))
            );
            assert_eq!(
                verifier.verify_bytes(&public[..5], b"vote", &signature),
                Err(BytesVerifyError::Encoding(EncodingError::PublicKeyLength {
                    suite,
                    got: 5
                }))
            );
            assert_eq!(
                verifier.verify_bytes(&public, b"vote", &signature[..10]),
                Err(BytesVerifyError::Encoding(EncodingError::SignatureLength {
                    suite,
                    got: 10
                }))
            );
        }
    }
}
