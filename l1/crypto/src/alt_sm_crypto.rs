//! A byte-oriented wrapper over the `sm-crypto` crate, the second SM
//! implementation. It is not on any hot path: it exists so that tests can check
//! that both libraries agree (signatures made by one verify in the other, SM3
//! and SM4 outputs match) and so that benchmarks can compare them.
//!
//! `sm-crypto` works on hex strings and `BigUint`s and trusts its inputs; this
//! wrapper converts from bytes and adds the range checks GM/T 0003 requires
//! (steps B1/B2). Callers must pass public keys that are on the curve (for
//! example the `x || y` of a parsed [`crate::PublicKey`]).

use num_bigint::BigUint;
use sm_crypto::{sm2, sm3, sm4};

/// SM3 (GM/T 0004) of `data`.
pub fn sm3_hash(data: &[u8]) -> [u8; 32] {
    let digest = sm3::sm3_hash_raw(data);
    let mut out = [0u8; 32];
    out.copy_from_slice(&digest[..32]);
    out
}

/// The public key `x || y` of secret scalar `secret` (big-endian).
pub fn public_key_xy(secret: &[u8; 32]) -> [u8; 64] {
    xy_from_hex(&sm2::pk_from_sk(&hex::encode(secret)))
}

/// An SM2 signature `r || s` over `message` with the default identity
/// (`sm-crypto` computes `Z_A` itself). The nonce comes from the OS RNG, so the
/// result differs on every call. `None` if the library returned its failure
/// marker (r = 0 or s = 0, probability about 2^-256).
pub fn sign(secret: &[u8; 32], message: &[u8]) -> Option<[u8; 64]> {
    let secret_hex = hex::encode(secret);
    let (r, s) = sm2::Sign::new(&secret_hex).sign(message, true);
    signature_bytes(&r, &s)
}

/// Verify an SM2 signature `r || s` over `message` (default identity).
pub fn verify(public_key_xy: &[u8; 64], message: &[u8], signature: &[u8; 64]) -> bool {
    let Some((r, s)) = checked_scalars(signature) else {
        return false;
    };
    let public_hex = hex::encode(public_key_xy);
    sm2::Verify::new(&public_hex).verify(message, (r, s), true)
}

/// Verify an SM2 signature over an already computed digest `e = SM3(Z_A || M)`.
pub fn verify_digest(public_key_xy: &[u8; 64], digest: &[u8; 32], signature: &[u8; 64]) -> bool {
    let Some((r, s)) = checked_scalars(signature) else {
        return false;
    };
    let public_hex = hex::encode(public_key_xy);
    sm2::Verify::new(&public_hex).verify(digest, (r, s), false)
}

/// SM4 (GM/T 0002) in ECB mode over whole 16-byte blocks. `sm-crypto` always
/// appends PKCS#7 padding; the padding block is dropped here so the output
/// has the input's length.
pub fn sm4_encrypt_blocks(key: &[u8; 16], data: &[u8]) -> Option<Vec<u8>> {
    if !data.len().is_multiple_of(16) {
        return None;
    }
    let mut out = sm4::CryptSM4ECB::new(key).encrypt_ecb(data);
    out.truncate(data.len());
    Some(out)
}

/// The order n of the SM2 group.
fn order() -> BigUint {
    BigUint::from_bytes_be(&[
        0xFF, 0xFF, 0xFF, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0x72, 0x03, 0xDF, 0x6B, 0x21, 0xC6, 0x05, 0x2B, 0x53, 0xBB, 0xF4, 0x09, 0x39, 0xD5,
        0x41, 0x23,
    ])
}

fn checked_scalars(signature: &[u8; 64]) -> Option<(BigUint, BigUint)> {
    let n = order();
    let r = BigUint::from_bytes_be(&signature[..32]);
    let s = BigUint::from_bytes_be(&signature[32..]);
    let in_range = |x: &BigUint| *x > BigUint::ZERO && *x < n;
    (in_range(&r) && in_range(&s)).then_some((r, s))
}

fn signature_bytes(r: &BigUint, s: &BigUint) -> Option<[u8; 64]> {
    let (r, s) = (r.to_bytes_be(), s.to_bytes_be());
    if r.len() > 32 || s.len() > 32 || (r == [0] && s == [0]) {
        return None;
    }
    let mut out = [0u8; 64];
    out[32 - r.len()..32].copy_from_slice(&r);
    out[64 - s.len()..].copy_from_slice(&s);
    Some(out)
}

fn xy_from_hex(public_hex: &str) -> [u8; 64] {
    let mut out = [0u8; 64];
    // `sm-crypto` formats both coordinates as 64 hex digits.
    if let Ok(bytes) = hex::decode(public_hex)
        && bytes.len() == 64
    {
        out.copy_from_slice(&bytes);
    }
    out
}
