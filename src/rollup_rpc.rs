//! `kaimeng_rollup` on shard 0's RPC: the rollup's genesis settings (the bridge's address, the
//! chunk shape its proofs must have, the sequencer, the priority expiry), so that a sequencer
//! can refuse to start with another shape than the chain's instead of proving batches that
//! never verify.

use alloy_primitives::Address;
use jsonrpsee::{Methods, RpcModule};
use kaimeng_genesis::{BRIDGE_ADDRESS, RollupSpec};
use serde::{Deserialize, Serialize};

/// What `kaimeng_rollup` answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollupInfo {
    pub bridge: Address,
    pub chunk_slots: u32,
    pub chunk_k: u32,
    pub sequencer: Address,
    pub priority_expiry_seconds: u64,
}

impl RollupInfo {
    pub fn of(spec: &RollupSpec) -> Self {
        Self {
            bridge: BRIDGE_ADDRESS,
            chunk_slots: spec.chunk_slots,
            chunk_k: spec.chunk_k,
            sequencer: spec.sequencer,
            priority_expiry_seconds: spec.priority_expiry_seconds,
        }
    }
}

/// The method, for shard 0's RPC when genesis has a rollup.
pub fn methods(spec: &RollupSpec) -> Methods {
    let mut module = RpcModule::new(RollupInfo::of(spec));
    module
        .register_method("kaimeng_rollup", |_, info, _| {
            Ok::<_, jsonrpsee::types::ErrorObjectOwned>(*info)
        })
        .expect("kaimeng_rollup is registered once");
    module.into()
}
