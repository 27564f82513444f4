//! The SM3 hash precompile (GM/T 0004): any input, 32-byte digest out, priced
//! like SHA-256 per word because SM3 costs about the same (see ADR 0022).

use super::{PrecompileOk, PrecompileResult, address_from_u16, charge};
use sm3::{Digest as _, Sm3};

/// `0x0000000000000000000000000000000000000a01`.
pub const ADDRESS: [u8; 20] = address_from_u16(0x0a01);
/// Gas charged for any call.
pub const BASE_GAS: u64 = 60;
/// Gas per 32-byte word of input, rounded up.
pub const WORD_GAS: u64 = 12;

/// Gas for an input of `len` bytes (saturates instead of overflowing).
pub fn gas_cost(len: usize) -> u64 {
    let words = (len as u64).div_ceil(32);
    BASE_GAS.saturating_add(WORD_GAS.saturating_mul(words))
}

/// Runs the precompile: `SM3(input)`.
pub fn run(input: &[u8], gas_limit: u64) -> PrecompileResult {
    let gas_used = charge(gas_cost(input.len()), gas_limit)?;
    Ok(PrecompileOk {
        gas_used,
        output: Sm3::digest(input).to_vec(),
    })
}
