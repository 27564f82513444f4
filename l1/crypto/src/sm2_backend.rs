//! The `sm2-sm3` suite on RustCrypto `sm2`: GM/T 0003 signatures over
//! `e = SM3(Z_A || M)` with the default identity `1234567812345678`, and
//! deterministic nonces (RFC 6979's HMAC-DRBG instantiated with SM3).

use crate::error::EncodingError;
use crate::signature::scalar_in_range;
use crate::sm2_digest::DEFAULT_SM2_ID;
use crate::suite::CryptoSuite;
use sm2::dsa::signature::hazmat::RandomizedPrehashSigner;
use sm2::dsa::signature::{Signer, Verifier};
use sm2::dsa::{Signature, SigningKey, VerifyingKey};
use sm2::elliptic_curve::sec1::ToEncodedPoint;

const SUITE: CryptoSuite = CryptoSuite::Sm2Sm3;

/// The default identity as the `sm2` crate takes it (a `&str`).
fn default_id() -> &'static str {
    // DEFAULT_SM2_ID is ASCII, so this never fails; keep one source of truth.
    std::str::from_utf8(DEFAULT_SM2_ID).unwrap_or("1234567812345678")
}

pub(crate) fn secret_key(bytes: &[u8; 32]) -> Result<SigningKey, EncodingError> {
    SigningKey::from_slice(default_id(), bytes)
        .map_err(|_| EncodingError::SecretKeyOutOfRange { suite: SUITE })
}

pub(crate) fn public_key(sec1: &[u8]) -> Result<VerifyingKey, EncodingError> {
    VerifyingKey::from_sec1_bytes(default_id(), sec1)
        .map_err(|_| EncodingError::PublicKeyNotOnCurve { suite: SUITE })
}

pub(crate) fn compressed(key: &VerifyingKey) -> [u8; 33] {
    let point = key.to_encoded_point(true);
    let mut out = [0u8; 33];
    out.copy_from_slice(point.as_bytes());
    out
}

pub(crate) fn uncompressed(key: &VerifyingKey) -> [u8; 65] {
    let point = key.as_affine().to_encoded_point(false);
    let mut out = [0u8; 65];
    out.copy_from_slice(point.as_bytes());
    out
}

/// Checks that r and s are in [1, n-1] (GM/T 0003 verification steps B1, B2).
pub(crate) fn check_signature(bytes: &[u8; 64]) -> Result<(), EncodingError> {
    let (r, s) = bytes.split_at(32);
    if !scalar_in_range::<sm2::Sm2>(r) {
        return Err(EncodingError::SignatureScalarOutOfRange {
            suite: SUITE,
            component: "r",
        });
    }
    if !scalar_in_range::<sm2::Sm2>(s) {
        return Err(EncodingError::SignatureScalarOutOfRange {
            suite: SUITE,
            component: "s",
        });
    }
    Ok(())
}

pub(crate) fn sign(key: &SigningKey, message: &[u8]) -> [u8; 64] {
    // The deterministic nonce fails only if r = 0, r + k = n or s = 0
    // (probability about 2^-256); then add fresh randomness to the nonce.
    let signature: Signature = match key.try_sign(message) {
        Ok(signature) => signature,
        Err(_) => {
            let digest =
                crate::sm2_digest::default_message_digest(&xy(key.verifying_key()), message);
            loop {
                let mut rng = crate::signature::LegacyRng(rand::rng());
                if let Ok(signature) = key.sign_prehash_with_rng(&mut rng, &digest) {
                    break signature;
                }
            }
        }
    };
    signature.to_bytes()
}

/// `signature` has passed [`check_signature`].
pub(crate) fn verify(key: &VerifyingKey, message: &[u8], signature: &[u8; 64]) -> bool {
    let Ok(signature) = Signature::from_bytes(signature) else {
        return false;
    };
    key.verify(message, &signature).is_ok()
}

/// The public key as `x || y` (64 bytes), the form Z_A hashes.
pub(crate) fn xy(key: &VerifyingKey) -> [u8; 64] {
    let full = uncompressed(key);
    let mut out = [0u8; 64];
    out.copy_from_slice(&full[1..]);
    out
}
