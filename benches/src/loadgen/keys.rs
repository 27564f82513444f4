//! Deterministic sender keys: the same seed gives the same accounts on every run and machine.

use alloy_primitives::{B256, keccak256};
use alloy_signer_local::PrivateKeySigner;

/// Domain separator so these keys never collide with keys derived for other purposes.
const DOMAIN: &[u8] = b"kaimeng-loadgen-sender";

/// The signer for sender `index` under `seed`.
///
/// The secret is `keccak256(DOMAIN || seed || index || attempt)` with the first `attempt` that is a
/// valid secp256k1 scalar (the chance that attempt 0 is not is about 2^-128).
pub fn sender_key(seed: u64, index: u64) -> PrivateKeySigner {
    let mut attempt: u64 = 0;
    loop {
        let mut preimage = Vec::with_capacity(DOMAIN.len() + 24);
        preimage.extend_from_slice(DOMAIN);
        preimage.extend_from_slice(&seed.to_be_bytes());
        preimage.extend_from_slice(&index.to_be_bytes());
        preimage.extend_from_slice(&attempt.to_be_bytes());
        if let Ok(signer) = PrivateKeySigner::from_bytes(&keccak256(preimage)) {
            return signer;
        }
        attempt += 1;
    }
}

/// The signers for senders `0..count` under `seed`.
pub fn sender_keys(seed: u64, count: usize) -> Vec<PrivateKeySigner> {
    (0..count as u64)
        .map(|index| sender_key(seed, index))
        .collect()
}

/// The signer for a raw 32-byte secret, or why it is not a valid secp256k1 key.
pub fn signer_from_secret(secret: &B256) -> Result<PrivateKeySigner, String> {
    PrivateKeySigner::from_bytes(secret).map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::loadgen::config::{DEV_KEY, parse_key};

    #[test]
    fn keys_are_deterministic_distinct_and_seed_dependent() {
        let a = sender_keys(7, 50);
        let b = sender_keys(7, 50);
        let c = sender_keys(8, 50);
        let addresses: Vec<_> = a.iter().map(|k| k.address()).collect();
        assert_eq!(addresses, b.iter().map(|k| k.address()).collect::<Vec<_>>());
        assert_eq!(addresses.iter().collect::<HashSet<_>>().len(), 50);
        assert!(c.iter().all(|k| !addresses.contains(&k.address())));
    }

    #[test]
    fn the_default_funder_is_the_well_known_dev_account_zero() {
        let signer = signer_from_secret(&parse_key(DEV_KEY).unwrap()).unwrap();
        assert_eq!(
            signer.address().to_string(),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        );
    }

    #[test]
    fn a_zero_secret_is_rejected() {
        assert!(signer_from_secret(&B256::ZERO).is_err());
    }
}
