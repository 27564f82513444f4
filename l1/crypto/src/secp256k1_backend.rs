//! The `secp256k1-keccak` suite on RustCrypto `k256`: ECDSA over the Keccak-256
//! digest of the message, deterministic nonces (RFC 6979), low-s only.

use crate::error::EncodingError;
use crate::signature::scalar_in_range;
use crate::suite::CryptoSuite;
use k256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier, RandomizedPrehashSigner};
use k256::ecdsa::{Signature, SigningKey, VerifyingKey};
use sha3::{Digest as _, Keccak256};

const SUITE: CryptoSuite = CryptoSuite::Secp256k1Keccak;

pub(crate) fn secret_key(bytes: &[u8; 32]) -> Result<SigningKey, EncodingError> {
    SigningKey::from_slice(bytes).map_err(|_| EncodingError::SecretKeyOutOfRange { suite: SUITE })
}

pub(crate) fn public_key(sec1: &[u8]) -> Result<VerifyingKey, EncodingError> {
    VerifyingKey::from_sec1_bytes(sec1)
        .map_err(|_| EncodingError::PublicKeyNotOnCurve { suite: SUITE })
}

pub(crate) fn compressed(key: &VerifyingKey) -> [u8; 33] {
    let point = key.to_encoded_point(true);
    let mut out = [0u8; 33];
    out.copy_from_slice(point.as_bytes());
    out
}

pub(crate) fn uncompressed(key: &VerifyingKey) -> [u8; 65] {
    let point = key.to_encoded_point(false);
    let mut out = [0u8; 65];
    out.copy_from_slice(point.as_bytes());
    out
}

/// Checks the range of r and s and that s is low; `bytes` is `r || s`.
pub(crate) fn check_signature(bytes: &[u8; 64]) -> Result<(), EncodingError> {
    let (r, s) = bytes.split_at(32);
    if !scalar_in_range::<k256::Secp256k1>(r) {
        return Err(EncodingError::SignatureScalarOutOfRange {
            suite: SUITE,
            component: "r",
        });
    }
    if !scalar_in_range::<k256::Secp256k1>(s) {
        return Err(EncodingError::SignatureScalarOutOfRange {
            suite: SUITE,
            component: "s",
        });
    }
    let parsed =
        Signature::from_slice(bytes).map_err(|_| EncodingError::SignatureScalarOutOfRange {
            suite: SUITE,
            component: "r || s",
        })?;
    if parsed.normalize_s().is_some() {
        return Err(EncodingError::SignatureHighS);
    }
    Ok(())
}

pub(crate) fn sign(key: &SigningKey, message: &[u8]) -> [u8; 64] {
    let digest = Keccak256::digest(message);
    // RFC 6979 fails only if it derives a nonce giving r = 0 or s = 0
    // (probability about 2^-256); then add fresh randomness to the nonce.
    let signature: Signature = match key.sign_prehash(&digest) {
        Ok(signature) => signature,
        Err(_) => loop {
            let mut rng = crate::signature::LegacyRng(rand::rng());
            if let Ok(signature) = key.sign_prehash_with_rng(&mut rng, &digest) {
                break signature;
            }
        },
    };
    let signature = signature.normalize_s().unwrap_or(signature);
    signature.to_bytes().into()
}

/// `signature` has passed [`check_signature`].
pub(crate) fn verify(key: &VerifyingKey, message: &[u8], signature: &[u8; 64]) -> bool {
    let Ok(signature) = Signature::from_slice(signature) else {
        return false;
    };
    let digest = Keccak256::digest(message);
    key.verify_prehash(&digest, &signature).is_ok()
}
