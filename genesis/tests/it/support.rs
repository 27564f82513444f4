//! Shared helpers: a valid two-member genesis as JSON, and assertions on field errors.

use kaimeng_genesis::{
    CryptoSuite, DevKeyRole, GenesisError, GenesisSpec, dev_member_peer_id, dev_member_public_key,
};
use serde_json::{Value, json};

/// A valid genesis with two members, two shards and three accounts, as a JSON value tests can
/// break one field at a time.
pub fn valid_json() -> Value {
    let key = |index, role| {
        format!(
            "0x{}",
            hex::encode(dev_member_public_key(
                index,
                role,
                CryptoSuite::Secp256k1Keccak
            ))
        )
    };
    let member = |index: u32, name: &str, fee: &str| {
        json!({
            "organisation": name,
            "admin_key": key(index, DevKeyRole::Admin),
            "consensus_key": key(index, DevKeyRole::Consensus),
            "vrf_key": key(index, DevKeyRole::Vrf),
            "peer_id": dev_member_peer_id(index),
            "fee_recipient": fee,
            "weight": 1
        })
    };
    json!({
        "chain_id_base": 7000,
        "shard_count": 2,
        "block_gas_limit": 30000000,
        "min_base_fee": "1000000000",
        "initial_base_fee": "0x3b9aca00",
        "block_time_ms": 1000,
        "epoch_length": 32,
        "timestamp": 1750000000,
        "crypto_suite": "secp256k1-keccak",
        "treasury": "0x1111111111111111111111111111111111111111",
        "fee_split": "equal",
        "members": [
            member(0, "Org A", "0x2222222222222222222222222222222222222222"),
            member(1, "Org B", "0x3333333333333333333333333333333333333333"),
        ],
        "alloc": [
            { "address": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "balance": "10000000000000000000000" },
            { "address": "0x70997970c51812dc3a010c7d01b50e0d17dc79c8", "balance": 5, "shards": [1] },
            {
                "address": "0x4444444444444444444444444444444444444444",
                "balance": "0x0",
                "nonce": 1,
                "code": "0x6000",
                "storage": { "0x0": "0x01" },
                "shards": [0]
            }
        ]
    })
}

pub fn parse(value: &Value) -> Result<GenesisSpec, GenesisError> {
    GenesisSpec::from_json_str(&value.to_string())
}

/// Sets the field at a JSON pointer (`/members/1/peer_id`) and parses.
pub fn parse_with(pointer: &str, new_value: Value) -> Result<GenesisSpec, GenesisError> {
    let mut value = valid_json();
    *value
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("test fixture has no field at {pointer}")) = new_value;
    parse(&value)
}

/// Asserts `result` is a field error about `field` whose message contains `needle`; returns the
/// message.
#[track_caller]
pub fn assert_field_error<T: std::fmt::Debug>(
    result: Result<T, GenesisError>,
    field: &str,
    needle: &str,
) -> String {
    let error = result.expect_err("expected a genesis field error");
    let message = error.to_string();
    assert_eq!(error.field_path(), Some(field), "wrong field in: {message}");
    assert!(
        message.starts_with(&format!("genesis field \"{field}\": ")),
        "message does not name the field {field}: {message}"
    );
    assert!(
        message.contains(needle),
        "message lacks {needle:?}: {message}"
    );
    message
}
