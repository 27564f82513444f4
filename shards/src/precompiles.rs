//! The shard's precompile set: Ethereum's at the current spec plus Kaimeng's 国密 precompiles
//! (SM3 hash, SM2 verify) whose logic, addresses and gas live in `kaimeng-crypto`.

use std::borrow::Cow;
use std::sync::OnceLock;

use alloy_primitives::{Address, Bytes};
use kaimeng_crypto::precompile::{self as sm, PrecompileFailure};
use revm::precompile::{
    Precompile, PrecompileHalt, PrecompileId, PrecompileOutput, PrecompileResult, PrecompileSpecId,
    Precompiles,
};

use crate::executor::SPEC;

pub const SM3_ADDRESS: Address = Address::new(sm::sm3_hash::ADDRESS);
pub const SM2_VERIFY_ADDRESS: Address = Address::new(sm::sm2_verify::ADDRESS);

/// Ethereum's precompiles at [`SPEC`], extended with Kaimeng's (built once).
pub fn kaimeng_precompiles() -> &'static Precompiles {
    static SET: OnceLock<Precompiles> = OnceLock::new();
    SET.get_or_init(|| {
        let mut set = Precompiles::new(PrecompileSpecId::from_spec_id(SPEC)).clone();
        set.extend([
            Precompile::new(
                PrecompileId::Custom(Cow::Borrowed("SM3")),
                SM3_ADDRESS,
                sm3_precompile,
            ),
            Precompile::new(
                PrecompileId::Custom(Cow::Borrowed("SM2VERIFY")),
                SM2_VERIFY_ADDRESS,
                sm2_verify_precompile,
            ),
        ]);
        set
    })
}

fn sm3_precompile(input: &[u8], gas_limit: u64, reservoir: u64) -> PrecompileResult {
    Ok(to_revm(sm::sm3_hash::run(input, gas_limit), reservoir))
}

fn sm2_verify_precompile(input: &[u8], gas_limit: u64, reservoir: u64) -> PrecompileResult {
    Ok(to_revm(sm::sm2_verify::run(input, gas_limit), reservoir))
}

/// Bad input is reported inside the output (empty = "not valid"), out-of-gas as a halt.
fn to_revm(result: sm::PrecompileResult, reservoir: u64) -> PrecompileOutput {
    match result {
        Ok(ok) => PrecompileOutput::new(ok.gas_used, Bytes::from(ok.output), reservoir),
        Err(PrecompileFailure::OutOfGas { .. }) => {
            PrecompileOutput::halt(PrecompileHalt::OutOfGas, reservoir)
        }
    }
}
