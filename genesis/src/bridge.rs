//! The rollup bridge contract as genesis places it on shard 0: the runtime code of the pinned
//! artifact (`contracts/out/Bridge.json`, compiled from `contracts/rollup/Bridge.sol` and
//! checked against it in CI) at [`BRIDGE_ADDRESS`], with the two storage slots the contract
//! reads its settings from. No constructor runs; see `contracts/rollup/README.md`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use alloy_primitives::{Address, B256, Bytes, U256, address};

use crate::spec::{GenesisAccount, RollupSpec};

/// Where the bridge lives on shard 0 of every network with a rollup.
pub const BRIDGE_ADDRESS: Address = address!("000000000000000000000000000000000000b21d");
/// Storage slot of the sequencer's address.
pub const BRIDGE_SEQUENCER_SLOT: u64 = 0;
/// Storage slot of the priority expiry in seconds.
pub const BRIDGE_EXPIRY_SLOT: u64 = 1;

const ARTIFACT: &str = include_str!("../../contracts/out/Bridge.json");

/// The bridge's runtime code, from the pinned artifact.
pub fn bridge_code() -> &'static Bytes {
    static CODE: OnceLock<Bytes> = OnceLock::new();
    CODE.get_or_init(|| {
        let artifact: serde_json::Value =
            serde_json::from_str(ARTIFACT).expect("the pinned bridge artifact is JSON");
        let hex = artifact["deployedBytecode"]
            .as_str()
            .expect("the pinned bridge artifact has deployedBytecode");
        hex.parse().expect("the pinned bridge bytecode is hex")
    })
}

/// The bridge's account at genesis for `spec`.
pub fn bridge_account(spec: &RollupSpec) -> GenesisAccount {
    let slot = |n: u64| B256::from(U256::from(n));
    let storage = BTreeMap::from([
        (
            slot(BRIDGE_SEQUENCER_SLOT),
            B256::left_padding_from(spec.sequencer.as_slice()),
        ),
        (
            slot(BRIDGE_EXPIRY_SLOT),
            B256::from(U256::from(spec.priority_expiry_seconds)),
        ),
    ]);
    GenesisAccount {
        address: BRIDGE_ADDRESS,
        balance: U256::ZERO,
        nonce: 1,
        code: Some(bridge_code().clone()),
        storage,
        shards: Some(vec![0]),
    }
}
