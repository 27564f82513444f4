//! Deriving a user's L2 (Pallas) key from a signature made with their Ethereum key, so one
//! wallet serves both layers.
//!
//! The wallet signs [`l2_key_message`] with `personal_sign` (EIP-191). Wallets sign
//! deterministically (RFC 6979), so the same account always gets the same signature, and the
//! L2 key is `Blake2b-512` personalised with `"Kaimeng-L2-KeyDv"` over `r || s`, reduced into the scalar field. The
//! recovery byte is ignored and `s` is normalised to the low half, so every valid encoding of
//! the same signature yields the same key. Whoever holds the signature controls the L2
//! account: the message says so.

use blake2b_simd::Params as Blake2bParams;
use k256::ecdsa::{RecoveryId, Signature as EcdsaSignature, SigningKey as EthKey, VerifyingKey};
use sha3::{Digest, Keccak256};

use crate::account::L1Address;
use crate::schnorr::SigningKey;

/// Why an Ethereum signature could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// `r` or `s` is zero or not below the secp256k1 group order.
    #[error("not a valid secp256k1 ECDSA signature (r or s out of range)")]
    InvalidSignature,
    /// The recovery byte is not one of 0, 1, 27, 28.
    #[error("invalid recovery byte {0}")]
    InvalidRecoveryByte(u8),
    /// No public key recovers from this signature and message.
    #[error("the signature does not recover to a public key for this message")]
    NotRecoverable,
}

/// The text a wallet signs to derive the L2 key for `chain_id`.
pub fn l2_key_message(chain_id: u64) -> String {
    format!(
        "Kaimeng L2 key\n\nSign to derive your Kaimeng rollup key for chain {chain_id}.\n\
         Anyone holding this signature controls your L2 account: sign it only in a \
         Kaimeng wallet you trust."
    )
}

/// The EIP-191 `personal_sign` digest of `message`.
pub fn personal_sign_digest(message: &[u8]) -> [u8; 32] {
    let mut h = Keccak256::new();
    h.update(format!("\x19Ethereum Signed Message:\n{}", message.len()).as_bytes());
    h.update(message);
    h.finalize().into()
}

/// Signs `message` the way `personal_sign` does: 65 bytes `r || s || v` with `v` in {27, 28}.
pub fn personal_sign(key: &EthKey, message: &[u8]) -> [u8; 65] {
    let digest = personal_sign_digest(message);
    let (sig, recid) = key
        .sign_prehash_recoverable(&digest)
        .expect("a 32-byte prehash always signs");
    let mut out = [0u8; 65];
    out[..64].copy_from_slice(&sig.to_bytes());
    out[64] = 27 + recid.to_byte();
    out
}

fn parse(sig: &[u8; 65]) -> Result<(EcdsaSignature, RecoveryId), KeyError> {
    let parsed = EcdsaSignature::from_slice(&sig[..64]).map_err(|_| KeyError::InvalidSignature)?;
    let v = match sig[64] {
        0 | 1 => sig[64],
        27 | 28 => sig[64] - 27,
        other => return Err(KeyError::InvalidRecoveryByte(other)),
    };
    let recid = RecoveryId::from_byte(v).ok_or(KeyError::InvalidRecoveryByte(sig[64]))?;
    Ok((parsed, recid))
}

/// Derives the L2 key from a 65-byte `personal_sign` signature over [`l2_key_message`].
pub fn derive_from_eth_signature(sig: &[u8; 65]) -> Result<SigningKey, KeyError> {
    let (parsed, _) = parse(sig)?;
    let low = parsed.normalize_s().unwrap_or(parsed);
    let digest = Blake2bParams::new()
        .hash_length(64)
        .personal(b"Kaimeng-L2-KeyDv")
        .to_state()
        .update(&low.to_bytes())
        .finalize();
    Ok(SigningKey::from_uniform_bytes(digest.as_array()))
}

/// Derives the L2 key for `chain_id` directly from an Ethereum key (what a wallet does).
pub fn derive_l2_key(eth_key: &EthKey, chain_id: u64) -> SigningKey {
    let sig = personal_sign(eth_key, l2_key_message(chain_id).as_bytes());
    derive_from_eth_signature(&sig).expect("our own signature parses")
}

/// The Ethereum address of a secp256k1 key.
pub fn eth_address(key: &VerifyingKey) -> L1Address {
    let point = key.to_encoded_point(false);
    let hash = Keccak256::digest(&point.as_bytes()[1..]);
    let mut out = [0u8; 20];
    out.copy_from_slice(&hash[12..]);
    L1Address(out)
}

/// The L1 address that made `sig` over `message` (what the bridge checks when binding keys).
pub fn recover_signer(message: &[u8], sig: &[u8; 65]) -> Result<L1Address, KeyError> {
    let (parsed, recid) = parse(sig)?;
    let key = VerifyingKey::recover_from_prehash(&personal_sign_digest(message), &parsed, recid)
        .map_err(|_| KeyError::NotRecoverable)?;
    Ok(eth_address(&key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth_key(byte: u8) -> EthKey {
        EthKey::from_bytes(&[byte; 32].into()).unwrap()
    }

    #[test]
    fn derivation_is_deterministic_per_wallet_and_chain() {
        let a = derive_l2_key(&eth_key(1), 7);
        assert_eq!(a, derive_l2_key(&eth_key(1), 7));
        assert_ne!(a, derive_l2_key(&eth_key(1), 8));
        assert_ne!(a, derive_l2_key(&eth_key(2), 7));
    }

    #[test]
    fn recovery_byte_and_high_s_do_not_change_the_key() {
        let msg = l2_key_message(7);
        let sig = personal_sign(&eth_key(3), msg.as_bytes());
        let key = derive_from_eth_signature(&sig).unwrap();
        let mut v01 = sig;
        v01[64] -= 27;
        assert_eq!(derive_from_eth_signature(&v01).unwrap(), key);
        // Flip s to n - s (the malleable twin).
        let parsed = EcdsaSignature::from_slice(&sig[..64]).unwrap();
        let high = EcdsaSignature::from_scalars(parsed.r(), -*parsed.s()).unwrap();
        let mut twin = sig;
        twin[..64].copy_from_slice(&high.to_bytes());
        assert_eq!(derive_from_eth_signature(&twin).unwrap(), key);
    }

    #[test]
    fn signer_recovers_to_the_wallet_address() {
        let key = eth_key(5);
        let msg = l2_key_message(1);
        let sig = personal_sign(&key, msg.as_bytes());
        assert_eq!(
            recover_signer(msg.as_bytes(), &sig).unwrap(),
            eth_address(key.verifying_key())
        );
    }

    #[test]
    fn known_address_for_private_key_one() {
        // The address of secp256k1 private key 1 is well known.
        let one = EthKey::from_bytes(&{
            let mut b = [0u8; 32];
            b[31] = 1;
            b.into()
        })
        .unwrap();
        assert_eq!(
            hex(&eth_address(one.verifying_key()).0),
            "7e5f4552091a69125d5dfcb7b8c2659029395bdf"
        );
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn malformed_signatures_are_rejected() {
        let mut sig = [0u8; 65];
        sig[64] = 27;
        assert_eq!(
            derive_from_eth_signature(&sig),
            Err(KeyError::InvalidSignature)
        );
        let mut good = personal_sign(&eth_key(1), b"x");
        good[64] = 5;
        assert_eq!(
            derive_from_eth_signature(&good),
            Err(KeyError::InvalidRecoveryByte(5))
        );
    }
}
