//! Pure logic of Kaimeng's 国密 EVM precompiles: their addresses, gas schedules
//! and input/output ABI. The shard executor wraps these functions into revm's
//! precompile provider; nothing here knows about revm.
//!
//! | address | name | gas | input | output |
//! |---|---|---|---|---|
//! | `0x…0a01` | [`sm3_hash`] | `60 + 12·⌈len/32⌉` | any bytes | 32-byte SM3 digest |
//! | `0x…0a02` | [`sm2_verify`] | `30000` flat | 160 bytes `e‖r‖s‖x‖y` | 32-byte `1`, or empty |
//!
//! Gas follows revm's convention: a precompile either succeeds (charging
//! `gas_used`, possibly with an empty output meaning "no") or halts with
//! [`PrecompileFailure::OutOfGas`], which consumes all gas given to the call.
//! The numbers are justified in `docs/adr/0022-sm-precompiles.md`.

pub mod sm2_verify;
pub mod sm3_hash;

use thiserror::Error;

/// What a successful precompile call returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrecompileOk {
    pub gas_used: u64,
    pub output: Vec<u8>,
}

/// Why a precompile call halted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PrecompileFailure {
    #[error("precompile needs {needed} gas but the call has {limit}")]
    OutOfGas { needed: u64, limit: u64 },
}

pub type PrecompileResult = Result<PrecompileOk, PrecompileFailure>;

/// A Kaimeng precompile as the executor registers it.
#[derive(Debug, Clone, Copy)]
pub struct KaimengPrecompile {
    pub name: &'static str,
    pub address: [u8; 20],
    pub run: fn(&[u8], u64) -> PrecompileResult,
}

/// Every Kaimeng crypto precompile, for registration in the EVM.
pub const ALL: [KaimengPrecompile; 2] = [
    KaimengPrecompile {
        name: "SM3",
        address: sm3_hash::ADDRESS,
        run: sm3_hash::run,
    },
    KaimengPrecompile {
        name: "SM2VERIFY",
        address: sm2_verify::ADDRESS,
        run: sm2_verify::run,
    },
];

/// The 20-byte address whose low two bytes are `low` (`0x00…00 hi lo`).
pub const fn address_from_u16(low: u16) -> [u8; 20] {
    let mut address = [0u8; 20];
    let bytes = low.to_be_bytes();
    address[18] = bytes[0];
    address[19] = bytes[1];
    address
}

/// Halts with out-of-gas unless `needed <= limit`.
fn charge(needed: u64, limit: u64) -> Result<u64, PrecompileFailure> {
    if needed > limit {
        Err(PrecompileFailure::OutOfGas { needed, limit })
    } else {
        Ok(needed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_avoid_ethereum_precompiles() {
        for precompile in ALL {
            let address = precompile.address;
            assert!(address[..18].iter().all(|b| *b == 0));
            let low = u16::from_be_bytes([address[18], address[19]]);
            // 0x01..=0x11: Ethereum through Prague; 0x100..=0x1ff: the RIP range
            // that holds P256VERIFY (0x100).
            assert!(low > 0x11, "{} collides with Ethereum", precompile.name);
            assert!(
                !(0x100..=0x1ff).contains(&low),
                "{} is in the RIP range",
                precompile.name
            );
        }
        assert_ne!(ALL[0].address, ALL[1].address);
    }
}
