//! Deterministic L2 signing keys for the sequencer benchmarks: key `i` is the same in every
//! run, so journals and signed transfers can be regenerated.

use kaimeng_rollup::SigningKey;

/// The `i`-th benchmark key.
pub fn l2_key(i: u64) -> SigningKey {
    let mut seed = [0u8; 64];
    seed[..8].copy_from_slice(&(i + 1).to_le_bytes());
    SigningKey::from_uniform_bytes(&seed)
}
