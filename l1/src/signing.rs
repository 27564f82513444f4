//! The consensus engine's [`Signer`] and [`Verifier`] over the chain's consensus suite
//! (`secp256k1-keccak` or `sm2-sm3`), with validator keys parsed once per epoch.

use kaimeng_consensus::{PublicKey, Signature, Signer, ValidatorIndex, ValidatorSet, Verifier};
use kaimeng_crypto::{CryptoSuite, SecretKey};

/// Signs this validator's votes with its consensus key.
pub struct SuiteSigner(pub SecretKey);

impl Signer for SuiteSigner {
    fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.0.sign(message).to_bytes().to_vec())
    }
}

/// Checks votes against the epoch's validator keys.
pub struct SuiteVerifier {
    suite: CryptoSuite,
    /// Parsed keys by validator index; `None` for a key that does not parse (its votes fail).
    keys: Vec<Option<kaimeng_crypto::PublicKey>>,
}

impl SuiteVerifier {
    pub fn new(suite: CryptoSuite, validators: &ValidatorSet) -> Self {
        let keys = validators
            .members()
            .iter()
            .map(|key| suite.public_key_from_bytes(&key.0).ok())
            .collect();
        Self { suite, keys }
    }
}

impl Verifier for SuiteVerifier {
    fn verify(
        &self,
        signer: ValidatorIndex,
        public_key: &PublicKey,
        message: &[u8],
        signature: &Signature,
    ) -> bool {
        let Ok(signature) = self.suite.signature_from_bytes(&signature.0) else {
            return false;
        };
        match self.keys.get(signer as usize) {
            Some(Some(key))
                if key.to_bytes().as_slice() == public_key.0.as_slice()
                    || key.to_uncompressed().as_slice() == public_key.0.as_slice() =>
            {
                key.verify(message, &signature).is_ok()
            }
            _ => self
                .suite
                .public_key_from_bytes(&public_key.0)
                .is_ok_and(|key| key.verify(message, &signature).is_ok()),
        }
    }
}
