//! The shard's precompile set: Ethereum's at the current spec plus Kaimeng's own.

use std::sync::OnceLock;

use revm::precompile::{PrecompileSpecId, Precompiles};

use crate::executor::SPEC;

/// Ethereum's precompiles at [`SPEC`], extended with Kaimeng's (built once).
pub fn kaimeng_precompiles() -> &'static Precompiles {
    static SET: OnceLock<Precompiles> = OnceLock::new();
    SET.get_or_init(|| Precompiles::new(PrecompileSpecId::from_spec_id(SPEC)).clone())
}
