//! The SM2 signature verification precompile (GM/T 0003), shaped like
//! P256VERIFY (EIP-7951): a fixed 160-byte input
//!
//! ```text
//! e (32) || r (32) || s (32) || x (32) || y (32)
//! ```
//!
//! where `e = SM3(Z_A || M)` is the digest the signer signed (the caller computes
//! it, e.g. with the SM3 precompile; `crate::sm2_digest` shows how), `(r, s)` the
//! signature and `(x, y)` the signer's public key, all big-endian. The output
//! is the 32-byte word `1` if the signature is valid and empty otherwise — also
//! for malformed input (wrong length, r or s outside `[1, n-1]`, a point not on
//! the curve). The flat gas is charged in every case.

use super::{PrecompileOk, PrecompileResult, address_from_u16, charge};
use crate::sm2_digest::DEFAULT_SM2_ID;
use sm2::dsa::signature::hazmat::PrehashVerifier;
use sm2::dsa::{Signature, VerifyingKey};

/// `0x0000000000000000000000000000000000000a02`.
pub const ADDRESS: [u8; 20] = address_from_u16(0x0a02);
/// Flat gas per call.
pub const GAS: u64 = 30_000;
/// The only accepted input length.
pub const INPUT_LEN: usize = 160;

/// Runs the precompile.
pub fn run(input: &[u8], gas_limit: u64) -> PrecompileResult {
    let gas_used = charge(GAS, gas_limit)?;
    let output = if verify(input) {
        let mut one = vec![0u8; 32];
        one[31] = 1;
        one
    } else {
        Vec::new()
    };
    Ok(PrecompileOk { gas_used, output })
}

/// True iff `input` is a well-formed, valid `e || r || s || x || y`.
pub fn verify(input: &[u8]) -> bool {
    let Ok(input) = <&[u8; INPUT_LEN]>::try_from(input) else {
        return false;
    };
    let (digest, rest) = input.split_at(32);
    let (signature, xy) = rest.split_at(64);

    // Rejects r or s equal to zero or not below n.
    let Ok(signature) = Signature::from_slice(signature) else {
        return false;
    };
    let mut sec1 = [0u8; 65];
    sec1[0] = 0x04;
    sec1[1..].copy_from_slice(xy);
    // The identity only feeds Z_A, which this precompile does not use: the
    // caller passes e. Rejects points that are not on the curve.
    let id = std::str::from_utf8(DEFAULT_SM2_ID).unwrap_or_default();
    let Ok(key) = VerifyingKey::from_sec1_bytes(id, &sec1) else {
        return false;
    };
    key.verify_prehash(digest, &signature).is_ok()
}
