//! The SM2 signed digest of GM/T 0003: the user-identity hash
//! `Z_A = SM3(ENTL_A || ID_A || a || b || x_G || y_G || x_A || y_A)` and
//! `e = SM3(Z_A || M)`.
//!
//! Signers and verifiers that hold a message use these to obtain `e`, which is
//! what the SM2 verify precompile takes (see `docs/crypto.md`).

use sm3::{Digest as _, Sm3};
use thiserror::Error;

/// The default user identity of GM/T 0009 (`"1234567812345678"`), used by
/// every consensus signature of the `sm2-sm3` suite.
pub const DEFAULT_SM2_ID: &[u8] = b"1234567812345678";

/// Longest identity whose bit length fits the 16-bit ENTL field.
pub const MAX_SM2_ID_LEN: usize = (u16::MAX / 8) as usize;

/// Curve coefficient `a` of the recommended SM2 curve (GM/T 0003.5).
pub const CURVE_A: [u8; 32] =
    hex32("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC");
/// Curve coefficient `b`.
pub const CURVE_B: [u8; 32] =
    hex32("28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93");
/// Generator x coordinate.
pub const GENERATOR_X: [u8; 32] =
    hex32("32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7");
/// Generator y coordinate.
pub const GENERATOR_Y: [u8; 32] =
    hex32("BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0");

/// The identity is too long for the 16-bit bit-length field ENTL.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "SM2 user identity is {len} bytes; at most {MAX_SM2_ID_LEN} bytes fit the 16-bit ENTL field"
)]
pub struct IdTooLong {
    pub len: usize,
}

/// `Z_A` for identity `id` and public key `x || y` (64 bytes, big-endian).
pub fn user_identity_hash(id: &[u8], public_key_xy: &[u8; 64]) -> Result<[u8; 32], IdTooLong> {
    let entl = u16::try_from(id.len() * 8)
        .ok()
        .filter(|_| id.len() <= MAX_SM2_ID_LEN)
        .ok_or(IdTooLong { len: id.len() })?;
    let mut hasher = Sm3::new();
    hasher.update(entl.to_be_bytes());
    hasher.update(id);
    hasher.update(CURVE_A);
    hasher.update(CURVE_B);
    hasher.update(GENERATOR_X);
    hasher.update(GENERATOR_Y);
    hasher.update(public_key_xy);
    Ok(hasher.finalize().into())
}

/// `e = SM3(Z_A || message)`, the value SM2 signs and the precompile checks.
pub fn message_digest(
    id: &[u8],
    public_key_xy: &[u8; 64],
    message: &[u8],
) -> Result<[u8; 32], IdTooLong> {
    let za = user_identity_hash(id, public_key_xy)?;
    Ok(Sm3::new()
        .chain_update(za)
        .chain_update(message)
        .finalize()
        .into())
}

/// [`message_digest`] with [`DEFAULT_SM2_ID`].
pub fn default_message_digest(public_key_xy: &[u8; 64], message: &[u8]) -> [u8; 32] {
    let za = default_user_identity_hash(public_key_xy);
    Sm3::new()
        .chain_update(za)
        .chain_update(message)
        .finalize()
        .into()
}

fn default_user_identity_hash(public_key_xy: &[u8; 64]) -> [u8; 32] {
    let mut hasher = Sm3::new();
    hasher.update(((DEFAULT_SM2_ID.len() * 8) as u16).to_be_bytes());
    hasher.update(DEFAULT_SM2_ID);
    hasher.update(CURVE_A);
    hasher.update(CURVE_B);
    hasher.update(GENERATOR_X);
    hasher.update(GENERATOR_Y);
    hasher.update(public_key_xy);
    hasher.finalize().into()
}

/// Compile-time hex decoding of the curve constants above.
const fn hex32(s: &str) -> [u8; 32] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => panic!("not a hex digit"),
        }
    }
    let bytes = s.as_bytes();
    assert!(bytes.len() == 64, "expected 64 hex digits");
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = nibble(bytes[2 * i]) << 4 | nibble(bytes[2 * i + 1]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_identity_matches_the_general_function() {
        let xy = [0x5au8; 64];
        assert_eq!(
            default_user_identity_hash(&xy),
            user_identity_hash(DEFAULT_SM2_ID, &xy).unwrap()
        );
        assert_eq!(
            default_message_digest(&xy, b"m"),
            message_digest(DEFAULT_SM2_ID, &xy, b"m").unwrap()
        );
    }

    #[test]
    fn identity_length_is_bounded_by_entl() {
        let xy = [1u8; 64];
        assert!(user_identity_hash(&vec![0u8; MAX_SM2_ID_LEN], &xy).is_ok());
        assert_eq!(
            user_identity_hash(&vec![0u8; MAX_SM2_ID_LEN + 1], &xy),
            Err(IdTooLong {
                len: MAX_SM2_ID_LEN + 1
            })
        );
    }
}
